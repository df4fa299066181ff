"""The web app's group commit: requests that arrive together share one run of the batch
function, each gets its own result, and one that fails does not take the others with it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from listonosz.web.batching import Batcher


class Recorder:
    """A batch function that doubles numbers, remembers each batch, and fails on 13."""

    def __init__(self, pause: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.pause = pause
        self.threads: set[int] = set()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        self.threads.add(threading.get_ident())
        if self.pause:
            threading.Event().wait(self.pause)
        if 13 in items:
            raise ValueError("13 is unlucky")
        return [2 * n for n in items]


def test_requests_that_arrive_together_share_one_batch_and_keep_their_order() -> None:
    run = Recorder()

    async def main() -> list[int]:
        batcher = Batcher(run)
        return await asyncio.gather(*(batcher.submit(n) for n in range(10)))

    assert asyncio.run(main()) == [2 * n for n in range(10)]
    assert run.batches == [list(range(10))]
    assert threading.get_ident() not in run.threads  # in a worker thread, not the loop


def test_the_next_batch_gathers_while_one_runs_and_the_limit_holds() -> None:
    run = Recorder(pause=0.05)

    async def main() -> list[int]:
        batcher = Batcher(run, limit=4)
        first = asyncio.ensure_future(batcher.submit(100))
        await asyncio.sleep(0.01)  # the first batch is running now
        rest = [batcher.submit(n) for n in range(6)]
        return [await first, *await asyncio.gather(*rest)]

    assert asyncio.run(main()) == [200, *(2 * n for n in range(6))]
    assert run.batches == [[100], [0, 1, 2, 3], [4, 5]]


def test_a_failing_item_fails_alone() -> None:
    run = Recorder()

    async def main() -> list[int | BaseException]:
        batcher = Batcher(run)
        return await asyncio.gather(
            *(batcher.submit(n) for n in (1, 13, 2)), return_exceptions=True
        )

    first, failed, last = asyncio.run(main())
    assert (first, last) == (2, 4)
    assert isinstance(failed, ValueError) and str(failed) == "13 is unlucky"
    assert run.batches == [[1, 13, 2], [1], [13], [2]]


def test_a_caller_that_goes_away_leaves_the_others_their_results() -> None:
    run = Recorder(pause=0.05)

    async def main() -> tuple[int, int]:
        batcher = Batcher(run)
        gone = asyncio.ensure_future(batcher.submit(1))
        staying = asyncio.ensure_future(batcher.submit(2))
        await asyncio.sleep(0.01)
        gone.cancel()
        later = await batcher.submit(3)  # and the batcher goes on
        return await staying, later

    assert asyncio.run(main()) == (4, 6)
    assert run.batches == [[1, 2], [3]]


def test_a_batch_function_that_breaks_its_contract_fails_its_callers() -> None:
    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(lambda items: [])  # no results at all
        await batcher.submit(1)

    with pytest.raises(ValueError):
        asyncio.run(main())
