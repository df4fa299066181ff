"""Provider webhooks: ``POST /hooks/postmark``, ``/hooks/sendgrid``, ``/hooks/mailgun``,
``/hooks/brevo``.

A request is verified by its provider's own scheme (the provider's module in
``listonosz.transports``), and only then stored as it arrived in the store's webhook inbox and
answered 200. Its events are applied after the answer by one worker thread (a background task
wakes it; at start-up it applies what a stop left unprocessed), because a provider that waits
too long or gets a 5xx may retry or drop the event. Refused requests (401, 403, 404) store
nothing. Nothing here logs a body or an address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.background import BackgroundTask

from listonosz.config import Settings, WebhookSettings
from listonosz.store import Inbox, Received
from listonosz.tracking import Tracker, redact
from listonosz.transports import brevo, mailgun, postmark, sendgrid
from listonosz.transports.webhooks import Parsed, WebhookRefused

log = logging.getLogger("listonosz.web.hooks")

#: The largest webhook body taken (SendGrid batches, Brevo's batched mode).
WEBHOOK_MAX_BODY = 8 * 1024 * 1024
#: Stored bodies read per query while applying, and how much of them is applied at once
#: (one transaction: about 2,000 SendGrid events, or a few hundred single events).
DRAIN_ROWS = 200
DRAIN_BYTES = 1024 * 1024
#: How long the worker lets stored bodies gather once woken (seconds).
APPLY_DELAY = 0.1
#: Bodies stored per transaction at most (a group commit).
WRITE_BATCH = 500


class Provider(Protocol):
    """What a provider module offers for its webhook."""

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, settings: WebhookSettings, now: float
    ) -> str | None: ...

    def parse_webhook(self, body: str) -> Parsed: ...


PROVIDERS: dict[str, Provider] = {
    "postmark": postmark,
    "sendgrid": sendgrid,
    "mailgun": mailgun,
    "brevo": brevo,
}


class WriteLock:
    """One writer to the store at a time in this process (no SQLite busy-waiting), storing
    first: applying waits while any request's body waits to be stored, so a long batch of
    events never keeps a provider waiting for its answer longer than one transaction."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turn = threading.Condition()
        self._urgent = 0

    @contextlib.contextmanager
    def storing(self) -> Iterator[None]:
        with self._turn:
            self._urgent += 1
        self._lock.acquire()
        with self._turn:
            self._urgent -= 1
            self._turn.notify_all()
        try:
            yield
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def applying(self) -> Iterator[None]:
        with self._turn:
            while self._urgent:
                self._turn.wait()
        with self._lock:
            yield


