"""Postmark: ``POST /email/batch``, up to 500 messages a call, one result per message.

The batch endpoint answers 200 even when some messages are refused: each message has its own
``ErrorCode`` (0 = accepted, with its ``MessageID``), in the order sent. The ledger key rides in
``Metadata`` (returned in every webhook); the campaign id is the ``Tag``. ``GET /server`` checks
the server token. Postmark documents a 429 but no rate-limit headers; a ``Retry-After``, should
one come, is honoured by the shared client.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import lru_cache

import httpx

from listonosz.config import TransportSettings
from listonosz.mail import address_line
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
