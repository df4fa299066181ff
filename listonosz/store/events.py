"""The event log: what happened to a message after hand-off, or what its recipient did.

One row per event from one source; the source's own id makes a repeat (a webhook retried, a
button pressed twice, a mailbox read again) a no-op. Events no delivery matches are kept with
``delivery_key`` NULL: never lost. ``detail`` holds JSON without addresses.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from listonosz.store.engine import StoreHandle
from listonosz.store.schema import deliveries, events


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as the store keeps it (``type`` is one of tracking's normalised types)."""

    source: str
    source_event_id: str
    type: str
    occurred_at: dt.datetime
    delivery_key: str | None = None
    campaign: str | None = None
    bounce_class: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    received_at: dt.datetime | None = None


class EventLog(StoreHandle):
    """Record events (each at most once per source id) and read them back."""

    def record(self, event: StoredEvent) -> bool:
        """Store ``event``; False when this source already sent an event with its id."""
        try:
            with self.engine.begin() as conn:
                conn.execute(events.insert().values(**_row(event, dt.datetime.now(dt.UTC))))
        except IntegrityError:
            return False
        return True

    def record_many(self, conn: Connection, batch: Sequence[StoredEvent]) -> list[bool]:
        """Store a batch in the caller's transaction, each event at most once per source id
        (a repeat within the batch or of a stored event is skipped); for each event, whether
        it was stored. A few multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING``."""
        now = dt.datetime.now(dt.UTC)
        first: dict[tuple[str, str], int] = {}
        for index, event in enumerate(batch):
            first.setdefault((event.source, event.source_event_id), index)
        rows = [_row(batch[i], now) for i in first.values()]
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(events)
            .on_conflict_do_nothing(index_elements=["source", "source_event_id"])
            .returning(events.c.source, events.c.source_event_id)
        )
        # one compiled statement; SQLAlchemy sends the rows as multi-row VALUES batches
        stored = {(source, id_) for source, id_ in conn.execute(statement, rows)} if rows else set()
        return [
            first[(e.source, e.source_event_id)] == i and (e.source, e.source_event_id) in stored
            for i, e in enumerate(batch)
        ]

    def for_deliveries(self, keys: Iterable[str]) -> list[StoredEvent]:
        """Every event about these deliveries, oldest first."""
        wanted = list(keys)
        if not wanted:
            return []
        query = (
            select(events)
            .where(events.c.delivery_key.in_(wanted))
            .order_by(events.c.occurred_at, events.c.id)
        )
        with self.engine.connect() as conn:
            return [_event(row) for row in conn.execute(query)]

    def of_type(self, type_: str, campaign: str | None = None) -> list[StoredEvent]:
        """Every event of one type (in one campaign), oldest first."""
        query = select(events).where(events.c.type == type_)
        if campaign is not None:
            query = query.where(events.c.campaign == campaign)
        with self.engine.connect() as conn:
            return [_event(row) for row in conn.execute(query.order_by(events.c.id))]

    def count_for_address(
        self,
        email: str,
        type_: str,
        classes: Iterable[str],
        since: dt.datetime,
        reset_by: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Events of one type (and bounce classes) about deliveries to ``email`` since
        ``since``, counting only those after the newest ``reset_by`` event (a delivery resets
        a run of soft bounces). In ``conn``'s transaction when given."""
        if conn is None:
            with self.engine.connect() as own:
                return self.count_for_address(email, type_, classes, since, reset_by, own)
        about = deliveries.c.email == email
        joined = events.join(deliveries, deliveries.c.key == events.c.delivery_key)
        if reset_by is not None:
            newest = conn.scalar(
                select(func.max(events.c.occurred_at))
                .select_from(joined)
                .where(about, events.c.type == reset_by)
            )
            if newest is not None and _aware(newest) > since:
                since = _aware(newest)
        query = (
            select(func.count())
            .select_from(joined)
            .where(
                about,
                events.c.type == type_,
                events.c.bounce_class.in_(list(classes)),
                events.c.occurred_at > since,
            )
        )
        return int(conn.scalar(query) or 0)

    def forget_deliveries(self, keys: Iterable[str]) -> int:
        """Delete the events of these deliveries (erasure); returns how many."""
        wanted = list(keys)
        if not wanted:
            return 0
        with self.engine.begin() as conn:
            return conn.execute(delete(events).where(events.c.delivery_key.in_(wanted))).rowcount


def _row(event: StoredEvent, now: dt.datetime) -> dict[str, Any]:
    return {
        "source": event.source,
        "source_event_id": event.source_event_id,
        "delivery_key": event.delivery_key,
        "campaign": event.campaign,
        "type": event.type,
        "bounce_class": event.bounce_class,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at or now,
        "detail": json.dumps(dict(event.detail), ensure_ascii=False, sort_keys=True),
    }


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes: they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _event(row: Any) -> StoredEvent:
    return StoredEvent(
        source=row.source,
        source_event_id=row.source_event_id,
        type=row.type,
        occurred_at=row.occurred_at,
        delivery_key=row.delivery_key,
        campaign=row.campaign,
        bounce_class=row.bounce_class,
        detail=json.loads(row.detail),
        received_at=row.received_at,
    )
