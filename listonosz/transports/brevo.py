"""Brevo: ``POST /v3/smtp/email`` with ``messageVersions``, up to 1000 versions a call.

Each version is one recipient with its own subject, HTML and text (Brevo lets a version override
both bodies) and its own headers (Message-ID, List-Unsubscribe, ``X-Mailin-custom`` with the
ledger key, which Brevo returns in every webhook). The request carries an ``idempotencyKey``
header — a UUID derived from the ledger keys it carries, so a retried request is the same request
and Brevo processes it once within 15 minutes. Brevo answers 201 with ``messageIds`` in the order
of the versions; its errors are ``{"code": "…", "message": "…"}`` and do not say which version is
at fault, so the shared transport splits the call. ``x-sib-ratelimit-remaining`` and
``x-sib-ratelimit-reset`` (seconds) say when the window resets. ``GET /v3/account`` checks the key.

Its transactional webhooks post one JSON object per event, or a list of them in batched mode,
authenticated by Basic credentials in the URL or a bearer token (checked here); the ledger
key comes back in ``X-Mailin-custom``. An event has no id of its own: the hash of its fields
is its id, so a repeat is recognised.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from email.header import Header
from typing import Any

import httpx

from listonosz.config import TransportSettings, WebhookSettings
from listonosz.tracking import TrackedEvent
from listonosz.transports.base import Delivery, Outgoing
from listonosz.transports.http import (
    ApiRequest,
    ApiTransport,
    Refusal,
    api_key,
    api_transport,
    chunks,
    shared_parts,
    sharing_requests,
    short,
    split_headers,
)
from listonosz.transports.ratelimit import Pace
from listonosz.transports.webhooks import (
    Parsed,
    Unreadable,
    WebhookRefused,
    check_basic,
    detail,
    diagnostic,
    enhanced_status,
    fields_hash,
    from_epoch,
    load_json,
    pairs,
    policy_block,
    read_each,
    text,
    unreadable_body,
)

log = logging.getLogger(__name__)

DEFAULT_URL = "https://api.brevo.com"
BATCH_LIMIT = 1000
BATCH_BYTES = 20 * 1024 * 1024
SPECIALS = set('()<>[]:;@\\,."')
#: Error codes about the account rather than the request.
ACCOUNT_CODES = {"not_enough_credits", "account_under_validation", "permission_denied"}


class Brevo:
    """Request building and answer reading for Brevo's transactional email API."""

    name = "brevo"

    def check_request(self) -> ApiRequest:
        return ApiRequest("GET", "/v3/account")

    def checked(self, response: httpx.Response) -> str | None:
        return None

    def requests(self, messages: Sequence[Outgoing]) -> list[ApiRequest]:
        return [
            self.request(run)
            for alike in sharing_requests(messages, shared_parts)
            for run in chunks(alike, BATCH_LIMIT, BATCH_BYTES, distinct=True)
        ]

    def request(self, run: list[Outgoing]) -> ApiRequest:
        first = run[0].parts
        assert first is not None, "HTTP transports take message parts"
        common, personal = split_headers(run)
        versions: list[dict[str, object]] = []
        for message, own in zip(run, personal, strict=True):
            parts = message.parts
            assert parts is not None
            custom = {"ledger_key": message.key, "campaign": campaign(message)}
            versions.append(
                {
                    "to": [contact(parts.to_email, parts.to_name)],
                    "subject": parts.subject,
                    "htmlContent": parts.html,
                    "textContent": parts.text,
                    "headers": {
                        **ascii_headers(own),
                        "X-Mailin-custom": json.dumps(custom, separators=(",", ":")),
                    },
                }
            )
        body: dict[str, object] = {
            "sender": contact(first.from_email, first.from_name),
            "subject": first.subject,
            "htmlContent": first.html,
            "textContent": first.text,
            "headers": {**ascii_headers(common), "idempotencyKey": idempotency_key(run)},
            "messageVersions": versions,
        }
        if campaign(run[0]):
            body["tags"] = [campaign(run[0])]
        if first.reply_to:
            body["replyTo"] = {"email": first.reply_to}
        if first.attachments:
            body["attachment"] = [
                {"name": a.filename, "content": base64.b64encode(a.data).decode("ascii")}
                for a in first.attachments
            ]
        return ApiRequest("POST", "/v3/smtp/email", tuple(run), json=body)

    def accepted(self, request: ApiRequest, response: httpx.Response) -> list[Delivery]:
        answer = response.json()
        ids = answer.get("messageIds") or [answer.get("messageId")] * len(request.messages)
        if len(ids) != len(request.messages):
            detail = f"brevo accepted the request; messageIds did not match: {short(str(ids))}"
            return [Delivery(m.key, "sent", detail) for m in request.messages]
        return [
            Delivery(m.key, "sent", f"brevo messageId {i}")
            for m, i in zip(request.messages, ids, strict=True)
        ]

    def refused(self, request: ApiRequest, response: httpx.Response) -> Refusal:
        code, text = error(response)
        reason = f"{code}: {text}"
        if code == "duplicate_request":
            return Refusal(reason, scope="accepted")
        if code in ACCOUNT_CODES or response.status_code in (402, 404) or "sender" in text:
            return Refusal(reason, scope="account")  # no credit, unvalidated account or sender
        lowered = text.lower()
        return Refusal(reason, suppress="email" in lowered and "valid" in lowered)

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        """``x-sib-ratelimit-remaining: 0`` for ``x-sib-ratelimit-reset`` seconds."""
        if response.headers.get("x-sib-ratelimit-remaining") != "0":
            return None
        try:
            return max(0.0, float(response.headers["x-sib-ratelimit-reset"]))
        except (KeyError, ValueError):
            return None


