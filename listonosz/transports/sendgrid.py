"""SendGrid v3: ``POST /v3/mail/send``, one shared body and up to 1000 personalizations a call.

A request has one ``content``; each personalization is one recipient with its own subject,
headers (Message-ID, List-Unsubscribe), ``substitutions`` and ``custom_args``. Listonosz renders
every message itself, so the batch's bodies are factored (``factoring``) into one template
and per-recipient substitution values; a message whose values would pass SendGrid's limit of
10,000 bytes per personalization goes in a request of its own. SendGrid answers 202 with one
``X-Message-Id`` for the request; a 400 names the offending field, e.g.
``personalizations.3.to.0.email``, so only that message fails. ``custom_args`` carry the ledger
key and campaign id, never personal data (SendGrid stores them as "not PII").

Its Event Webhook posts a JSON array of events, signed (ECDSA P-256, SHA-256) over the
``X-Twilio-Email-Event-Webhook-Timestamp`` value followed by the raw body, the signature in
``X-Twilio-Email-Event-Webhook-Signature`` (base64 DER); the custom args come back as top-level
keys of each event, which ``sg_event_id`` identifies.
"""

from __future__ import annotations

import base64
import binascii
import functools
import time
from collections.abc import Mapping, Sequence
from email.utils import quote
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from listonosz.config import TransportSettings, WebhookSettings
from listonosz.tracking import TrackedEvent
from listonosz.transports.base import Delivery, Outgoing
from listonosz.transports.factoring import Bodies, Factored, FactoringError, factor_bodies
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
    check_age,
    detail,
    diagnostic,
    enhanced_status,
    from_epoch,
    header,
    load_json,
    read_each,
    text,
    unreadable_body,
)

DEFAULT_URL = "https://api.sendgrid.com"  # EU regional subusers: https://api.eu.sendgrid.com
BATCH_LIMIT = 1000
BATCH_BYTES = 25 * 1024 * 1024  # SendGrid's limit is 30 MB for the whole message
SUBSTITUTION_BYTES = 10_000
SUBSTITUTION_COUNT = 100
TAG = "%lz{}%"  # "%" is in no signed token (base64url), nor in "%XX" URL escapes with "l"
TAG_START = "%lz"  # a message holding this goes alone: SendGrid might substitute into it


