"""Group commit for the web app's writes: requests that arrive together share one run of a
batch function (a few statements and one commit for all of them), and each answers only
once its own result is in the store.

One batch runs at a time, in a worker thread, while the next one gathers; so a burst of
one-click unsubscribes costs a few transactions instead of one each, and nothing is
answered before it is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    """Runs ``run`` (items → their results, in order) over the items submitted together.

    When a batch fails, its items run again one by one, so one that cannot be done fails
    alone (its caller gets the exception) and the others still get their results.
    """

    def __init__(self, run: Callable[[Sequence[Item]], list[Result]], limit: int = 200) -> None:
        self._run = run
        self._limit = limit
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """``item``'s result, once the batch it joined is done."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._limit]
                del self._waiting[: self._limit]
                try:
                    await self._settle(batch)
                except Exception as exc:  # a batch function that broke its contract
                    for _, future in batch:
                        _fail(future, exc)
                except BaseException as exc:  # cancelled (shutting down): nobody waits forever
                    for _, future in batch:
                        _fail(future, exc)
                    raise
        finally:
            self._draining = None

    async def _settle(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await run_in_threadpool(self._run, [item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch[0][1], exc)
                return
            for one in batch:
                await self._settle([one])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # its caller may have gone
                future.set_result(result)


def _fail(future: asyncio.Future[Result], exc: BaseException) -> None:
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(exc)
