"""A fake Brevo transactional email API, checking requests as Brevo documents them.

Documented behaviour implemented here (Brevo developer docs: "Send a transactional email"
reference, "Batch send transactional emails", "Idempotency for batch emails", "Rate limit
headers", "Rate limits"; the SendSmtpEmail model of Brevo's SDKs):
- ``POST /v3/smtp/email`` with the key in the ``api-key`` header and a JSON body; a refused key
  is 401 ``{"code": "unauthorized", "message": …}``; every error has the ``{code, message}``
  shape (``invalid_parameter``, ``missing_parameter``, …).
- Required without a template: ``sender.email``, ``subject``, ``htmlContent``. With
  ``messageVersions`` (at most 1000 a call; each with ``to`` of 1 to 99 recipients, at most 2000
  in all) each version may override ``subject``, ``htmlContent``, ``textContent``, ``replyTo``;
  django-anymail's Brevo backend also relies on per-version ``headers``, which the fake honours.
- ``headers``: custom headers; ``idempotencyKey`` in them must be a UUID: a request whose key
  was seen in the last 15 minutes is processed once (the fake replays the first answer: Brevo
  documents that repeats are ignored, not what they are answered).
  ``X-Mailin-custom`` is returned in webhooks (the ledger key travels there).
- ``attachment``: ``[{"content" (base64) or "url", "name"}]`` with an allowed extension.
- Success is 201 ``{"messageIds": [...]}``, one id per version, in order.
- Every answer carries ``x-sib-ratelimit-limit``, ``x-sib-ratelimit-remaining`` and
  ``x-sib-ratelimit-reset`` (seconds until the window resets); past the limit, 429.
- ``GET /v3/account`` answers the account (the check).

Transactional webhooks (Brevo developer docs: "Transactional webhooks", "Batched webhooks",
"Secured webhook calls"): one JSON object per event, or in batched mode a list of them; each
with ``event`` (delivered, soft_bounce, hard_bounce, spam, …), ``email``, ``message-id``,
``ts``, ``ts_event``, ``ts_epoch`` (milliseconds), ``X-Mailin-custom``, ``tags`` and for
bounces ``reason``; no event id. Authenticated by Basic credentials in the URL or a bearer
token.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeApi, Received, valid_address
from tests.fakes.webhooks import basic, diagnostic

VERSION_LIMIT = 1000
RECIPIENTS_PER_VERSION = 99
RECIPIENTS_PER_CALL = 2000
IDEMPOTENCY_TTL = 15 * 60
EXTENSIONS = {
    "xlsx", "xls", "ods", "docx", "docm", "doc", "csv", "pdf", "txt", "gif", "jpg", "jpeg",
    "png", "tif", "tiff", "rtf", "bmp", "cgm", "css", "shtml", "html", "htm", "zip", "xml",
    "ppt", "pptx", "tar", "ez", "ics", "mobi", "msg", "pub", "eps", "odt", "mp3", "m4a", "m4v",
    "wma", "ogg", "flac", "wav", "aif", "aifc", "aiff", "mp4", "mov", "avi", "mkv", "mpeg",
    "mpg", "wmv", "pkpass", "xlsm",
}  # fmt: skip
LIMIT = 1000


def error(status: int, code: str, text: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": text}, status_code=status)


class Invalid(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


class FakeBrevo(FakeApi):
    name = "brevo"

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.seen_keys: dict[str, tuple[float, bytes]] = {}
        self.replays = 0
        self.batched = True  # one POST with every event (Brevo's batched mode)

    def webhook_requests(self, received: list[Received]) -> list[tuple[dict[str, str], bytes]]:
        assert self.webhook is not None
        if self.webhook.token:
            auth = {"Authorization": f"Bearer {self.webhook.token}"}
        else:
            auth = basic(self.webhook.user or "", self.webhook.password or "")
        headers = {"Content-Type": "application/json", **auth}
        events = [e for r in received for e in self.events_of(r)]
        if self.batched:
            return [(headers, orjson.dumps(events))] if events else []
        return [(headers, orjson.dumps(e)) for e in events]

    def events_of(self, r: Received) -> list[dict[str, object]]:
        """What Brevo reports on one message: request, then its fate."""
        now = time.time()
        fate = self.fate(r.to)
        _, text = diagnostic(fate, r.to)
        base = {
            "email": r.to,
            "id": 1,
            "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)),
            "ts": int(now),
            "message-id": r.provider_id,
            "ts_event": int(now),
            "subject": r.subject,
            "X-Mailin-custom": r.headers.get("X-Mailin-custom", ""),
            "sending_ip": "185.41.28.109",
            "ts_epoch": int(now * 1000),
            "tags": [v for k, v in r.metadata.items() if k.startswith("tag")],
        }
        kinds: list[dict[str, object]] = [{"event": "request"}]
        if fate in ("delivered", "complained"):
            kinds.append({"event": "delivered"})
        if fate == "complained":
            kinds.append({"event": "spam"})
        elif fate in ("bounced", "blocked"):  # a 5.7.1 in the reason makes it a block
            kinds.append({"event": "hard_bounce", "reason": text})
        elif fate == "soft":
            kinds.append({"event": "soft_bounce", "reason": text})
        return [{**base, **kind} for kind in kinds]

    def routes(self) -> list[Route]:
        return [
            Route("/v3/smtp/email", self.smtp_email, methods=["POST"]),
            Route("/v3/account", self.account, methods=["GET"]),
        ]

    def rate_headers(self, exhausted_for: float | None) -> dict[str, str]:
        return {
            "x-sib-ratelimit-limit": str(LIMIT),
            "x-sib-ratelimit-remaining": "0" if exhausted_for else str(LIMIT - 1),
            "x-sib-ratelimit-reset": f"{exhausted_for or 1:g}",
        }

    def too_many(self, wait: float) -> Response:
        response = error(429, "too_many_requests", "The rate limit has been exceeded")
        response.headers.update(self.rate_headers(wait))
        return response

    def server_error(self, status: int) -> Response:
        return error(status, "internal_error", "Internal server error")

    async def account(self, request: Request) -> Response:
        if self.refuse_key(request.headers.get("api-key")):
            return error(401, "unauthorized", "Key not found")
        return JSONResponse({"email": "zaproszenia@rops-bialystok.example", "plan": []})

    async def smtp_email(self, request: Request) -> Response:
        return await self.serve_send(request, self.handle)

    async def handle(self, request: Request) -> Response:
        if self.refuse_key(request.headers.get("api-key")):
            return error(401, "unauthorized", "Key not found")
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return error(400, "bad_request", "Content-Type must be application/json")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return error(400, "bad_request", "Input must be a valid JSON object")
        if not isinstance(body, dict):
            return error(400, "bad_request", "Input must be a valid JSON object")
        key = (body.get("headers") or {}).get("idempotencyKey")
        now = time.monotonic()
        with self.lock:
            earlier = self.seen_keys.get(key) if key else None
            if earlier and now - earlier[0] < IDEMPOTENCY_TTL:
                self.replays += 1
                return Response(earlier[1], status_code=201, media_type="application/json")
        try:
            received = self.check(body)
        except Invalid as problem:
            return error(400, problem.code, problem.text)
        request.state.messages = len(received)
        ids = [f"<{uuid.uuid4().hex}@smtp-relay.mailin.fr>" for _ in received]
        for r, message_id in zip(received, ids, strict=True):
            r.provider_id = message_id
        answer = orjson.dumps({"messageIds": ids})
        with self.lock:
            if key:
                self.seen_keys[key] = (now, answer)
        self.record(received)
        return Response(answer, status_code=201, media_type="application/json")

    def check(self, body: dict[str, object]) -> list[Received]:
        sender = body.get("sender")
        if not isinstance(sender, dict) or not valid_address(str(sender.get("email", ""))):
            raise Invalid("missing_parameter", "sender is missing or invalid")
        if not body.get("subject"):
            raise Invalid("missing_parameter", "subject is missing")
        if not body.get("htmlContent"):
            raise Invalid("missing_parameter", "htmlContent is missing")
        headers = body.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise Invalid("invalid_parameter", "headers must be an object of strings")
        if "idempotencyKey" in headers:
            try:
                uuid.UUID(headers["idempotencyKey"])
            except ValueError:
                raise Invalid("invalid_parameter", "idempotencyKey must be a UUID") from None
        attachments = []
        for item in body.get("attachment", []):  # type: ignore[union-attr]
            name = str(item.get("name", ""))
            if name.rpartition(".")[2].lower() not in EXTENSIONS:
                raise Invalid("invalid_parameter", f"attachment extension not allowed: {name}")
            try:
                attachments.append((name, base64.b64decode(item["content"], validate=True)))
            except (KeyError, binascii.Error):
                raise Invalid("invalid_parameter", "attachment content must be base64") from None
        versions = body.get("messageVersions") or [{"to": body.get("to")}]
        if not isinstance(versions, list) or len(versions) > VERSION_LIMIT:
            raise Invalid("invalid_parameter", "messageVersions: 1000 versions at most")
        total = 0
        received = []
        for version in versions:
            to = version.get("to") if isinstance(version, dict) else None
            if not isinstance(to, list) or not to or len(to) > RECIPIENTS_PER_VERSION:
                raise Invalid("invalid_parameter", "to: 1 to 99 recipients in each version")
            total += len(to)
            own = version.get("headers") or {}
            merged = {k: v for k, v in {**headers, **own}.items() if k != "idempotencyKey"}
            custom = orjson.loads(merged.get("X-Mailin-custom", "{}"))
            for recipient in to:
                address = str(recipient.get("email", ""))
                if not valid_address(address) or address in self.invalid:
                    raise Invalid("invalid_parameter", "email is not valid in to")
                received.append(
                    Received(
                        key=str(custom.get("ledger_key", "")),
                        to=address,
                        to_name=str(recipient.get("name", "")),
                        from_email=str(sender["email"]),
                        subject=str(version.get("subject") or body["subject"]),
                        text=str(version.get("textContent") or body.get("textContent", "")),
                        html=str(version.get("htmlContent") or body["htmlContent"]),
                        headers=merged,
                        provider_id="",
                        campaign=str(custom.get("campaign", "")),
                        attachments=attachments,
                        metadata={
                            **{k: str(v) for k, v in custom.items()},
                            **{f"tag{n}": str(t) for n, t in enumerate(body.get("tags", []))},
                        },
                    )
                )
        if total > RECIPIENTS_PER_CALL:
            raise Invalid("invalid_parameter", "2000 recipients at most in one request")
        return received