class SendGrid:
    """Request building and answer reading for SendGrid's v3 Mail Send."""

    name = "sendgrid"

    def check_request(self) -> ApiRequest:
        return ApiRequest("GET", "/v3/scopes")

    def checked(self, response: httpx.Response) -> str | None:
        scopes = response.json().get("scopes", [])
        return None if "mail.send" in scopes else "the API key lacks the mail.send scope"

    def requests(self, messages: Sequence[Outgoing]) -> list[ApiRequest]:
        out = []
        for alike in sharing_requests(messages, shared_parts):
            for run in chunks(alike, BATCH_LIMIT, BATCH_BYTES, distinct=True):
                out += self.batch(run)
        return out

    def batch(self, run: list[Outgoing]) -> list[ApiRequest]:
        """One factored request, plus a request per message that does not fit it (or holds
        text that looks like our substitution tags)."""
        try:
            alone, bodies = factor_bodies(run, TAG_START, subject)
        except FactoringError:
            alone, bodies = run, None
        singles = [self.request([m], None, None) for m in alone]
        return self.factored(bodies) + singles if bodies else singles

    def factored(self, bodies: Bodies) -> list[ApiRequest]:
        """The bodies as one template with substitutions, as far as SendGrid's limits allow."""
        run, text, html = bodies.messages, bodies.text, bodies.html
        holes = len(text.pieces) + len(html.pieces) - 2
        if holes > SUBSTITUTION_COUNT:
            return [self.request([m], None, None) for m in run]
        budget = SUBSTITUTION_BYTES - sum(len(TAG.format(n)) for n in range(holes))
        fits = [
            i
            for i, (own_text, own_html) in enumerate(zip(text.values, html.values, strict=True))
            if len("".join((*own_text, *own_html)).encode()) <= budget
        ]
        fitting = set(fits)
        alone = [m for i, m in enumerate(run) if i not in fitting]
        out = [self.request([run[i] for i in fits], text, html, fits)] if fits else []
        return out + [self.request([m], None, None) for m in alone]

    def request(
        self,
        messages: list[Outgoing],
        text: Factored | None,
        html: Factored | None,
        rows: list[int] | None = None,
    ) -> ApiRequest:
        first = messages[0].parts
        assert first is not None, "HTTP transports take message parts"
        common, personal = split_headers(messages)
        holes = len(text.pieces) - 1 if text else 0
        tags = [TAG.format(n) for n in range(holes + len(html.pieces) - 1)] if text and html else []
        personalizations = []
        for index, (message, own) in enumerate(zip(messages, personal, strict=True)):
            parts = message.parts
            assert parts is not None
            entry: dict[str, object] = {
                "to": [address(parts.to_email, parts.to_name)],
                "subject": parts.subject,
                "custom_args": {"ledger_key": message.key, "campaign": campaign(message)},
            }
            if own:
                entry["headers"] = own
            if text and html:
                row = rows[index] if rows else index
                values = (*text.values[row], *html.values[row])
                entry["substitutions"] = dict(zip(tags, values, strict=True))
            personalizations.append(entry)
        body_text = text.template(TAG.format) if text else first.text
        body_html = html.template(lambda n: TAG.format(n + holes)) if html else first.html
        body: dict[str, object] = {
            "personalizations": personalizations,
            "from": {"email": first.from_email, "name": first.from_name},
            "subject": first.subject,
            "content": [
                {"type": "text/plain", "value": body_text},
                {"type": "text/html", "value": body_html},
            ],
        }
        if common:
            body["headers"] = common
        if first.reply_to:
            body["reply_to"] = {"email": first.reply_to}
        if campaign(messages[0]):
            body["categories"] = [campaign(messages[0])]
        if first.attachments:
            body["attachments"] = [
                {
                    "content": base64.b64encode(a.data).decode("ascii"),
                    "type": a.content_type,
                    "filename": a.filename,
                    "disposition": "attachment",
                }
                for a in first.attachments
            ]
        return ApiRequest("POST", "/v3/mail/send", tuple(messages), json=body)

    def accepted(self, request: ApiRequest, response: httpx.Response) -> list[Delivery]:
        detail = f"sendgrid X-Message-Id {response.headers.get('X-Message-Id', '?')}"
        return [Delivery(m.key, "sent", detail) for m in request.messages]

    def refused(self, request: ApiRequest, response: httpx.Response) -> Refusal:
        errors = error_list(response)
        reason = short("; ".join(f"{e.get('message')} ({e.get('field')})" for e in errors))
        if response.status_code == 404:
            return Refusal(reason, scope="account")
        blamed: dict[int, Delivery] = {}
        for e in errors:
            field = str(e.get("field") or "")
            head, _, rest = field.partition(".")
            number = rest.partition(".")[0]
            if head != "personalizations" or not number.isdigit():
                return Refusal(reason)  # about the request as a whole: split it
            index = int(number)
            if index < len(request.messages):
                key = request.messages[index].key
                detail = f"sendgrid: {short(str(e.get('message')))} ({field})"
                blamed[index] = Delivery(key, "failed", detail, suppress=field.endswith(".email"))
        return Refusal(reason, scope="messages", blamed=blamed) if blamed else Refusal(reason)

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        """``X-RateLimit-Remaining: 0`` until ``X-RateLimit-Reset`` (a Unix time)."""
        if response.headers.get("X-RateLimit-Remaining") != "0":
            return None
        try:
            return max(0.0, float(response.headers["X-RateLimit-Reset"]) - time.time())
        except (KeyError, ValueError):
            return None


def address(email: str, name: str) -> dict[str, str]:
    """A To object; names with a comma or semicolon are quoted, working around SendGrid's
    unquoted display names in personalizations (as django-anymail does)."""
    if not name:
        return {"email": email}
    if "," in name or ";" in name:
        name = f'"{quote(name)}"'
    return {"email": email, "name": name}


def subject(message: Outgoing) -> tuple[str, ...]:
    """What a personalization carries besides the substituted bodies, as text."""
    return (message.parts.subject,) if message.parts else ()


def campaign(message: Outgoing) -> str:
    return message.parts.headers.get("X-Listonosz-Campaign", "") if message.parts else ""


def error_list(response: httpx.Response) -> list[dict[str, object]]:
    """SendGrid's error shape: ``{"errors": [{"message", "field", "help"}]}``."""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        errors = None
    return errors if isinstance(errors, list) else [{"message": short(response.text)}]


