"""Ways of handing messages over: every transport takes a batch and answers per message."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from listonosz.config import TransportSettings
from listonosz.stopping import Stop
from listonosz.transports.base import Delivery, Outgoing, Transport
from listonosz.transports.outbox import OutboxTransport
from listonosz.transports.ratelimit import Pace
from listonosz.transports.smtp import SmtpTransport

__all__ = ["Delivery", "Outgoing", "Transport", "make_transport"]

#: Transactional mail APIs: ``kind`` names the module under ``listonosz.transports``.
API_TRANSPORTS = ("postmark", "sendgrid", "mailgun", "brevo")


def make_transport(
    settings: TransportSettings,
    outbox: Path,
    throttle: Callable[[], None] | None = None,
    stop: Stop | None = None,
) -> Transport:
    """The transport a configuration describes. Before each message it checks ``stop`` (a
    stopped run sends nothing more), keeps to ``rate_per_minute`` and runs ``throttle``."""
    pace = Pace(settings.rate_per_minute, throttle, stop)
    if settings.kind == "outbox":
        return OutboxTransport(outbox, pace)
    if settings.kind in API_TRANSPORTS:
        module = importlib.import_module(f"listonosz.transports.{settings.kind}")
        transport: Transport = module.make(settings, pace)
        return transport
    return SmtpTransport(settings, pace=pace)
