"""Mailgun: ``POST /v3/{domain}/messages`` in the EU or US region, up to 1000 recipients a call.

Batch sending gives every ``to`` address its own message when ``recipient-variables`` are sent:
``%recipient.NAME%`` anywhere in the subject, bodies, ``h:`` headers and ``v:`` variables takes
that recipient's value. Listonosz renders every message itself, so the batch's bodies are factored
(``factoring``) into one template and per-recipient values. Mailgun answers one message ``id``
for the call; a 400 (``{"message": "…"}``) does not say which recipient is at fault, so the shared
transport splits the call until the one to blame is alone. ``v:ledger-key`` carries the ledger key
into every event; note that ``v:`` variables reach the recipient in ``X-Mailgun-Variables``, so
nothing about the person goes there. ``GET /v4/domains/{domain}`` checks the key and domain.

Its webhooks post one event a request: ``{"signature": {"timestamp", "token", "signature"},
"event-data": {…}}``, the signature the hex HMAC-SHA256 of timestamp + token under the webhook
signing key; a token is accepted once (the route records it with the body) and a timestamp
far from now is refused. ``event-data.user-variables`` carries ``ledger-key`` back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from listonosz.config import TransportSettings, WebhookSettings
from listonosz.mail import address_line
from listonosz.tracking import TrackedEvent
from listonosz.transports.base import Delivery, Outgoing, TransportUnavailable
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
    load_json,
    read_each,
    text,
    unreadable_body,
)

REGION_URLS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}
BATCH_LIMIT = 1000
BATCH_BYTES = 20 * 1024 * 1024  # Mailgun's limit is 25 MB for the message
VARIABLE = "%recipient.{}%"
VARIABLE_START = "%recipient."  # a message holding this goes alone


class Mailgun:
    """Request building and answer reading for Mailgun's messages API."""

    name = "mailgun"

    def __init__(self, settings: TransportSettings) -> None:
        self.domain = settings.domain

    def check_request(self) -> ApiRequest:
        if not self.domain:
            raise TransportUnavailable("mailgun: set the sending domain (domain = …)")
        return ApiRequest("GET", f"/v4/domains/{self.domain}")

    def checked(self, response: httpx.Response) -> str | None:
        return None

    def requests(self, messages: Sequence[Outgoing]) -> list[ApiRequest]:
        out = []
        for alike in sharing_requests(messages, shared_parts):
            for run in chunks(alike, BATCH_LIMIT, BATCH_BYTES, distinct=True):
                try:
                    alone, bodies = factor_bodies(run, VARIABLE_START, own_texts)
                except FactoringError:
                    alone, bodies = run, None
                if bodies:
                    out.append(self.request(bodies))
                out += [self.plain(m) for m in alone]
        return out

    def request(self, bodies: Bodies) -> ApiRequest:
        """One batch call: factored bodies, per-recipient values in recipient-variables."""
        run, text, html = bodies.messages, bodies.text, bodies.html
        parts = [m.parts for m in run if m.parts]
        first = parts[0]
        subjects = [p.subject for p in parts]
        common, personal = split_headers(run)
        variables: dict[str, dict[str, str]] = {}
        for index, (message, p) in enumerate(zip(run, parts, strict=True)):
            mine = {"ledger_key": message.key, "subject": p.subject}
            mine |= {f"t{n}": v for n, v in enumerate(text.values[index])}
            mine |= {f"h{n}": v for n, v in enumerate(html.values[index])}
            mine |= {f"x{n}": personal[index].get(name, "") for n, name in enumerate(personal[0])}
            variables[p.to_email] = mine
        data: dict[str, str | list[str]] = {
            "from": address_line(first.from_name, first.from_email),
            "to": [address_line(p.to_name, p.to_email) for p in parts],
            "subject": VARIABLE.format("subject") if len(set(subjects)) > 1 else first.subject,
            "text": template(text, "t"),
            "html": template(html, "h"),
            "recipient-variables": json.dumps(variables, ensure_ascii=False),
            "v:ledger-key": VARIABLE.format("ledger_key"),
        }
        for name, value in common.items():
            data[f"h:{name}"] = value
        for number, name in enumerate(personal[0]):
            data[f"h:{name}"] = VARIABLE.format(f"x{number}")
        campaign = first.headers.get("X-Listonosz-Campaign")
        if campaign:
            data["v:campaign"] = campaign
            data["o:tag"] = campaign
        if first.reply_to:
            data["h:Reply-To"] = first.reply_to
        return self.finish(run, data)

    def plain(self, message: Outgoing) -> ApiRequest:
        """A message whose text contains ``%recipient.`` itself, sent as it is."""
        p = message.parts
        assert p is not None
        data: dict[str, str | list[str]] = {
            "from": address_line(p.from_name, p.from_email),
            "to": address_line(p.to_name, p.to_email),
            "subject": p.subject,
            "text": p.text,
            "html": p.html,
            "v:ledger-key": message.key,
        }
        for name, value in p.headers.items():
            data[f"h:{name}"] = value
        campaign = p.headers.get("X-Listonosz-Campaign")
        if campaign:
            data["v:campaign"] = campaign
            data["o:tag"] = campaign
        if p.reply_to:
            data["h:Reply-To"] = p.reply_to
        return self.finish([message], data)

    def finish(self, run: list[Outgoing], data: dict[str, str | list[str]]) -> ApiRequest:
        """Always ``multipart/form-data``, as Mailgun documents it: fields, then files."""
        first = run[0].parts
        assert first is not None
        fields: list[tuple[str, tuple[str | None, bytes, str]]] = []
        for name, value in data.items():
            for one in [value] if isinstance(value, str) else value:
                fields.append((name, (None, one.encode(), "text/plain; charset=utf-8")))
        fields += [("attachment", (a.filename, a.data, a.content_type)) for a in first.attachments]
        path = f"/v3/{self.domain or first.from_email.rpartition('@')[2]}/messages"
        return ApiRequest("POST", path, tuple(run), files=fields)

    def accepted(self, request: ApiRequest, response: httpx.Response) -> list[Delivery]:
        detail = f"mailgun id {response.json().get('id')}"
        return [Delivery(m.key, "sent", detail) for m in request.messages]

    def refused(self, request: ApiRequest, response: httpx.Response) -> Refusal:
        text = message_of(response)
        if response.status_code in (402, 404) or text.lower().startswith("from parameter"):
            return Refusal(text, scope="account")  # no such domain or region, unpaid, bad sender
        return Refusal(text, suppress="not a valid address" in text.lower())

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        return None  # Mailgun asks to retry "as defined in the response": Retry-After


