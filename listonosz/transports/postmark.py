"""Postmark: ``POST /email/batch``, up to 500 messages a call, one result per message.

The batch endpoint answers 200 even when some messages are refused: each message has its own
``ErrorCode`` (0 = accepted, with its ``MessageID``), in the order sent. The ledger key rides in
``Metadata`` (returned in every webhook); the campaign id is the ``Tag``. ``GET /server`` checks
the server token. Postmark documents a 429 but no rate-limit headers; a ``Retry-After``, should
one come, is honoured by the shared client.

Its webhooks post one JSON object a request (``RecordType`` Delivery, Bounce, SpamComplaint,
SubscriptionChange, Open, Click) with the ``Metadata`` sent, and carry no signature: the URL
holds Basic credentials (``https://user:password@…/hooks/postmark``), checked here.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import httpx

from listonosz.config import TransportSettings, WebhookSettings
from listonosz.mail import address_line
from listonosz.tracking import TrackedEvent
from listonosz.transports.base import Delivery, Outgoing
from listonosz.transports.http import (
    ApiRequest,
    ApiTransport,
    Refusal,
    api_key,
    api_transport,
    chunks,
    short,
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
    from_iso,
    load_json,
    pairs,
    policy_block,
    read_each,
    text,
    unreadable_body,
)

DEFAULT_URL = "https://api.postmarkapp.com"
BATCH_LIMIT = 500
BATCH_BYTES = 45 * 1024 * 1024  # the documented payload limit is 50 MB, attachments included

#: Per-message codes that blame the message itself: fail it, send it no more.
MESSAGE_CODES = {300, 402, 403, 406, 409, 411}
#: 406 "Inactive recipient": the address bounced or complained before: suppress it.
INACTIVE = 406
#: Codes about the account or sender signature: nothing can go out until someone fixes it.
ACCOUNT_CODES = {10, 400, 401, 405, 412, 413}


class Postmark:
    """Request building and answer reading for Postmark's batch API."""

    name = "postmark"

    def __init__(self, settings: TransportSettings) -> None:
        self.stream = settings.message_stream

    def check_request(self) -> ApiRequest:
        return ApiRequest("GET", "/server")

    def checked(self, response: httpx.Response) -> str | None:
        return None

    def requests(self, messages: Sequence[Outgoing]) -> list[ApiRequest]:
        return [
            ApiRequest("POST", "/email/batch", tuple(run), json=[self.message(m) for m in run])
            for run in chunks(messages, BATCH_LIMIT, BATCH_BYTES)
        ]

    def message(self, message: Outgoing) -> dict[str, object]:
        parts = message.parts
        assert parts is not None, "HTTP transports take message parts"
        body: dict[str, object] = {
            "From": address(parts.from_name, parts.from_email),
            "To": address(parts.to_name, parts.to_email),
            "Subject": parts.subject,
            "TextBody": parts.text,
            "HtmlBody": parts.html,
            "Headers": [{"Name": k, "Value": v} for k, v in parts.headers.items()],
            "Metadata": metadata(message),
        }
        campaign = parts.headers.get("X-Listonosz-Campaign")
        if campaign:
            body["Tag"] = campaign
        if parts.reply_to:
            body["ReplyTo"] = parts.reply_to
        if self.stream:
            body["MessageStream"] = self.stream
        if parts.attachments:
            body["Attachments"] = [
                {
                    "Name": a.filename,
                    "Content": base64.b64encode(a.data).decode("ascii"),
                    "ContentType": a.content_type,
                }
                for a in parts.attachments
            ]
        return body

    def accepted(self, request: ApiRequest, response: httpx.Response) -> list[Delivery]:
        answers = response.json()
        if not isinstance(answers, list) or len(answers) != len(request.messages):
            reason = f"postmark: unexpected batch answer {short(response.text, 120)}"
            return [Delivery(m.key, "deferred", reason) for m in request.messages]
        return [outcome(m.key, a) for m, a in zip(request.messages, answers, strict=True)]

    def refused(self, request: ApiRequest, response: httpx.Response) -> Refusal:
        code, text = error(response)
        if code in ACCOUNT_CODES or response.status_code == 404:
            return Refusal(f"ErrorCode {code}: {text}", scope="account")
        return Refusal(f"ErrorCode {code}: {text}", suppress=code == INACTIVE)

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        return None  # none documented


@lru_cache(maxsize=4096)  # the sender is the same on every message
def address(name: str, email: str) -> str:
    """``Name <address>``, the name RFC 2047-encoded when it is not ASCII or holds ``=?``."""
    return address_line(name, email)


def metadata(message: Outgoing) -> dict[str, str]:
    """Only the ledger key and the campaign id: never anything about the person."""
    parts = message.parts
    campaign = parts.headers.get("X-Listonosz-Campaign", "") if parts else ""
    return {"ledger_key": message.key, "campaign": campaign}


