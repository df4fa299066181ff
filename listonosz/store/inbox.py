"""The webhook inbox and single-use nonces.

A webhook body is stored as it arrived before the provider gets its answer, and processed
after (``new`` → ``done`` or ``failed``): a crash, a restart or a parser's bug loses no event,
and a failed body can be processed again. A processed body is emptied (it names recipients);
its events are in the event log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
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
            return _put(conn, source, body)

    def put_many(self, items: Sequence[tuple[str, str, str | None]]) -> list[int | None]:
        """Keep many ``(source, body, nonce or None)`` in one transaction (a group commit);
        for each, its id, or None when its nonce was used before (in this batch too). Two
        compiled statements, each executed for every row."""
        if not items:
            return []
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        now = dt.datetime.now(dt.UTC)
        claims = [{"source": s, "value": n, "seen_at": now} for s, _, n in items if n is not None]
        with self.engine.begin() as conn:
            fresh: set[tuple[str, str]] = set()
            if claims:
                claim = (
                    dialect.insert(nonces)
                    .on_conflict_do_nothing(index_elements=["source", "value"])
                    .returning(nonces.c.source, nonces.c.value)
                )
                fresh = {(s, v) for s, v in conn.execute(claim, claims)}
            kept = []
            for index, (source, _, nonce) in enumerate(items):
                if nonce is None:
                    kept.append(index)
                elif (source, nonce) in fresh:
                    fresh.discard((source, nonce))  # a second use within the batch: refused
                    kept.append(index)
            rows = [
                {"source": items[i][0], "received_at": now, "body": items[i][1],
                 "status": NEW, "detail": ""}
                for i in kept
            ]  # fmt: skip
            ids: list[int | None] = [None] * len(items)
            if rows:
                insert = inbox.insert().returning(inbox.c.id, sort_by_parameter_order=True)
                for index, (id_,) in zip(kept, conn.execute(insert, rows), strict=True):
                    ids[index] = int(id_)
        return ids

    def put_once(self, source: str, body: str, nonce: str) -> int | None:
        """Keep ``body`` that came with a single-use ``nonce``; None (nothing kept) when
        ``source`` already sent that value. One transaction for both, so a value is used up
        only by a body that was kept."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    nonces.insert().values(
                        source=source, value=nonce, seen_at=dt.datetime.now(dt.UTC)
                    )
                )
                return _put(conn, source, body)
        except IntegrityError:
            return None

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

    def finish_many(self, results: Iterable[tuple[int, bool, str]]) -> None:
        """:meth:`finish` for many ``(id, ok, detail)`` in one transaction."""
        given = list(results)
        done = [{"row": i, "why": d} for i, ok, d in given if ok]
        failed = [{"row": i, "why": d} for i, ok, d in given if not ok]
        row = inbox.c.id == bindparam("row")
        with self.engine.begin() as conn:
            if done:
                values = {"status": DONE, "body": "", "detail": bindparam("why")}
                conn.execute(update(inbox).where(row).values(**values), done)
            if failed:
                values = {"status": FAILED, "detail": bindparam("why")}
                conn.execute(update(inbox).where(row).values(**values), failed)

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


def _put(conn: Connection, source: str, body: str) -> int:
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
