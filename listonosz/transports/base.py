"""The one small interface every transport implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from listonosz.errors import ListonoszError
from listonosz.mail.message import Attachment
from listonosz.packing import by_fields
from listonosz.store import Status

#: The detail of a claimed message its run was stopped before sending: it waits as ``deferred``.
NOT_SENT = "not sent: the run stopped before this message left"


class TransportUnavailable(ListonoszError):
    """No message can be sent at all: the server is unreachable or refuses TLS or AUTH."""


@dataclass(frozen=True, slots=True)
class MessageParts:
    """A message as HTTP mail APIs take it: addresses, subject, bodies, headers, attachments.

    ``headers`` carries Message-ID, List-Id, List-Unsubscribe(-Post), X-Listonosz-Campaign and,
    when set, Auto-Submitted, exactly as they would appear in the MIME message.
    """

    from_name: str
    from_email: str
    to_name: str
    to_email: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()

    __reduce__ = by_fields


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message ready to leave: its ledger key, envelope addresses, and either the RFC 5322
    bytes (for SMTP and the outbox) or its parts (for HTTP APIs), as the transport wants."""

    key: str
    mail_from: str
    rcpt_to: str
    data: bytes = b""
    parts: MessageParts | None = None

    __reduce__ = by_fields


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the transport made of one message: accepted, refused for good, or try later."""

    key: str
    status: Status
    detail: str = ""
    suppress: bool = False  # the address itself was refused for good (unknown user…)


class Transport(Protocol):
    """Sends a batch over as few connections as it can; never raises for one bad message."""

    #: True: give me ``Outgoing.data`` (MIME bytes); False: give me ``Outgoing.parts``.
    wants_mime: bool
    #: How many rows to claim in the ledger per ``send_batch`` call.
    claim_chunk: int

    def check(self) -> None:
        """Fail now, with a clear error, if no message could be sent (wrong host, password)."""

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        """One result per message, in the order given."""

    def close(self) -> None:
        """Release connections kept for reuse."""
