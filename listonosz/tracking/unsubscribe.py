"""Unsubscribing a recipient from a message's link: an ``unsubscribed`` event and a
suppression, both in the store, both harmless to repeat."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from listonosz.store import EventLog, Ledger, StoredEvent, SuppressionList


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """What an unsubscribe did: ``found`` is False for a delivery the store no longer has
    (an erased person, a deleted ledger), ``changed`` False when it was already in effect."""

    found: bool
    changed: bool
    scope: str


def unsubscribe(
    ledger: Ledger,
    log: EventLog,
    suppressions: SuppressionList,
    delivery_key: str,
    scope: str = "all",
    source: str = "web",
    how: str = "one-click",
) -> Unsubscribed:
    """Suppress the recipient of ``delivery_key`` (for everything, or newsletters only)."""
    delivery = ledger.delivery(delivery_key)
    if delivery is None:
        return Unsubscribed(False, False, scope)
    held = suppressions.lookup(delivery.email)
    if held is not None and (held.scope == "all" or held.scope == scope):
        return Unsubscribed(True, False, held.scope)
    now = dt.datetime.now(dt.UTC)
    log.record(
        StoredEvent(
            source=source,
            source_event_id=f"unsubscribe/{delivery_key}/{scope}",
            type="unsubscribed",
            occurred_at=now,
            delivery_key=delivery_key,
            campaign=delivery.campaign,
            detail={"scope": scope, "how": how, "kind": delivery.kind},
        )
    )
    entry = suppressions.add(
        delivery.email,
        "unsubscribed",
        f"{how} ({delivery.campaign}/{delivery.kind})",
        scope=scope,
        source=source,
    )
    return Unsubscribed(True, True, entry.scope)
