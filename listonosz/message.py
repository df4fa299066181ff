"""Assembling one recipient's message as RFC 5322 bytes, ready for any transport."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from listonosz.errors import ListonoszError
from listonosz.render.environment import RenderedMessage

# refold_source="none" keeps headers set with ``set_raw`` as written: URLs in List-Unsubscribe
# must stay plain ASCII, never RFC 2047 encoded words.
_POLICY = policy.SMTP.clone(max_line_length=78, refold_source="none")


class HeaderInjectionError(ListonoszError, ValueError):
    """A header value carrying CR or LF: it could add headers of its own."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who the message is from and to, and the headers that identify it."""

    from_name: str
    from_email: str
    to_name: str
    to_email: str
    message_id: str
    list_id: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    campaign_id: str
    reply_to: str | None = None


def _checked(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjectionError(f"header {name} contains a line break: {value!r}")
    return value


def _uri(name: str, value: str) -> str:
    if not value.isascii() or any(ch in value for ch in " <>\r\n"):
        raise HeaderInjectionError(f"header {name}: not a plain ASCII URI: {value!r}")
    return value


def build_message(envelope: Envelope, rendered: RenderedMessage, date: dt.datetime) -> bytes:
    """multipart/alternative (text, then HTML), RFC 2047 headers, quoted-printable, CRLF."""
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = Address(_checked("From", envelope.from_name), addr_spec=envelope.from_email)
    msg["To"] = Address(_checked("To", envelope.to_name), addr_spec=envelope.to_email)
    if envelope.reply_to:
        msg["Reply-To"] = _checked("Reply-To", envelope.reply_to)
    msg["Subject"] = _checked("Subject", rendered.subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = _checked("Message-ID", envelope.message_id)
    msg["List-Id"] = _checked("List-Id", envelope.list_id)
    msg.set_raw(
        "List-Unsubscribe",
        f"<{_uri('List-Unsubscribe', envelope.unsubscribe_url)}>,\r\n"
        f" <{_uri('List-Unsubscribe', envelope.unsubscribe_mailto)}>",
    )
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["X-Listonosz-Campaign"] = _checked("X-Listonosz-Campaign", envelope.campaign_id)
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg.as_bytes()
