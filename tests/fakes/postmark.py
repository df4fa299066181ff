"""A fake Postmark, checking requests as Postmark documents them.

Documented behaviour implemented here (Postmark developer docs: API overview, "Send batch
emails", "Sending email with API", support articles on error 300 and 422):
- ``POST /email/batch`` with ``Accept`` and ``Content-Type: application/json`` and the server
  token in ``X-Postmark-Server-Token``; a wrong or missing token is HTTP 401, ErrorCode 10.
- The body is a JSON array of at most 500 messages (else HTTP 422, ErrorCode 410 "Too many batch
  messages") and at most 50 MB (else HTTP 413); bad JSON is 422, ErrorCode 402.
- Each message: ``From``, ``To`` (``Name <address>`` accepted; at most 50 recipients),
  ``Subject``, ``TextBody`` and/or ``HtmlBody`` (one is required), ``ReplyTo``, ``Tag``,
  ``Headers`` as ``[{"Name", "Value"}]``, ``Metadata`` (string values), ``MessageStream``,
  ``Attachments`` as ``[{"Name", "Content" (base64), "ContentType"}]``.
- The batch answers HTTP 200 even when messages are refused: one result per message, in order:
  ``{"ErrorCode": 0, "Message": "OK", "MessageID", "SubmittedAt", "To"}``, or ErrorCode 300
  (invalid email request, e.g. an illegal address) or 406 (inactive recipient: bounced or
  complained before).
- 429 "Rate Limit Exceeded" exists; Postmark documents no rate-limit headers and no
  ``Retry-After`` (the fake adds ``Retry-After`` only when a test injects ``429:N``, to show the
  client honours one if it comes). 500 / 503 bodies use the same ``ErrorCode``/``Message`` shape.
- ``GET /server`` with the server token answers the server's settings (the check).

Webhooks (Postmark developer docs: "Webhooks overview", "Delivery webhook", "Bounce webhook",
"Spam complaint webhook"): one JSON object per event, by ``RecordType``; no signature: the
URL's Basic credentials. A Bounce has its own ``ID``, ``Type`` (HardBounce, SoftBounce,
Blocked, …) and ``TypeCode``; every record has ``MessageID`` and the ``Metadata`` sent.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import itertools
import uuid

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeApi, Received, split_address, valid_address
from tests.fakes.webhooks import basic, diagnostic

BATCH_LIMIT = 500
PAYLOAD_LIMIT = 50 * 1024 * 1024
MAX_RECIPIENTS = 50


def error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"ErrorCode": code, "Message": message}, status_code=status)


#: Bounce Type → TypeCode (Postmark's bounce types).
TYPE_CODES = {"HardBounce": 1, "SoftBounce": 4096, "Blocked": 100000, "SpamComplaint": 512}
_bounce_ids = itertools.count(4_100_000_000)


class FakePostmark(FakeApi):
    name = "postmark"

    def webhook_requests(self, received: list[Received]) -> list[tuple[dict[str, str], bytes]]:
        assert self.webhook is not None
        auth = basic(self.webhook.user or "", self.webhook.password or "")
        headers = {"Content-Type": "application/json", **auth}
        return [(headers, orjson.dumps(e)) for r in received for e in self.events_of(r)]

    def events_of(self, r: Received) -> list[dict[str, object]]:
        """What Postmark reports on one message."""
        now = dt.datetime.now(dt.UTC).isoformat()
        metadata = {k: v for k, v in r.metadata.items() if k != "Tag"}
        common = {"MessageID": r.provider_id, "ServerID": 1, "MessageStream": "outbound",
                  "Tag": r.campaign, "Metadata": metadata}  # fmt: skip
        fate = self.fate(r.to)
        _, text = diagnostic(fate, r.to)
        out: list[dict[str, object]] = []
        if fate in ("delivered", "complained"):
            out.append({"RecordType": "Delivery", "Recipient": r.to, "DeliveredAt": now,
                        "Details": text, **common})  # fmt: skip
        kind = {"complained": "SpamComplaint", "bounced": "HardBounce", "soft": "SoftBounce",
                "blocked": "Blocked"}.get(fate)  # fmt: skip
        if kind:
            out.append(
                {
                    "RecordType": "SpamComplaint" if kind == "SpamComplaint" else "Bounce",
                    "ID": next(_bounce_ids),
                    "Type": kind,
                    "TypeCode": TYPE_CODES[kind],
                    "Name": kind,
                    "Description": "The message could not be delivered.",
                    "Details": text,
                    "Email": r.to,
                    "From": r.from_email,
                    "BouncedAt": now,
                    "DumpAvailable": False,
                    "Inactive": kind in ("HardBounce", "SpamComplaint"),
                    "CanActivate": True,
                    "Subject": r.subject,
                    **common,
                }
            )
        return out

    def routes(self) -> list[Route]:
        return [
            Route("/email/batch", self.batch, methods=["POST"]),
            Route("/server", self.server, methods=["GET"]),
        ]

    def too_many(self, wait: float) -> Response:
        response = error(429, 429, "Rate Limit Exceeded")
        response.headers["Retry-After"] = f"{wait:g}"
        return response

    def server_error(self, status: int) -> Response:
        if status == 503:
            return error(503, 100, "Maintenance")
        return error(status, 0, "Internal Server Error")

    async def server(self, request: Request) -> Response:
        if self.refuse_key(request.headers.get("X-Postmark-Server-Token")):
            return error(401, 10, "Bad or missing API token")
        return JSONResponse({"ID": 1, "Name": "Listonosz", "ApiTokens": ["…"]})

    async def batch(self, request: Request) -> Response:
        return await self.serve_send(request, self.handle)

    async def handle(self, request: Request) -> Response:
        if self.refuse_key(request.headers.get("X-Postmark-Server-Token")):
            return error(401, 10, "Bad or missing API token")
        if "application/json" not in request.headers.get("Accept", ""):
            return error(422, 409, "JSON required: send Accept: application/json")
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return error(422, 409, "JSON required")
        raw = await request.body()
        if len(raw) > PAYLOAD_LIMIT:
            return error(413, 0, "Payload too large")
        try:
            messages = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return error(422, 402, "Invalid JSON")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return error(422, 403, "Incompatible JSON: a batch is an array of messages")
        if len(messages) > BATCH_LIMIT:
            return error(422, 410, f"Too many batch messages ({len(messages)}); 500 at most")
        request.state.messages = len(messages)
        answers, accepted = [], []
        for message in messages:
            answer, received = self.one(message)
            answers.append(answer)
            if received:
                accepted.append(received)
        self.record(accepted)
        return JSONResponse(answers)

    def one(self, message: dict[str, object]) -> tuple[dict[str, object], Received | None]:
        """One message's answer within the batch, and what its recipient gets."""
        problem = shape_problem(message)
        if problem:
            return {"ErrorCode": 300, "Message": problem}, None
        to_name, to = split_address(str(message["To"]))
        if to in self.invalid:
            return {
                "ErrorCode": 300,
                "Message": f"Error parsing 'To': Illegal email address '{to}'.",
            }, None
        if to in self.inactive:
            return {
                "ErrorCode": 406,
                "Message": "You tried to send to recipient(s) that have been marked as inactive. "
                f"Found inactive addresses: {to}. Inactive recipients are ones that have "
                "generated a hard bounce, a spam complaint, or a manual suppression.",
            }, None
        message_id = str(uuid.uuid4())
        metadata = message.get("Metadata") or {}
        assert isinstance(metadata, dict)
        received = Received(
            key=str(metadata.get("ledger_key", "")),
            to=to,
            to_name=to_name,
            from_email=split_address(str(message["From"]))[1],
            subject=str(message.get("Subject", "")),
            text=str(message.get("TextBody", "")) if self.keep else "",
            html=str(message.get("HtmlBody", "")) if self.keep else "",
            headers={h["Name"]: h["Value"] for h in message.get("Headers", [])},  # type: ignore[union-attr]
            provider_id=message_id,
            campaign=str(message.get("Tag", "")),
            metadata={**metadata, "Tag": str(message.get("Tag", ""))},
            attachments=[
                (a["Name"], base64.b64decode(a["Content"]))
                for a in message.get("Attachments", [])  # type: ignore[union-attr]
            ]
            if self.keep
            else [],
        )
        answer = {
            "ErrorCode": 0,
            "Message": "OK",
            "MessageID": message_id,
            "SubmittedAt": dt.datetime.now(dt.UTC).isoformat(),
            "To": message["To"],
        }
        return answer, received


