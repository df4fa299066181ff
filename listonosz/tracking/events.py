"""The normalised event: one vocabulary for what happens to a message after hand-off, whoever
reports it (a provider's webhook, the bounce mailbox, an SMTP reply, the web app, staff).

The types follow django-anymail's normalised tracking events, plus ``answered`` (an RSVP),
``exported`` and ``erased`` (staff exported or erased a person's data); a bounce also has a class.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

EventType = Literal[
    "queued",
    "sent",
    "rejected",
    "failed",
    "bounced",
    "deferred",
    "delivered",
    "autoresponded",
    "opened",
    "clicked",
    "complained",
    "unsubscribed",
    "answered",
    "exported",
    "erased",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

BounceClass = Literal["hard", "soft", "block", "expired"]
BOUNCE_CLASSES: tuple[str, ...] = get_args(BounceClass)

#: Where an event came from (``web``: a recipient on the web app; ``staff``: the CLI).
Source = Literal["web", "staff", "smtp", "mailbox", "postmark", "sendgrid", "mailgun", "brevo"]
SOURCES: tuple[str, ...] = get_args(Source)


@dataclass(frozen=True, slots=True)
class TrackedEvent:
    """One normalised event as a source reports it, before it is matched to a delivery.

    ``delivery_key`` is what the message carried back (provider metadata, a VERP address);
    ``message_id`` the fallback for matching. ``recipient`` is used to apply the event (a
    suppression) and never stored; ``detail`` must hold no address (see :func:`redact`).
    """

    source: str
    source_event_id: str
    type: EventType
    occurred_at: dt.datetime
    delivery_key: str | None = None
    message_id: str | None = None
    recipient: str | None = None
    bounce_class: BounceClass | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


#: Outcome precedence: an event never replaces a delivery's outcome of a higher rank, so a
#: late "delivered" keeps a bounce, and a complaint or unsubscribe is never downgraded.
OUTCOME_RANK: dict[str, int] = {
    "queued": 0,
    "sent": 1,
    "deferred": 2,
    "delivered": 3,
    "autoresponded": 4,
    "opened": 5,
    "clicked": 6,
    "bounced": 7,
    "rejected": 8,
    "failed": 8,
    "unsubscribed": 9,
    "complained": 10,
}

_ADDRESS = re.compile(r"[^\s<>\"'(),;:@]+@[^\s<>\"'(),;:@]+\.[A-Za-z0-9-]+")


def redact(text: str) -> str:
    """``text`` with every e-mail address replaced: diagnostics quote the recipient."""
    return _ADDRESS.sub("<adres>", text)