class Processor:
    """Applies stored bodies, oldest first, in one worker thread per app: a request only
    wakes it (cheap: no thread of its own per request), and it applies every body stored
    meanwhile in a few large batches."""

    def __init__(self, inbox: Inbox, tracker: Tracker, lock: WriteLock) -> None:
        self.inbox = inbox
        self.tracker = tracker
        self.lock = lock
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None
        self.closing = False

    def start(self) -> None:
        """Start the worker; it first applies what an earlier run stored but did not."""
        self._wanted.set()
        self._thread = threading.Thread(target=self._work, name="listonosz-webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self.closing = True
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Ask the worker to apply what was stored (safe from any thread)."""
        self._wanted.set()

    def _work(self) -> None:
        while not self.closing:
            self._wanted.wait()
            time.sleep(APPLY_DELAY)  # let a burst gather: larger batches cost less per event
            self._wanted.clear()
            try:
                self.drain()
            except SQLAlchemyError as exc:  # the store is away: the rows stay new
                log.error("webhooks: applying paused, the store failed: %s", type(exc).__name__)
                time.sleep(1)
                self._wanted.set()
            except Exception:  # a bug must not stop the worker: the rows stay new
                log.exception("webhooks: applying failed; trying again at the next webhook")

    def drain(self) -> None:
        """Apply every ``new`` body, in batches of about ``DRAIN_BYTES`` of bodies."""
        while not self.closing:
            rows = self.inbox.pending(DRAIN_ROWS)
            if not rows:
                return
            group: list[Received] = []
            size = 0
            for row in rows:
                group.append(row)
                size += len(row.body)
                if size >= DRAIN_BYTES:
                    self.process(group)
                    group, size = [], 0
            if group:
                self.process(group)

    def process(self, rows: list[Received]) -> None:
        """Read these bodies, then apply and mark them holding the write lock."""
        parsed: list[tuple[Received, Parsed]] = []
        missing: list[tuple[int, bool, str]] = []
        for row in rows:
            provider = PROVIDERS.get(row.source)
            if provider is None:
                missing.append((row.id, False, f"no webhook reader for {row.source!r}"))
            else:
                parsed.append((row, provider.parse_webhook(row.body)))
        with self.lock.applying():
            self._apply(parsed, missing)

    def _apply(
        self, parsed: list[tuple[Received, Parsed]], results: list[tuple[int, bool, str]]
    ) -> None:
        """Apply what the bodies held (one batch for them all) and mark each row: ``done``
        (emptied) or, when any of its events could not be read, ``failed`` (the body kept for
        another try, the reasons in its detail)."""
        try:
            applied = self.tracker.apply(e for _, p in parsed for e in p.events)
        except SQLAlchemyError:
            raise
        except Exception as exc:  # a reader's or the tracker's bug: find the body, keep it
            if len(parsed) > 1:  # one at a time, to find the body at fault
                for item in parsed:
                    self._apply([item], [])
                self.inbox.finish_many(results)
                return
            log.exception("webhooks: %s body could not be applied", parsed[0][0].source)
            why = redact(f"{type(exc).__name__}: {exc}")[:500]
            self.inbox.finish_many([*results, *((row.id, False, why) for row, _ in parsed)])
            return
        for alert in dict.fromkeys(applied.alerts):
            log.warning("webhooks: %s", alert)
        for row, one in parsed:
            if one.problems:
                log.warning("webhooks: %s body %d: %s", row.source, row.id, one.summary())
            results.append((row.id, not one.problems, one.summary()[:2000]))
        self.inbox.finish_many(results)


class Writer:
    """Stores bodies for many requests at once (a group commit): a request waits for the
    transaction that holds its body, so it is still answered only once its body is stored,
    and a burst of single-event webhooks costs one transaction per burst, not per request."""

    def __init__(self, inbox: Inbox, lock: WriteLock) -> None:
        self.inbox = inbox
        self.lock = lock
        self._queue: list[tuple[str, str, str | None, asyncio.Future[int | None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self.closing = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._work, name="listonosz-inbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        with self._ready:
            self.closing = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    async def store(self, source: str, body: str, nonce: str | None) -> int | None:
        """The stored body's id (None: its nonce was used before), once committed."""
        self._loop = asyncio.get_running_loop()
        future: asyncio.Future[int | None] = self._loop.create_future()
        with self._ready:
            if self.closing:
                raise RuntimeError("the app is stopping")
            self._queue.append((source, body, nonce, future))
            self._ready.notify()
        return await future

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self.closing:
                    self._ready.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue[:WRITE_BATCH], self._queue[WRITE_BATCH:]
            try:
                with self.lock.storing():
                    ids = self.inbox.put_many([(s, b, n) for s, b, n, _ in batch])
            except Exception as exc:  # every waiting request answers 503
                self._settle(batch, error=exc)
            else:
                self._settle(batch, ids)

    def _settle(
        self,
        batch: list[tuple[str, str, str | None, asyncio.Future[int | None]]],
        ids: list[int | None] | None = None,
        error: Exception | None = None,
    ) -> None:
        loop = self._loop
        assert loop is not None
        for number, (*_, future) in enumerate(batch):
            if error is not None:
                loop.call_soon_threadsafe(_fail, future, error)
            else:
                assert ids is not None
                loop.call_soon_threadsafe(_succeed, future, ids[number])


def _succeed(future: asyncio.Future[int | None], value: int | None) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[int | None], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


@dataclass
class Webhooks:
    """The webhook routes of one app, and the store handles they use while it runs."""

    settings: Settings
    inbox: Inbox | None = None
    processor: Processor | None = None
    writer: Writer | None = None

    def open(self) -> None:
        """Open the store and apply, in a thread, what an earlier run stored but did not."""
        url = self.settings.resolved_ledger_url
        self.inbox = Inbox(url)
        tracker = Tracker(url, self.settings.signing_secret())
        lock = WriteLock()
        self.writer = Writer(self.inbox, lock)
        self.writer.start()
        self.processor = Processor(self.inbox, tracker, lock)
        self.processor.start()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.stop()
        if self.processor is not None:
            self.processor.stop()
            self.processor.tracker.close()
        if self.inbox is not None:
            self.inbox.close()

    def router(self) -> APIRouter:
        """The route: a plain Starlette one (no FastAPI parameter handling: a provider may post
        a thousand single events a second)."""
        router = APIRouter()
        router.add_route("/hooks/{provider}", self.receive, methods=["POST"])
        return router

    async def receive(self, request: Request) -> JSONResponse:
        """Verify, store, answer; apply after the answer."""
        provider = request.path_params["provider"]
        reader = PROVIDERS.get(provider)
        if reader is None:
            return _answer(404, "no such webhook")
        body = await request.body()
        try:
            nonce = reader.verify_webhook(
                request.headers, body, self.settings.webhooks, time.time()
            )
        except WebhookRefused as refused:
            log.warning("webhooks: %s refused (%d): %s", provider, refused.status, refused.reason)
            return _answer(refused.status, refused.reason)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _answer(400, "the body is not UTF-8")
        assert self.writer is not None
        try:
            stored = await self.writer.store(provider, text, nonce)
        except (SQLAlchemyError, RuntimeError) as exc:
            log.error("webhooks: %s body not stored: %s", provider, type(exc).__name__)
            return _answer(503, "the store is unavailable; try again later")
        if stored is None:
            log.warning("webhooks: %s refused (403): a token used before", provider)
            return _answer(403, "this token was used before")
        # the worker is woken after the answer (async: no thread for it)
        return JSONResponse({"status": "stored"}, background=BackgroundTask(self._wake))

    async def _wake(self) -> None:
        assert self.processor is not None
        self.processor.wake()


def _answer(status: int, reason: str) -> JSONResponse:
    headers = {"www-authenticate": 'Basic realm="listonosz webhooks"'} if status == 401 else None
    return JSONResponse({"error": reason}, status_code=status, headers=headers)
