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
from sqlalchemy.exc import IntegrityError

from listonosz.store.engine import StoreHandle, insert_or_skip
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
                conn.execute(events.insert(), _row(event))
        except IntegrityError:
            return False
        return True

    def record_many(self, batch: Sequence[StoredEvent], conn: Connection | None = None) -> None:
        """Store these events at once, each at most once per source id (one stored before, or
        twice here, is skipped), in ``conn``'s transaction (from :meth:`transaction`) or in
        one of their own."""
        if not batch:
            return
        statement = insert_or_skip(self.engine, events)
        rows = [_row(event) for event in batch]
        if conn is not None:
            conn.execute(statement, rows)
            return
        with self.engine.begin() as own:
            own.execute(statement, rows)

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
    ) -> int:
        """Events of one type (and bounce classes) about deliveries to ``email`` since
        ``since``, counting only those after the newest ``reset_by`` event (a delivery resets
        a run of soft bounces)."""
        about = deliveries.c.email == email
        joined = events.join(deliveries, deliveries.c.key == events.c.delivery_key)
        with self.engine.connect() as conn:
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


def _row(event: StoredEvent) -> dict[str, Any]:
    return {
        "source": event.source,
        "source_event_id": event.source_event_id,
        "delivery_key": event.delivery_key,
        "campaign": event.campaign,
        "type": event.type,
        "bounce_class": event.bounce_class,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at or dt.datetime.now(dt.UTC),
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