def outcome(key: str, answer: dict[str, object]) -> Delivery:
    """One message's result within a batch answer."""
    code = answer.get("ErrorCode")
    text = short(str(answer.get("Message", "")))
    if code == 0:
        return Delivery(key, "sent", f"postmark MessageID {answer.get('MessageID')}")
    detail = f"postmark ErrorCode {code}: {text}"
    if code in MESSAGE_CODES:
        return Delivery(key, "failed", detail, suppress=code == INACTIVE or "'To'" in text)
    return Delivery(key, "deferred", detail)  # account trouble or an unknown code: try later


def error(response: httpx.Response) -> tuple[object, str]:
    """Postmark's error shape: ``{"ErrorCode": 300, "Message": "…"}``."""
    try:
        body = response.json()
        return body.get("ErrorCode"), short(str(body.get("Message", "")))
    except (ValueError, AttributeError):
        return None, short(response.text)


def make(settings: TransportSettings, pace: Pace | None = None) -> ApiTransport:
    """A Postmark transport: the server token goes in ``X-Postmark-Server-Token``."""
    headers = {"X-Postmark-Server-Token": api_key(settings)}
    return api_transport(Postmark(settings), settings, pace, DEFAULT_URL, headers)


# -- webhooks ----------------------------------------------------------------------------------

#: A Bounce's ``Type`` → (normalised type, bounce class); an unknown one is a bounce of no
#: class (recorded, suppresses nobody).
BOUNCES: dict[str, tuple[str, str | None]] = {
    "HardBounce": ("bounced", "hard"),
    "BadEmailAddress": ("bounced", "hard"),
    "SoftBounce": ("bounced", "soft"),
    "Transient": ("bounced", "soft"),
    "DnsError": ("bounced", "soft"),
    "Blocked": ("bounced", "block"),
    "DMARCPolicy": ("bounced", "block"),
    "ManuallyDeactivated": ("rejected", None),
    "SpamComplaint": ("complained", None),
    "SpamNotification": ("complained", None),
    "AutoResponder": ("autoresponded", None),
    "AddressChange": ("autoresponded", None),
    "ChallengeVerification": ("autoresponded", None),
    "Unsubscribe": ("unsubscribed", None),
}
#: When each record type happened.
TIMES = {
    "Delivery": "DeliveredAt",
    "Bounce": "BouncedAt",
    "SpamComplaint": "BouncedAt",
    "Open": "ReceivedAt",
    "Click": "ReceivedAt",
    "SubscriptionChange": "ChangedAt",
}


def verify_webhook(
    headers: Mapping[str, str], body: bytes, settings: WebhookSettings, now: float
) -> str | None:
    """Accept Basic credentials that match one of ``LISTONOSZ_WEBHOOKS__POSTMARK__SECRETS``."""
    secrets = pairs(
        settings.postmark.secrets.get_secret_value() if settings.postmark.secrets else ""
    )
    if not secrets:
        raise WebhookRefused(404, "the Postmark webhook is not configured")
    check_basic(headers, secrets)
    return None


def parse_webhook(body: str) -> Parsed:
    """The event of one posted object (a list is read item by item)."""
    try:
        posted = load_json(body)
    except Unreadable as exc:
        return unreadable_body(exc)
    return read_each(posted if isinstance(posted, list) else [posted], read_event)


def read_event(item: Mapping[str, Any]) -> TrackedEvent | None:
    """One Postmark record as a :class:`TrackedEvent` (None for kinds not tracked).

    A SubscriptionChange is an unsubscribe when Postmark now suppresses sending because the
    person asked (``ManualSuppression``); one that follows a bounce or complaint is that event
    again, and a reactivation lifts nothing here (staff decide)."""
    record = item["RecordType"]
    bounce_class = None
    if record == "Delivery":
        kind = "delivered"
    elif record in ("Bounce", "SpamComplaint"):
        kind, bounce_class = BOUNCES.get(str(item.get("Type")), ("bounced", None))
    elif record == "SubscriptionChange":
        if item.get("SuppressSending") is not True:
            return None
        if item.get("SuppressionReason") != "ManualSuppression":
            return None
        kind = "unsubscribed"
    elif record == "Open":
        kind = "opened"
    elif record == "Click":
        kind = "clicked"
    else:
        return None
    own_id = item.get("ID")
    event_id = f"{record}:{own_id}" if own_id is not None else f"{record}:{fields_hash(item)}"
    metadata = item.get("Metadata") or {}
    status = enhanced_status(item.get("Details"))
    return TrackedEvent(
        source="postmark",
        source_event_id=event_id,
        type=kind,  # type: ignore[arg-type]
        occurred_at=from_iso(item[TIMES[record]]),
        delivery_key=text(metadata.get("ledger_key")) if isinstance(metadata, Mapping) else None,
        recipient=text(item.get("Email")) or text(item.get("Recipient")),
        bounce_class=policy_block(kind, bounce_class, status),  # type: ignore[arg-type]
        detail=detail(
            event=record,
            type=text(item.get("Type")),
            status=status,
            diagnostic=diagnostic(item.get("Description"), item.get("Details")),
            provider_id=text(item.get("MessageID")),
        ),
    )
