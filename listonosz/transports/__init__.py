"""Ways of handing messages over: every transport takes a batch and answers per message."""

from __future__ import annotations

from listonosz.config import TransportSettings
from listonosz.transports.base import Delivery, Outgoing, Transport
from listonosz.transports.smtp import SmtpTransport

__all__ = ["Delivery", "Outgoing", "Transport", "make_transport"]


def make_transport(settings: TransportSettings) -> Transport:
    """The transport a named configuration describes."""
    if settings.kind == "smtp":
        return SmtpTransport(settings)
    raise ValueError(f"unknown transport kind {settings.kind!r}")
