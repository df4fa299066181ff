"""Provider webhooks: ``POST /hooks/postmark``, ``/hooks/sendgrid``, ``/hooks/mailgun``,
``/hooks/brevo``.

A request is verified by its provider's own scheme (the provider's module in
``listonosz.transports``), and only then stored as it arrived in the store's webhook inbox and
answered 200; its events are applied after the answer (a background task, and at start-up for
bodies a stop left unprocessed), because a provider that waits too long or gets a 5xx may
retry or drop the event. Refused requests (401, 403, 404) store nothing. Nothing here logs a
body or an address.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from listonosz.config import Settings, WebhookSettings
from listonosz.store import Inbox, Received
from listonosz.tracking import Tracker, redact
from listonosz.transports import brevo, mailgun, postmark, sendgrid
from listonosz.transports.webhooks import Parsed, WebhookRefused

log = logging.getLogger("listonosz.web.hooks")

#: The largest webhook body taken (SendGrid batches, Brevo's batched mode).
WEBHOOK_MAX_BODY = 8 * 1024 * 1024
#: Stored bodies read per query while applying (each may be a batch of a thousand events).
DRAIN_ROWS = 20


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


class Processor:
    """Applies stored bodies, oldest first, one thread at a time per process: a call while
    another thread drains only asks it to go round once more."""

    def __init__(self, inbox: Inbox, tracker: Tracker) -> None:
        self.inbox = inbox
        self.tracker = tracker
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self.closing = False

    def drain(self) -> None:
        """Apply every ``new`` body (those stored meanwhile too)."""
        self._wanted.set()
        while self._wanted.is_set() and not self.closing:
            if not self._lock.acquire(blocking=False):
                return  # the thread draining sees the request when it finishes its round
            try:
                while self._wanted.is_set() and not self.closing:
                    self._wanted.clear()
                    self._round()
            except SQLAlchemyError as exc:  # the store is away: the rows stay new
                log.error("webhooks: applying stopped, the store failed: %s", type(exc).__name__)
                return
            finally:
                self._lock.release()

    def _round(self) -> None:
        while not self.closing:
            rows = self.inbox.pending(DRAIN_ROWS)
            if not rows:
                return
            for row in rows:
                if self.closing:
                    return
                self.process(row)

    def process(self, row: Received) -> None:
        """Read one body, apply what could be read, and mark the row: ``done`` (emptied) or,
        when any event could not be read, ``failed`` (the body kept for another try)."""
        provider = PROVIDERS.get(row.source)
        if provider is None:
            self.inbox.finish(row.id, False, f"no webhook reader for {row.source!r}")
            return
        parsed = provider.parse_webhook(row.body)
        try:
            applied = self.tracker.apply(parsed.events)
        except SQLAlchemyError:
            raise
        except Exception as exc:  # a reader's or the tracker's bug: keep the body, say why
            log.exception("webhooks: %s body %d could not be applied", row.source, row.id)
            self.inbox.finish(row.id, False, redact(f"{type(exc).__name__}: {exc}")[:500])
            return
        for alert in applied.alerts:
            log.warning("webhooks: %s", alert)
        detail = (
            f"{parsed.summary()}; recorded {applied.recorded}, repeats {applied.duplicates}, "
            f"unmatched {applied.unmatched}"
        )
        if parsed.problems:
            log.warning("webhooks: %s body %d: %s", row.source, row.id, parsed.summary())
        self.inbox.finish(row.id, not parsed.problems, detail[:2000])


@dataclass
class Webhooks:
    """The webhook routes of one app, and the store handles they use while it runs."""

    settings: Settings
    inbox: Inbox | None = None
    processor: Processor | None = None
    _startup: threading.Thread | None = None

    def open(self) -> None:
        """Open the store and apply, in a thread, what an earlier run stored but did not."""
        url = self.settings.resolved_ledger_url
        self.inbox = Inbox(url)
        tracker = Tracker(url, self.settings.signing_secret())
        self.processor = Processor(self.inbox, tracker)
        self._startup = threading.Thread(
            target=self.processor.drain, name="listonosz-webhooks", daemon=True
        )
        self._startup.start()

    def close(self) -> None:
        if self.processor is not None:
            self.processor.closing = True
            if self._startup is not None:
                self._startup.join(timeout=10)
            self.processor.tracker.close()
        if self.inbox is not None:
            self.inbox.close()

    def router(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route(
            "/hooks/{provider}",
            self.receive,
            methods=["POST"],
            summary="A mail provider's delivery events (Postmark, SendGrid, Mailgun, Brevo)",
        )
        return router

    async def receive(
        self, provider: str, request: Request, tasks: BackgroundTasks
    ) -> JSONResponse:
        """Verify, store, answer; apply after the answer."""
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
        store = self._store(provider, text, nonce)
        try:
            stored = await run_in_threadpool(store)
        except SQLAlchemyError as exc:
            log.error("webhooks: %s body not stored: %s", provider, type(exc).__name__)
            return _answer(503, "the store is unavailable; try again later")
        if stored is None:
            log.warning("webhooks: %s refused (403): a token used before", provider)
            return _answer(403, "this token was used before")
        assert self.processor is not None
        tasks.add_task(self.processor.drain)
        return JSONResponse({"status": "stored"})

    def _store(self, provider: str, text: str, nonce: str | None) -> Callable[[], int | None]:
        inbox = self.inbox
        assert inbox is not None

        def store() -> int | None:
            if nonce is None:
                return inbox.put(provider, text)
            return inbox.put_once(provider, text, nonce)

        return store


def _answer(status: int, reason: str) -> JSONResponse:
    headers = {"www-authenticate": 'Basic realm="listonosz webhooks"'} if status == 401 else None
    return JSONResponse({"error": reason}, status_code=status, headers=headers)
