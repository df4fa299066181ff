"""Unsubscribing a recipient from a message's link: an ``unsubscribed`` event and a
suppression, both in the store, both harmless to repeat.

:func:`unsubscribe_many` takes the unsubscribes that arrive together (the web app gathers
them) in a few statements whatever their number: each is decided in order, as if alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from listonosz.store import Addition, Entry, EventLog, Ledger, StoredEvent, SuppressionList


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """What an unsubscribe did: ``found`` is False for a delivery the store no longer has
    (an erased person, a deleted ledger), ``changed`` False when it was already in effect;
    ``campaign`` is the delivery's (for the page to name its organiser)."""

    found: bool
    changed: bool
    scope: str
    campaign: str | None = None


@dataclass(frozen=True, slots=True)
class UnsubscribeRequest:
    """One unsubscribe: of the recipient of ``delivery_key``, from everything (``all``) or
    from newsletters only, and how it was asked (``one-click`` or ``page``)."""

    delivery_key: str
    scope: str = "all"
    how: str = "one-click"


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
    request = UnsubscribeRequest(delivery_key, scope, how)
    return unsubscribe_many(ledger, log, suppressions, [request], source)[0]


def unsubscribe_many(
    ledger: Ledger,
    log: EventLog,
    suppressions: SuppressionList,
    requests: Sequence[UnsubscribeRequest],
    source: str = "web",
) -> list[Unsubscribed]:
    """:func:`unsubscribe` for each request in turn: what each did, in order.

    A few statements for any number: the deliveries, the suppressions that hold them, then
    in one transaction the new events and suppressions.
    """
    found = ledger.deliveries_of(r.delivery_key for r in requests)
    held: dict[str, Entry | None] = dict(suppressions.lookup_many(d.email for d in found.values()))
    now = dt.datetime.now(dt.UTC)
    events: list[StoredEvent] = []
    additions: list[Addition] = []
    done: list[Unsubscribed] = []
    for request in requests:
        delivery = found.get(request.delivery_key)
        if delivery is None:
            done.append(Unsubscribed(False, False, request.scope))
            continue
        current = held.get(delivery.email)
        if current is not None and current.scope in ("all", request.scope):
            done.append(Unsubscribed(True, False, current.scope, delivery.campaign))
            continue
        events.append(
            StoredEvent(
                source=source,
                source_event_id=f"unsubscribe/{request.delivery_key}/{request.scope}",
                type="unsubscribed",
                occurred_at=now,
                delivery_key=request.delivery_key,
                campaign=delivery.campaign,
                detail={"scope": request.scope, "how": request.how, "kind": delivery.kind},
            )
        )
        detail = f"{request.how} ({delivery.campaign}/{delivery.kind})"
        addition = Addition(delivery.email, "unsubscribed", detail, request.scope, source)
        additions.append(addition)
        # what a later request of the same person in this batch finds
        held[delivery.email] = Entry("", delivery.email, "unsubscribed", detail, now, request.scope)
        done.append(Unsubscribed(True, True, request.scope, delivery.campaign))
    if events:
        with log.engine.begin() as conn:  # the events and the suppressions, or neither
            log.record_many(conn, events)
            suppressions.add_batch(additions, conn)
    return done
