"""What rendering takes and gives: the signed links of one message, and the rendered message
(its attachments are :class:`listonosz.mail.Attachment`)."""

from __future__ import annotations

from dataclasses import dataclass

from listonosz.mail import Attachment


@dataclass(frozen=True, slots=True)
class Links:
    """The personal, signed URLs a message carries (empty when the sender has none yet)."""

    unsubscribe: str
    rsvp_yes: str = ""
    rsvp_no: str = ""


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """Subject, HTML with CSS inlined, plain text and attachments of one recipient's message."""

    subject: str
    html: str
    text: str
    attachments: tuple[Attachment, ...] = ()
