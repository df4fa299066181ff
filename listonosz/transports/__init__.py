"""Ways of handing messages over: every transport takes a batch and answers per message."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from listonosz.config import TransportSettings
from listonosz.stopping import Stop
from listonosz.transports.base import Delivery, Outgoing, Transport
from listonosz.transports.outbox import OutboxTransport
from listonosz.transports.ratelimit import Pace, SharedHold
from listonosz.transports.smtp import SmtpTransport

__all__ = [
    "Delivery",
    "Outgoing",
    "Transport",
    "make_transport",
    "service_name",
]

#: Transactional mail APIs: ``kind`` names the module under ``listonosz.transports``.
API_TRANSPORTS = ("postmark", "sendgrid", "mailgun", "brevo")


def service_name(settings: TransportSettings) -> str:
    """The mail service (and account's address) a transport sends through: what a shared hold
    is kept under, the same for every worker configured alike."""
    where = settings.base_url or f"{settings.host}:{settings.port}"
    return f"{settings.kind}:{where}"


def make_transport(
    settings: TransportSettings,
    outbox: Path,
    throttle: Callable[[], None] | None = None,
    stop: Stop | None = None,
    hold: SharedHold | None = None,
) -> Transport:
    """The transport a configuration describes. Before each message it checks ``stop`` (a
    stopped run sends nothing more), keeps to ``rate_per_minute`` and runs ``throttle``; a
    mail API's "wait" (Retry-After) goes to ``hold`` too, for every worker."""
    pace = Pace(settings.rate_per_minute, throttle, stop, hold=hold)
    if settings.kind == "outbox":
        return OutboxTransport(outbox, pace)
    if settings.kind in API_TRANSPORTS:
        module = importlib.import_module(f"listonosz.transports.{settings.kind}")
        transport: Transport = module.make(settings, pace)
        return transport
    return SmtpTransport(settings, pace=pace)
