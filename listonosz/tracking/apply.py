"""Applying normalised events to the store: matched to their delivery, recorded once, the
delivery's outcome raised by precedence, and the suppression policy enforced.

The policy: a hard bounce (or a permanent rejection) and a complaint suppress the address at
once, for everything; an unsubscribe suppresses as the person chose; ``soft_limit`` soft or
expired bounces within ``soft_window`` suppress (a delivery in between starts the count
again); a policy block (5.7.x: the sender's reputation or authentication, not the address)
raises an alert and suppresses nobody.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

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
        """Match, record (once per source id) and apply each event."""
        applied = Applied()
        for event in events:
            delivery = self._match(event)
            stored = StoredEvent(
                source=event.source,
                source_event_id=event.source_event_id,
                type=event.type,
                occurred_at=event.occurred_at,
                delivery_key=delivery.key if delivery else None,
                campaign=delivery.campaign if delivery else None,
                bounce_class=event.bounce_class,
                detail=dict(event.detail),
            )
            if not self.log.record(stored):
                applied.duplicates += 1
                continue
            applied.recorded += 1
            if delivery is None:
                applied.unmatched += 1
            elif event.type in OUTCOME_RANK:
                self.ledger.raise_outcome(delivery.key, event.type, event.occurred_at, OUTCOME_RANK)
            address = delivery.email if delivery else _normalised(event.recipient)
            if address:
                self._enforce(event, address, delivery, applied)
            elif event.bounce_class == "block":
                applied.alerts.append(_block_alert(event))
        return applied

    def _match(self, event: TrackedEvent) -> Delivery | None:
        if event.delivery_key:
            found = self.ledger.delivery(event.delivery_key)
            if found is not None:
                return found
        if event.message_id:
            return self.ledger.by_message_id(event.message_id)
        return None

    def _enforce(
        self, event: TrackedEvent, email: str, delivery: Delivery | None, applied: Applied
    ) -> None:
        where = f"{event.source} {event.type}"
        if delivery is not None:
            where += f" ({delivery.campaign}/{delivery.kind})"
        if event.type == "complained":
            self.suppressions.add(email, "complaint", where, source=event.source)
            applied.suppressed["complaint"] += 1
        elif event.type == "unsubscribed":
            scope = str(event.detail.get("scope", "all"))
            scope = scope if scope in ("all", "newsletter") else "all"
            self.suppressions.add(email, "unsubscribed", where, scope=scope, source=event.source)
            applied.suppressed["unsubscribed"] += 1
        elif event.bounce_class == "block":
            applied.alerts.append(_block_alert(event))
        elif event.type in ("rejected", "failed") or (
            event.type == "bounced" and event.bounce_class == "hard"
        ):
            self.suppressions.add(email, "hard_bounce", where, source=event.source)
            applied.suppressed["hard_bounce"] += 1
        elif event.type == "bounced" and event.bounce_class in ("soft", "expired"):
            since = event.occurred_at - self.policy.soft_window
            count = self.log.count_for_address(
                email, "bounced", ("soft", "expired"), since, reset_by="delivered"
            )
            if count >= self.policy.soft_limit:
                detail = f"{count} soft bounces within {self.policy.soft_window.days} days"
                self.suppressions.add(email, "soft_bounces", detail, source=event.source)
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