def idempotency_key(run: Sequence[Outgoing]) -> str:
    """The same UUID for the same messages, so a retry of this request is recognised."""
    digest = hashlib.sha256("\n".join(m.key for m in run).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def contact(email: str, name: str) -> dict[str, str]:
    """``{"email", "name"}``; a non-ASCII name with specials is RFC 2047 encoded, because
    Brevo drops such names otherwise (as django-anymail works around)."""
    if not name:
        return {"email": email}
    if not name.isascii() and SPECIALS.intersection(name):
        name = Header(name, "utf-8").encode()
    return {"email": email, "name": name}


def ascii_headers(headers: dict[str, str]) -> dict[str, str]:
    """Brevo sends non-ASCII header values as raw 8-bit (as django-anymail reports), so a
    List-Id keeps only its ``<id>``, and any other non-ASCII header is left out."""
    out = {}
    for name, value in headers.items():
        if value.isascii():
            out[name] = value
        elif name.lower() == "list-id" and "<" in value:
            out[name] = value[value.rindex("<") :]
        else:
            log.warning("brevo: header %s has non-ASCII text and is left out", name)
    return out


def campaign(message: Outgoing) -> str:
    return message.parts.headers.get("X-Listonosz-Campaign", "") if message.parts else ""


def error(response: httpx.Response) -> tuple[str, str]:
    """Brevo's error shape: ``{"code": "invalid_parameter", "message": "…"}``."""
    try:
        body = response.json()
        return str(body.get("code")), short(str(body.get("message")))
    except (ValueError, AttributeError):
        return "", short(response.text)


def make(settings: TransportSettings, pace: Pace | None = None) -> ApiTransport:
    """A Brevo transport: the API key goes in the ``api-key`` header."""
    headers = {"api-key": api_key(settings)}
    return api_transport(Brevo(), settings, pace, DEFAULT_URL, headers)


# -- webhooks ----------------------------------------------------------------------------------

#: Brevo's event name → (normalised type, bounce class). ``blocked`` and ``invalid_email``:
#: Brevo would not send to the address (its own block list): suppressed here as well;
#: ``error``: Brevo failed to send, not the address's fault.
EVENTS: dict[str, tuple[str, str | None]] = {
    "request": ("queued", None),
    "delivered": ("delivered", None),
    "deferred": ("deferred", None),
    "soft_bounce": ("bounced", "soft"),
    "hard_bounce": ("bounced", "hard"),
    "blocked": ("rejected", None),
    "invalid_email": ("rejected", None),
    "spam": ("complained", None),
    "complaint": ("complained", None),
    "unsubscribe": ("unsubscribed", None),
    "unsubscribed": ("unsubscribed", None),
    "opened": ("opened", None),
    "unique_opened": ("opened", None),
    "proxy_open": ("opened", None),
    "unique_proxy_open": ("opened", None),
    "click": ("clicked", None),
    "error": ("failed", "soft"),
}


def verify_webhook(
    headers: Mapping[str, str], body: bytes, settings: WebhookSettings, now: float
) -> str | None:
    """Accept Basic credentials from ``LISTONOSZ_WEBHOOKS__BREVO__SECRETS`` or a bearer token
    from ``LISTONOSZ_WEBHOOKS__BREVO__TOKENS``."""
    hooks = settings.brevo
    secrets = pairs(hooks.secrets.get_secret_value() if hooks.secrets else "")
    tokens = pairs(hooks.tokens.get_secret_value() if hooks.tokens else "")
    if not secrets and not tokens:
        raise WebhookRefused(404, "the Brevo webhook is not configured")
    check_basic(headers, secrets, tokens)
    return None


def parse_webhook(body: str) -> Parsed:
    """The events of one posted object, or of a batched list."""
    try:
        posted = load_json(body)
    except Unreadable as exc:
        return unreadable_body(exc)
    return read_each(posted if isinstance(posted, list) else [posted], read_event)


def read_event(item: Mapping[str, Any]) -> TrackedEvent | None:
    """One Brevo event as a :class:`TrackedEvent` (None for kinds not tracked)."""
    name = item["event"]
    if name not in EVENTS:
        return None
    kind, bounce_class = EVENTS[name]
    if "ts_epoch" in item:
        occurred = from_epoch(item["ts_epoch"], 1000)  # milliseconds, always UTC
    else:
        occurred = from_epoch(item.get("ts_event", item["ts"]))
    custom: object = item.get("X-Mailin-custom")
    if isinstance(custom, str):
        try:
            custom = json.loads(custom)
        except ValueError:
            custom = None
    key = text(custom.get("ledger_key")) if isinstance(custom, Mapping) else None
    reason = item.get("reason")
    status = enhanced_status(reason)
    return TrackedEvent(
        source="brevo",
        source_event_id=fields_hash(item),
        type=kind,  # type: ignore[arg-type]
        occurred_at=occurred,
        delivery_key=key,
        message_id=text(item.get("message-id")),
        recipient=text(item.get("email")),
        bounce_class=policy_block(kind, bounce_class, status),  # type: ignore[arg-type]
        detail=detail(event=name, status=status, diagnostic=diagnostic(reason)),
    )