def own_texts(message: Outgoing) -> tuple[str, ...]:
    """What a recipient's variables carry besides the substituted bodies."""
    p = message.parts
    return (p.subject, *p.headers.values()) if p else ()


def template(factored: Factored, prefix: str) -> str:
    return factored.template(lambda n: VARIABLE.format(f"{prefix}{n}"))


def message_of(response: httpx.Response) -> str:
    """Mailgun's error shape: ``{"message": "…"}`` (or plain text, e.g. ``Forbidden``)."""
    try:
        return short(str(response.json().get("message")))
    except (ValueError, AttributeError):
        return short(response.text)


def make(settings: TransportSettings, pace: Pace | None = None) -> ApiTransport:
    """A Mailgun transport: HTTP basic auth, user ``api``, the key as password."""
    url = REGION_URLS[settings.region]
    return api_transport(Mailgun(settings), settings, pace, url, auth=("api", api_key(settings)))


# -- webhooks ----------------------------------------------------------------------------------

#: Mailgun's event name → the normalised type (``failed`` is read by its severity).
EVENTS: dict[str, str] = {
    "accepted": "queued",
    "delivered": "delivered",
    "complained": "complained",
    "unsubscribed": "unsubscribed",
    "opened": "opened",
    "clicked": "clicked",
}


