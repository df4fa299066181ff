"""Before a real send: the links in every message (RSVP, unsubscribe) must lead somewhere.

A message whose unsubscribe link is dead breaks the promise that RFC 8058 headers make (Gmail
and Yahoo require one-click unsubscribe to work), so a send through a real transport refuses
to start while ``public_url`` is the placeholder, is not HTTPS, or its ``/healthz`` does not
answer. Staff who host the web app where this machine cannot reach it turn the check off
(``check_public_url = false``, or ``listonosz send --no-link-check``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from listonosz.config import Settings
from listonosz.errors import ListonoszError

#: Transports whose messages never reach a person: no link has to work.
LOCAL_TRANSPORTS = ("capture", "outbox")
#: How long ``/healthz`` may take to answer (seconds).
HEALTH_TIMEOUT = 5.0


class DeadLinkError(ListonoszError, RuntimeError):
    """The web app the messages link to cannot be reached; nothing was sent."""


def check_public_url(settings: Settings, transport: str | None) -> None:
    """Raise :class:`DeadLinkError` unless the messages' links would work (see module)."""
    name = transport or settings.transport
    if name in LOCAL_TRANSPORTS or settings.transport_settings(name).kind == "outbox":
        return
    url = settings.public_url.rstrip("/")
    fix = (
        "set public_url (LISTONOSZ_PUBLIC_URL) to the HTTPS address where `listonosz serve` "
        "answers, or, if the web app is hosted where this machine cannot reach it, pass "
        "--no-link-check (check_public_url = false)"
    )
    parts = urlsplit(url)
    host = parts.hostname or ""
    if url == Settings.model_fields["public_url"].default or host.endswith(".localhost"):
        raise DeadLinkError(
            f"refusing to send through {name!r}: public_url is still {url}, which no recipient "
            f"can open; {fix}"
        )
    if parts.scheme != "https":
        raise DeadLinkError(
            f"refusing to send through {name!r}: public_url {url} is not HTTPS (recipients' "
            f"mail programs and one-click unsubscribe need it); {fix}"
        )
    try:
        answer = httpx.get(f"{url}/healthz", timeout=HEALTH_TIMEOUT, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise DeadLinkError(
            f"refusing to send through {name!r}: {url}/healthz does not answer "
            f"({type(exc).__name__}: {exc}); {fix}"
        ) from None
    if answer.status_code != 200:
        raise DeadLinkError(
            f"refusing to send through {name!r}: {url}/healthz answered "
            f"{answer.status_code}, not 200; {fix}"
        )
