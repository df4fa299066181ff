"""A fake SendGrid v3 Mail Send, checking requests as SendGrid documents them.

Documented behaviour implemented here (Twilio SendGrid docs: Mail Send API reference and its
OpenAPI schema, "Mail Send errors", "Personalizations", "Substitution tags", "Rate limits",
"X-Message-ID"):
- ``POST /v3/mail/send`` with ``Authorization: Bearer <API key>`` and a JSON body; a refused key
  is HTTP 401 ``{"errors": [{"message", "field", "help"}]}``; every error has that shape.
- Required: ``personalizations`` (1 to 1000; at most 1000 recipients in all; each with a
  non-empty ``to`` of ``{"email", "name"?}``; an address only once in the request) and
  ``from.email``. A subject, at the root or in every personalization (min length 1).
- ``content``: ``[{"type", "value"}]``, values non-empty, ``text/plain`` before ``text/html``.
- ``headers`` may not override x-sg-id, x-sg-eid, received, dkim-signature, Content-Type,
  Content-Transfer-Encoding, To, From, Subject, Reply-To, CC, BCC.
- ``substitutions`` (strings) apply to the subject, reply-to and content of that
  personalization, at most 10,000 bytes each; ``custom_args`` (strings) at most 10,000 bytes
  (root and personalization merged); ``categories`` at most 10, each at most 255 characters.
- ``attachments``: ``content`` (base64) and ``filename`` required.
- Errors are HTTP 400, naming the field, e.g. ``personalizations.3.to.0.email`` "Does not
  contain a valid address."; the whole request is refused, nothing is sent.
- Success is HTTP 202 with an empty body and an ``X-Message-Id`` header.
- Responses carry ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (a
  Unix time); past the limit, HTTP 429 ``{"errors": [{"field": null, "message": "too many
  requests"}]}`` with ``X-RateLimit-Remaining: 0`` until the reset.
- ``GET /v3/scopes`` lists the key's scopes (the check: ``mail.send`` must be there).

Event Webhook (Twilio SendGrid docs: "Event Webhook Reference", "Getting Started with the Event
Webhook Security Features"): a JSON array of events, each with ``email``, ``timestamp``,
``event``, ``sg_event_id``, ``sg_message_id``, ``smtp-id`` and the custom args as top-level
keys; bounces with ``type`` (bounce or blocked), ``status``, ``reason``,
``bounce_classification``; signed with ECDSA P-256 over the timestamp header's value followed
by the body (``public_key`` is what Listonosz is configured with).
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import time

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeApi, Received, valid_address
from tests.fakes.webhooks import diagnostic, new_signing_key, public_key_text, sendgrid_headers

RESERVED = {
    "x-sg-id",
    "x-sg-eid",
    "received",
    "dkim-signature",
    "content-type",
    "content-transfer-encoding",
    "to",
    "from",
    "subject",
    "reply-to",
    "cc",
    "bcc",
}
LIMIT = 600
# Error messages as SendGrid's "Mail Send errors" page words them.
NO_CONTENT = "Unless a valid template_id is provided, the content parameter is required."
CONTENT_ORDER = (
    "If present, text/plain and text/html may only be provided in order: text/plain, then "
    "text/html."
)
NO_TO = (
    "The to array is required for all personalization objects, and must have at least one email"
    " object with a valid email address."
)
DUPLICATE = (
    "Each unique email address in the personalizations array should only be included once. You "
    "have included email address more than once."
)
NO_SUBJECT = (
    "The subject is required. You can get around this requirement if you use a template with a "
    "subject defined or if every personalization has a subject defined."
)
SUBSTITUTIONS_SIZE = (
    "The total size of your substitutions may not exceed 10,000 bytes per personalization object."
)


def errors(status: int, *items: tuple[str, str | None]) -> JSONResponse:
    body = {"errors": [{"message": m, "field": f, "help": None} for m, f in items]}
    return JSONResponse(body, status_code=status)


class Invalid(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def size(mapping: dict[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in mapping.items())


class FakeSendGrid(FakeApi):
    name = "sendgrid"

    def __init__(self, *args: object, scopes: tuple[str, ...] = ("mail.send",), **kw: object):
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.scopes = scopes
        self.signing_key = new_signing_key()
        self.public_key = public_key_text(self.signing_key)
        self.batch = 1000  # events per webhook POST

    def webhook_requests(self, received: list[Received]) -> list[tuple[dict[str, str], bytes]]:
        events = [e for r in received for e in self.events_of(r)]
        out = []
        for start in range(0, len(events), self.batch):
            body = orjson.dumps(events[start : start + self.batch])
            out.append((sendgrid_headers(self.signing_key, body), body))
        return out

    def events_of(self, r: Received) -> list[dict[str, object]]:
        """What SendGrid reports on one message: processed, then its fate."""
        now = int(time.time())
        custom = {k: v for k, v in r.metadata.items() if not k.startswith("category")}
        base = {
            "email": r.to,
            "timestamp": now,
            "smtp-id": r.headers.get("Message-ID", f"<{r.provider_id}@sendgrid.example>"),
            "sg_message_id": f"{r.provider_id}.filter0001.{secrets.token_hex(4)}.0",
            **custom,
        }
        fate = self.fate(r.to)
        status, text = diagnostic(fate, r.to)
        kinds: list[dict[str, object]] = [{"event": "processed"}]
        if fate in ("delivered", "complained"):
            kinds.append({"event": "delivered", "response": text})
        if fate == "complained":
            kinds.append({"event": "spamreport"})
        elif fate == "bounced":
            kinds.append(
                {"event": "bounce", "type": "bounce", "status": status, "reason": text,
                 "bounce_classification": "Invalid Address"}
            )  # fmt: skip
        elif fate == "blocked":
            kinds.append(
                {"event": "bounce", "type": "blocked", "status": status, "reason": text,
                 "bounce_classification": "Reputation"}
            )  # fmt: skip
        elif fate == "soft":
            kinds.append({"event": "deferred", "response": text, "attempt": "1"})
        return [{**base, **kind, "sg_event_id": secrets.token_urlsafe(16)} for kind in kinds]

    def routes(self) -> list[Route]:
        return [
            Route("/v3/mail/send", self.mail_send, methods=["POST"]),
            Route("/v3/scopes", self.scopes_route, methods=["GET"]),
        ]

    def rate_headers(self, exhausted_for: float | None) -> dict[str, str]:
        reset = math.ceil(time.time() + (exhausted_for or 1))
        remaining = "0" if exhausted_for else str(LIMIT - 1)
        return {
            "X-RateLimit-Limit": str(LIMIT),
            "X-RateLimit-Remaining": remaining,
            "X-RateLimit-Reset": str(reset),
        }

    def too_many(self, wait: float) -> Response:
        response = errors(429, ("too many requests", None))
        response.headers.update(self.rate_headers(wait))
        return response

    def server_error(self, status: int) -> Response:
        return errors(status, ("internal server error" if status == 500 else "unavailable", None))

    def authorised(self, request: Request) -> bool:
        return not self.refuse_key(request.headers.get("Authorization", "").removeprefix("Bearer "))

    async def scopes_route(self, request: Request) -> Response:
        if not self.authorised(request):
            return errors(
                401, ("The provided authorization grant is invalid, expired, or revoked", None)
            )
        return JSONResponse({"scopes": list(self.scopes)})

    async def mail_send(self, request: Request) -> Response:
        return await self.serve_send(request, self.handle)

    async def handle(self, request: Request) -> Response:
        if not self.authorised(request):
            return errors(
                401, ("The provided authorization grant is invalid, expired, or revoked", None)
            )
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return errors(400, ("Content-Type should be application/json.", None))
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return errors(400, ("Bad Request", None))
        try:
            received = self.check(body)
        except Invalid as problem:
            return errors(400, (problem.message, problem.field))
        request.state.messages = len(received)
        message_id = secrets.token_urlsafe(16)
        for r in received:
            r.provider_id = message_id
        self.record(received)
        return Response(status_code=202, headers={"X-Message-Id": message_id})

    def check(self, body: object) -> list[Received]:
        """The recipients' messages, or ``Invalid`` naming the first refused field."""
        if not isinstance(body, dict):
            raise Invalid("Bad Request")
        sender = body.get("from")
        if not isinstance(sender, dict) or not valid_address(str(sender.get("email", ""))):
            raise Invalid("The from email does not contain a valid address.", "from.email")
        people = body.get("personalizations")
        if not isinstance(people, list) or not people:
            raise Invalid("You must have at least one personalization.", "personalizations")
        if len(people) > 1000:
            raise Invalid(
                "The personalization block is limited to 1000 personalizations per API request. "
                f"You have provided {len(people)} personalizations.",
                "personalizations",
            )
        content = body.get("content")
        if not isinstance(content, list) or not content:
            raise Invalid(
                NO_CONTENT,
                "content",
            )
        types = [c.get("type") for c in content if isinstance(c, dict)]
        for number, item in enumerate(content):
            if not isinstance(item, dict) or not item.get("type") or not item.get("value"):
                raise Invalid(
                    "The content value must be a string at least one character in length.",
                    f"content.{number}.value",
                )
        if (
            "text/html" in types
            and "text/plain" in types
            and types.index("text/plain") > types.index("text/html")
        ):
            raise Invalid(
                CONTENT_ORDER,
                "content",
            )
        self.check_headers(body.get("headers", {}), "headers")
        categories = body.get("categories", [])
        if len(categories) > 10 or any(len(c) > 255 for c in categories):
            raise Invalid("Categories: at most 10, each at most 255 characters.", "categories")
        attachments = []
        for number, item in enumerate(body.get("attachments", [])):
            if not item.get("content") or "filename" not in item:
                raise Invalid(
                    "The attachment content and filename are required.", f"attachments.{number}"
                )
            try:
                attachments.append(
                    (item["filename"], base64.b64decode(item["content"], validate=True))
                )
            except binascii.Error:
                raise Invalid(
                    "The attachment content must be base64 encoded.",
                    f"attachments.{number}.content",
                ) from None
        root_args = body.get("custom_args", {})
        seen: set[str] = set()
        total = 0
        received = []
        for number, person in enumerate(people):
            where = f"personalizations.{number}"
            to = person.get("to") if isinstance(person, dict) else None
            if not isinstance(to, list) or not to:
                raise Invalid(
                    NO_TO,
                    f"{where}.to",
                )
            total += len(to) + len(person.get("cc", [])) + len(person.get("bcc", []))
            for slot, recipient in enumerate(to):
                address = str(recipient.get("email", ""))
                if not valid_address(address) or address in self.invalid:
                    raise Invalid("Does not contain a valid address.", f"{where}.to.{slot}.email")
                if address.lower() in seen:
                    raise Invalid(
                        DUPLICATE,
                        f"{where}.to.{slot}.email",
                    )
                seen.add(address.lower())
            subject = person.get("subject") or body.get("subject")
            if not subject:
                raise Invalid(
                    NO_SUBJECT,
                    "subject",
                )
            self.check_headers(person.get("headers", {}), f"{where}.headers")
            substitutions = person.get("substitutions", {})
            if not all(isinstance(v, str) for v in substitutions.values()):
                raise Invalid("Substitutions must be strings.", f"{where}.substitutions")
            if size(substitutions) > 10_000:
                raise Invalid(
                    SUBSTITUTIONS_SIZE,
                    f"{where}.substitutions",
                )
            custom = {**root_args, **person.get("custom_args", {})}
            if not all(isinstance(v, str) for v in custom.values()) or size(custom) > 10_000:
                raise Invalid(
                    "custom_args must be strings, 10,000 bytes at most.", f"{where}.custom_args"
                )

            def substitute(text: str, subs: dict[str, str] = substitutions) -> str:
                for tag, value in subs.items():
                    text = text.replace(tag, value)
                return text

            by_type = {c["type"]: substitute(c["value"]) for c in content} if self.keep else {}
            for recipient in to:
                received.append(
                    Received(
                        key=custom.get("ledger_key", ""),
                        to=recipient["email"],
                        to_name=recipient.get("name", ""),
                        from_email=sender["email"],
                        subject=substitute(str(subject)),
                        text=by_type.get("text/plain", ""),
                        html=by_type.get("text/html", ""),
                        headers={**body.get("headers", {}), **person.get("headers", {})},
                        provider_id="",
                        campaign=custom.get("campaign", ""),
                        attachments=attachments,
                        metadata={
                            **custom,
                            **{f"category{n}": c for n, c in enumerate(categories)},
                        },
                    )
                )
        if total > 1000:
            raise Invalid(
                "There is a limit of 1000 total recipients (to + cc + bcc) per request.",
                "personalizations",
            )
        return received

    @staticmethod
    def check_headers(headers: object, where: str) -> None:
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise Invalid("Headers must be an object of string values.", where)
        for name in headers:
            if name.lower() in RESERVED:
                raise Invalid(
                    f"The header {name} is reserved and may not be set.", f"{where}.{name}"
                )
