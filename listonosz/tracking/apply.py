"""Applying normalised events to the store: matched to their delivery, recorded once, the
delivery's outcome raised by precedence, and the suppression policy enforced.

The policy: a hard bounce (or a permanent rejection) and a complaint suppress the address at
once, for everything (a rejection or failure classed ``soft``, the provider's own trouble,
does not); an unsubscribe suppresses as the person chose; ``soft_limit`` soft or
expired bounces within ``soft_window`` suppress (a delivery in between starts the count
again); a policy block (5.7.x: the sender's reputation or authentication, not the address)
raises an alert and suppresses nobody.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from listonosz.contacts.normalise import normalise_email
from listonosz.store import Delivery, EventLog, Ledger, StoredEvent, SuppressionList
from listonosz.tracking.events import OUTCOME_RANK, TrackedEvent


@dataclass(frozen=True, slots=True)
class Policy:
    """When soft bounces add up to a suppression."""

    soft_limit: int = 3
    soft_window: dt.timedelta = dt.timedelta(days=30)


@dataclass
class Applied:
    """What a batch of events did (counts, and alerts for staff)."""

    recorded: int = 0
    duplicates: int = 0
    unmatched: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)
    alerts: list[str] = field(default_factory=list)

    def __iadd__(self, other: Applied) -> Applied:
        self.recorded += other.recorded
        self.duplicates += other.duplicates
        self.unmatched += other.unmatched
        self.suppressed.update(other.suppressed)
        self.alerts.extend(other.alerts)
        return self


class Tracker:
    """Applies events from any source to one store."""

    def __init__(self, url: str, secret: bytes, policy: Policy | None = None) -> None:
        self.policy = policy or Policy()
        self.ledger = Ledger(url)
        self.log = EventLog(url)
        self.suppressions = SuppressionList(url, secret)

    def close(self) -> None:
        for handle in (self.ledger, self.log, self.suppressions):
            handle.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def apply(self, events: Iterable[TrackedEvent]) -> Applied:
        """Match, record (once per source id) and apply a batch of events.

        Matching is two bulk lookups (delivery keys, then Message-IDs) before the write; the
        write is one transaction for the whole batch: the events in multi-row inserts that
        skip repeats, the outcomes in one executemany, then the suppressions."""
        batch = list(events)
        applied = Applied()
        if not batch:
            return applied
        matched = self._match_all(batch)
        stored = [
            StoredEvent(
                source=event.source,
                source_event_id=event.source_event_id,
                type=event.type,
                occurred_at=event.occurred_at,
                delivery_key=delivery.key if delivery else None,
                campaign=delivery.campaign if delivery else None,
                bounce_class=event.bounce_class,
                detail=dict(event.detail),
            )
            for event, delivery in zip(batch, matched, strict=True)
        ]
        with self.ledger.engine.begin() as conn:
            # the first statement writes: SQLite takes its write lock (waiting for it) at once
            recorded = self.log.record_many(conn, stored)
            outcomes: dict[str, tuple[int, str, dt.datetime]] = {}
            soft: dict[str, TrackedEvent] = {}
            for event, delivery, new in zip(batch, matched, recorded, strict=True):
                if not new:
                    applied.duplicates += 1
                    continue
                applied.recorded += 1
                if delivery is None:
                    applied.unmatched += 1
                elif event.type in OUTCOME_RANK:
                    rank = OUTCOME_RANK[event.type]
                    held = outcomes.get(delivery.key)
                    if held is None or rank > held[0]:
                        outcomes[delivery.key] = (rank, event.type, event.occurred_at)
                address = delivery.email if delivery else _normalised(event.recipient)
                if address:
                    self._enforce(conn, event, address, delivery, applied, soft)
                elif event.bounce_class == "block":
                    applied.alerts.append(_block_alert(event))
            self.ledger.raise_outcomes(
                conn, ((k, o, at) for k, (_, o, at) in outcomes.items()), OUTCOME_RANK
            )
            for email, event in soft.items():  # counted once per address, this batch included
                self._count_soft(conn, event, email, applied)
        return applied

    def _match_all(self, batch: list[TrackedEvent]) -> list[Delivery | None]:
        """Each event's delivery: by its delivery key, else by its Message-ID."""
        by_key = self.ledger.deliveries(e.delivery_key for e in batch if e.delivery_key)
        missing = [
            e.message_id
            for e in batch
            if e.message_id and not (e.delivery_key and e.delivery_key in by_key)
        ]
        by_id = self.ledger.by_message_ids(missing) if missing else {}
        return [
            (by_key.get(e.delivery_key) if e.delivery_key else None)
            or (by_id.get(e.message_id) if e.message_id else None)
            for e in batch
        ]

    def _enforce(
        self,
        conn: Connection,
        event: TrackedEvent,
        email: str,
        delivery: Delivery | None,
        applied: Applied,
        soft: dict[str, TrackedEvent],
    ) -> None:
        where = f"{event.source} {event.type}"
        if delivery is not None:
            where += f" ({delivery.campaign}/{delivery.kind})"
        add = self.suppressions.add
        if event.type == "complained":
            add(email, "complaint", where, source=event.source, conn=conn)
            applied.suppressed["complaint"] += 1
        elif event.type == "unsubscribed":
            scope = str(event.detail.get("scope", "all"))
            scope = scope if scope in ("all", "newsletter") else "all"
            add(email, "unsubscribed", where, scope=scope, source=event.source, conn=conn)
            applied.suppressed["unsubscribed"] += 1
        elif event.bounce_class == "block":
            applied.alerts.append(_block_alert(event))
        elif (event.type in ("rejected", "failed") and event.bounce_class in (None, "hard")) or (
            event.type == "bounced" and event.bounce_class == "hard"
        ):
            add(email, "hard_bounce", where, source=event.source, conn=conn)
            applied.suppressed["hard_bounce"] += 1
        elif event.type == "bounced" and event.bounce_class in ("soft", "expired"):
            held = soft.get(email)
            if held is None or event.occurred_at > held.occurred_at:
                soft[email] = event

    def _count_soft(
        self, conn: Connection, event: TrackedEvent, email: str, applied: Applied
    ) -> None:
        """Suppress ``email`` once its soft bounces within the window reach the limit."""
        since = event.occurred_at - self.policy.soft_window
        count = self.log.count_for_address(
            email, "bounced", ("soft", "expired"), since, reset_by="delivered", conn=conn
        )
        if count >= self.policy.soft_limit:
            detail = f"{count} soft bounces within {self.policy.soft_window.days} days"
            self.suppressions.add(email, "soft_bounces", detail, source=event.source, conn=conn)
            applied.suppressed["soft_bounces"] += 1


def _block_alert(event: TrackedEvent) -> str:
    status = event.detail.get("status", "")
    return (
        f"{event.source}: a policy block ({status or '5.7.x'}): the receiving server refused "
        "the sender (reputation, SPF, DKIM or DMARC), not the address; nobody was suppressed"
    )


def _normalised(recipient: str | None) -> str | None:
    """The address of an unmatched event, normalised as the lists are; None if unusable."""
    if not recipient:
        return None
    try:
        return normalise_email(recipient)
    except ValueError:
        return None
