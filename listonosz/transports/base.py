"""The one small interface every transport implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from listonosz.errors import ListonoszError
from listonosz.ledger import Status


class TransportUnavailable(ListonoszError):
    """No message can be sent at all: the server is unreachable or refuses TLS or AUTH."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message ready to leave: ledger key, envelope addresses and the RFC 5322 bytes."""

    key: str
    mail_from: str
    rcpt_to: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the transport made of one message: accepted, refused for good, or try later."""

    key: str
    status: Status
    detail: str = ""
    suppress: bool = False  # the address itself was refused for good (unknown user…)


class Transport(Protocol):
    """Sends a batch over as few connections as it can; never raises for one bad message."""

    def check(self) -> None:
        """Fail now, with a clear error, if no message could be sent (wrong host, password)."""

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        """One result per message, in the order given."""

    def close(self) -> None:
        """Release connections kept for reuse."""