def shape_problem(message: dict[str, object]) -> str | None:
    """Why Postmark would refuse this message as an invalid email request (ErrorCode 300)."""
    sender = split_address(str(message.get("From", "")))[1]
    if not valid_address(sender):
        return f"Invalid 'From' address: '{message.get('From')}'."
    recipients = [r for r in str(message.get("To", "")).split(",") if r.strip()]
    if not recipients:
        return "Zero recipients specified"
    if len(recipients) > MAX_RECIPIENTS:
        return "Maximum of 50 recipients allowed per email message"
    for recipient in recipients:
        if not valid_address(split_address(recipient)[1]):
            return f"Error parsing 'To': Illegal email address '{recipient.strip()}'."
    if not message.get("TextBody") and not message.get("HtmlBody"):
        return "Provide either email TextBody or HtmlBody or both."
    headers = message.get("Headers", [])
    if not isinstance(headers, list) or not all(
        isinstance(h, dict) and set(h) == {"Name", "Value"} for h in headers
    ):
        return "Headers must be a list of {Name, Value}"
    metadata = message.get("Metadata", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        return "Metadata values must be strings"
    for attachment in message.get("Attachments", []):  # type: ignore[union-attr]
        if not isinstance(attachment, dict) or not {"Name", "Content", "ContentType"} <= set(
            attachment
        ):
            return "Attachments need Name, Content and ContentType"
        try:
            base64.b64decode(attachment["Content"], validate=True)
        except binascii.Error:
            return f"Attachment {attachment['Name']!r} is not valid base64"
    for name in ("Subject", "ReplyTo", "Tag", "MessageStream"):
        if name in message and not isinstance(message[name], str):
            return f"{name} must be a string"
    return None
