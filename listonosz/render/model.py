"""What rendering takes and gives: the signed links of one message, and the rendered message."""

from __future__ import annotations

from dataclasses import dataclass

from listonosz.packing import by_fields


@dataclass(frozen=True, slots=True)
class Links:
    """The personal, signed URLs a message carries (empty when the sender has none yet)."""

    unsubscribe: str
    rsvp_yes: str = ""
    rsvp_no: str = ""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with the message, e.g. the event's calendar entry."""

    filename: str  # plain ASCII
    content_type: str  # full value, e.g. 'text/calendar; charset="utf-8"; method=PUBLISH'
    data: bytes

    __reduce__ = by_fields


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """Subject, HTML with CSS inlined, plain text and attachments of one recipient's message."""

    subject: str
    html: str
    text: str
    attachments: tuple[Attachment, ...] = ()
