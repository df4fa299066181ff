"""The webhook inbox and single-use nonces.

A webhook body is stored as it arrived before the provider gets its answer, and processed
after (``new`` → ``done`` or ``failed``): a crash, a restart or a parser's bug loses no event,
and a failed body can be processed again. A processed body is emptied (it names recipients);
its events are in the event log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from listonosz.store.engine import StoreHandle
from listonosz.store.schema import inbox, nonces

NEW, DONE, FAILED = "new", "done", "failed"


@dataclass(frozen=True, slots=True)
class Received:
    """One stored webhook body."""

    id: int
    source: str
    body: str
    received_at: dt.datetime


class Inbox(StoreHandle):
    """Store webhook bodies first, process them after."""

    def put(self, source: str, body: str) -> int:
        """Keep ``body`` (as ``new``); its id."""
        with self.engine.begin() as conn:
            result = conn.execute(
                inbox.insert().values(
                    source=source,
                    received_at=dt.datetime.now(dt.UTC),
                    body=body,
                    status=NEW,
                    detail="",
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def pending(self, limit: int = 1000) -> list[Received]:
        """Bodies not processed yet (a crash between storing and processing), oldest first."""
        query = (
            select(inbox.c.id, inbox.c.source, inbox.c.body, inbox.c.received_at)
            .where(inbox.c.status == NEW)
            .order_by(inbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [Received(*row) for row in conn.execute(query)]

    def finish(self, id_: int, ok: bool, detail: str = "") -> None:
        """Mark a body processed: ``done`` (emptied) or ``failed`` (kept, with the reason)."""
        values = {"status": DONE, "body": ""} if ok else {"status": FAILED}
        with self.engine.begin() as conn:
            conn.execute(update(inbox).where(inbox.c.id == id_).values(detail=detail, **values))

    def counts(self) -> dict[str, int]:
        """How many bodies are in each status."""
        query = select(inbox.c.status, inbox.c.id)
        counted: dict[str, int] = {}
        with self.engine.connect() as conn:
            for status, _ in conn.execute(query):
                counted[status] = counted.get(status, 0) + 1
        return counted

    def forget_mentions(self, email: str) -> int:
        """Delete the bodies that mention an address (erasure); returns how many."""
        with self.engine.begin() as conn:
            return conn.execute(delete(inbox).where(inbox.c.body.contains(email))).rowcount

    def first_use(self, source: str, value: str) -> bool:
        """Record a single-use value; False when ``source`` already sent it."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    nonces.insert().values(
                        source=source, value=value, seen_at=dt.datetime.now(dt.UTC)
                    )
                )
        except IntegrityError:
            return False
        return True