def verify_webhook(
    headers: Mapping[str, str], body: bytes, settings: WebhookSettings, now: float
) -> str | None:
    """Accept a request whose signature block is Mailgun's HMAC of timestamp + token, signed
    less than ``max_age`` ago; returns the token, to be accepted only once."""
    configured = settings.mailgun.signing_key
    if configured is None:
        raise WebhookRefused(404, "the Mailgun webhook is not configured")
    try:
        block = orjson.loads(body)["signature"]
        timestamp, token, signature = block["timestamp"], block["token"], block["signature"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise WebhookRefused(401, "no Mailgun signature block") from None
    if not all(isinstance(v, str | int) for v in (timestamp, token, signature)):
        raise WebhookRefused(401, "no Mailgun signature block")
    timestamp, token, signature = str(timestamp), str(token), str(signature)
    expected = hmac.new(
        configured.get_secret_value().encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise WebhookRefused(403, "the Mailgun signature does not match")
    check_age(timestamp, now, settings.mailgun.max_age)
    return token


def parse_webhook(body: str) -> Parsed:
    """The one event of a posted body."""
    try:
        posted = load_json(body)
        if not isinstance(posted, dict):
            raise Unreadable("the body is not a JSON object")
    except Unreadable as exc:
        return unreadable_body(exc)
    return read_each([posted.get("event-data")], read_event)


def read_event(data: Mapping[str, Any]) -> TrackedEvent | None:
    """One ``event-data`` object as a :class:`TrackedEvent` (None for kinds not tracked).

    ``failed`` is a bounce: ``permanent`` hard (``old``: expired after Mailgun's retries; a
    5.7.x status: a policy block), ``temporary`` a soft deferral that Mailgun retries (a
    ``deferred`` event, so its retries do not add up to a suppression).
    """
    name = data["event"]
    event_id = text(data.get("id"))
    if event_id is None:
        raise Unreadable("missing field 'id'")
    status = data.get("delivery-status") or {}
    if not isinstance(status, Mapping):
        status = {}
    enhanced = enhanced_status(status.get("message"), status.get("description"))
    bounce_class = None
    if name == "failed":
        severity = data.get("severity")
        if severity == "temporary":
            kind, bounce_class = "deferred", "soft"
        else:
            kind = "bounced"
            if enhanced.startswith("5.7."):
                bounce_class = "block"
            elif data.get("reason") == "old":
                bounce_class = "expired"
            else:
                bounce_class = "hard"
    elif name == "rejected":
        kind, bounce_class = "rejected", "soft"  # Mailgun refused the message, not the address
    elif name in EVENTS:
        kind = EVENTS[name]
    else:
        return None
    variables = data.get("user-variables") or {}
    message = data.get("message") or {}
    headers = message.get("headers") or {} if isinstance(message, Mapping) else {}
    reject = data.get("reject") or {}
    return TrackedEvent(
        source="mailgun",
        # Mailgun's id is unique "within a day": with the event's time it is unique for good
        source_event_id=f"{event_id}@{data['timestamp']}",
        type=kind,  # type: ignore[arg-type]
        occurred_at=from_epoch(data["timestamp"]),
        delivery_key=text(variables.get("ledger-key")) if isinstance(variables, Mapping) else None,
        message_id=text(headers.get("message-id")) if isinstance(headers, Mapping) else None,
        recipient=text(data.get("recipient")),
        bounce_class=bounce_class,  # type: ignore[arg-type]
        detail=detail(
            event=name,
            severity=text(data.get("severity")),
            reason=text(data.get("reason")),
            status=enhanced or str(status.get("code") or ""),
            diagnostic=diagnostic(
                status.get("description"),
                status.get("message"),
                reject.get("reason") if isinstance(reject, Mapping) else None,
            ),
        ),
    )