def make(settings: TransportSettings, pace: Pace | None = None) -> ApiTransport:
    """A SendGrid transport: the API key goes in ``Authorization: Bearer``."""
    headers = {"Authorization": f"Bearer {api_key(settings)}"}
    return api_transport(SendGrid(), settings, pace, DEFAULT_URL, headers)


# -- the Event Webhook ------------------------------------------------------------------------

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

#: ``dropped`` reasons that are about the address (SendGrid holds it on a suppression list):
#: such a drop suppresses it here too; any other drop (size, content, API errors) does not.
ADDRESS_DROPS = ("bounced address", "unsubscribed address", "spam reporting address", "invalid")

#: SendGrid's event name → the normalised type (``bounce`` and ``dropped`` are read apart).
EVENTS: dict[str, str] = {
    "processed": "queued",
    "deferred": "deferred",
    "delivered": "delivered",
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
    "open": "opened",
    "click": "clicked",
}


@functools.lru_cache(maxsize=4)
def public_key(text_key: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 DER, SubjectPublicKeyInfo; a PEM
    block is accepted too); ValueError unless it is a P-256 key."""
    raw = text_key.strip()
    if raw.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(raw.encode())
    else:
        key = serialization.load_der_public_key(base64.b64decode(raw, validate=True))
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("the SendGrid verification key is not an ECDSA P-256 public key")
    return key


def verify_webhook(
    headers: Mapping[str, str], body: bytes, settings: WebhookSettings, now: float
) -> str | None:
    """Accept a request only with a valid signature over timestamp + raw body, signed less
    than ``max_age`` ago."""
    configured = settings.sendgrid.public_key
    if configured is None:
        raise WebhookRefused(404, "the SendGrid webhook is not configured")
    try:
        key = public_key(configured.get_secret_value())
    except (ValueError, binascii.Error, TypeError) as exc:
        raise WebhookRefused(503, f"LISTONOSZ_WEBHOOKS__SENDGRID__PUBLIC_KEY: {exc}") from None
    signature, timestamp = header(headers, SIGNATURE_HEADER), header(headers, TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise WebhookRefused(401, "no SendGrid signature")
    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            timestamp.encode() + body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise WebhookRefused(403, "the SendGrid signature does not match") from None
    check_age(timestamp, now, settings.sendgrid.max_age)
    return None


def parse_webhook(body: str) -> Parsed:
    """The events of one posted array (an object alone is read as a batch of one)."""
    try:
        items = load_json(body)
    except Unreadable as exc:
        return unreadable_body(exc)
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return unreadable_body(Unreadable("the body is not a JSON array"))
    return read_each(items, read_event)


def read_event(item: Mapping[str, Any]) -> TrackedEvent | None:
    """One SendGrid event as a :class:`TrackedEvent` (None for kinds not tracked)."""
    name = item["event"]
    event_id = text(item.get("sg_event_id"))
    if event_id is None:
        raise Unreadable("missing field 'sg_event_id'")
    status = str(item.get("status") or "")
    enhanced = enhanced_status(status, item.get("reason"), item.get("response"))
    bounce_class = None
    if name == "bounce":
        kind = "bounced"
        blocked = item.get("type") == "blocked" or enhanced.startswith("5.7.")
        bounce_class = "block" if blocked else "hard"
    elif name == "dropped":
        kind = "rejected"
        reason = str(item.get("reason") or "").lower()
        bounce_class = None if reason.startswith(ADDRESS_DROPS) else "soft"
    elif name in EVENTS:
        kind = EVENTS[name]
    else:
        return None
    return TrackedEvent(
        source="sendgrid",
        source_event_id=event_id,
        type=kind,  # type: ignore[arg-type]
        occurred_at=from_epoch(item["timestamp"]),
        delivery_key=text(item.get("ledger_key")),
        message_id=text(item.get("smtp-id")),
        recipient=text(item.get("email")),
        bounce_class=bounce_class,  # type: ignore[arg-type]
        detail=detail(
            event=name,
            type=text(item.get("type")),
            classification=text(item.get("bounce_classification")),
            status=enhanced or status,
            diagnostic=diagnostic(item.get("reason"), item.get("response")),
            provider_id=text(item.get("sg_message_id")),
        ),
    )
