"""The normalised event: one vocabulary for what happens to a message after hand-off, whoever
reports it (a provider's webhook, the bounce mailbox, an SMTP reply, the web app, staff).

The types follow django-anymail's normalised tracking events, plus ``answered`` (an RSVP),
``exported`` and ``erased`` (staff exported or erased a person's data); a bounce also has a class.
"""

from __future__ import annotations

from typing import Literal, get_args

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
