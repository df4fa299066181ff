"""A fake Mailgun messages API, checking requests as Mailgun documents them.

Documented behaviour implemented here (Mailgun docs: "Send a message" API reference, "Batch
sending", "Attaching metadata", "API response codes", "Get domain details"):
- ``POST /v3/{domain}/messages``, HTTP basic auth with user ``api`` and the API key as password,
  ``multipart/form-data`` fields (repeatable: ``to``, ``attachment``); a refused key is 401, an
  unknown domain (or the wrong region) is 404 ``{"message": "Domain not found: …"}``.
- Required: ``from``, ``to`` (at most 1000 recipients for batch sending), ``subject``, and at
  least one of ``text``, ``html``; ``h:X-Header`` adds a header, ``v:name`` a variable returned in
  events, ``o:tag`` a tag, ``attachment`` a file.
- Batch sending: with ``recipient-variables`` (a JSON object keyed by address) every ``to`` gets
  an individual message and ``%recipient.NAME%`` is replaced anywhere in it; without them, all
  recipients would see each other in one message (the fake records it so).
- Errors are ``{"message": "…"}``: 400 for a bad request (e.g. "to parameter is not a valid
  address. please check documentation"), without saying which recipient; 429 when over the rate
  limit, to be retried "as defined in the response" (``Retry-After``); 500 on Mailgun's side.
- Success is 200 ``{"id": "<…@domain>", "message": "Queued. Thank you."}``: one id for the call.
- ``GET /v4/domains/{name}`` answers the domain's details (the check); 401 / 404 otherwise.

Webhooks (Mailgun docs: "Webhooks", "Securing Webhooks", "Events"): one JSON object per event,
``{"signature": {"timestamp", "token", "signature"}, "event-data": {...}}``, the signature the
hex HMAC-SHA256 of timestamp + token under the webhook signing key; ``event-data`` has ``id``,
``timestamp``, ``event`` (delivered, failed with ``severity`` permanent or temporary,
complained, …), ``recipient``, ``user-variables`` (the ``v:`` fields), ``message.headers``
and ``delivery-status``.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import FakeApi, Received, split_address, valid_address
from tests.fakes.webhooks import MAILGUN_SIGNING_KEY, diagnostic, mailgun_signature

BATCH_LIMIT = 1000
VARIABLE = re.compile(r"%recipient\.([^%]+)%")


def message(status: int, text: str) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status)


_DISPOSITION = re.compile(rb'(name|filename)="([^"]*)"')


def form_fields(content_type: str, raw: bytes) -> list[tuple[str, str | tuple[str, bytes]]]:
    """The fields of a multipart/form-data body (RFC 7578): (name, text) or
    (name, (filename, bytes)). A plain bytes split: the stdlib email parser is too slow for
    the benchmark's 400 kB bodies."""
    boundary = content_type.partition("boundary=")[2].strip('"').encode()
    if not boundary:
        raise ValueError("multipart/form-data without a boundary")
    fields: list[tuple[str, str | tuple[str, bytes]]] = []
    for chunk in raw.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, _, body = chunk[2:].partition(b"\r\n\r\n")
        body = body.removesuffix(b"\r\n")
        found = {}
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-disposition:"):
                found = {k.decode(): v.decode() for k, v in _DISPOSITION.findall(line)}
        if "filename" in found:
            fields.append((found["name"], (found["filename"], body)))
        else:
            fields.append((found.get("name", ""), body.decode()))
    return fields


class FakeMailgun(FakeApi):
    name = "mailgun"

    def __init__(self, *args: object, domain: str = "rops-bialystok.example", **kw: object):
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.domain = domain
        self.signing_key = MAILGUN_SIGNING_KEY

    def webhook_requests(self, received: list[Received]) -> list[tuple[dict[str, str], bytes]]:
        out = []
        for r in received:
            for data in self.events_of(r):
                body = {"signature": mailgun_signature(self.signing_key), "event-data": data}
                out.append(({"Content-Type": "application/json"}, orjson.dumps(body)))
        return out

    def events_of(self, r: Received) -> list[dict[str, object]]:
        """What Mailgun reports on one message."""
        now = dt.datetime.now(dt.UTC).timestamp()
        fate = self.fate(r.to)
        _, text = diagnostic(fate, r.to)
        base = {
            "timestamp": now,
            "recipient": r.to,
            "recipient-domain": r.to.rpartition("@")[2],
            "user-variables": {k[2:]: v for k, v in r.metadata.items() if k.startswith("v:")},
            "tags": [v for k, v in r.metadata.items() if k == "o:tag"],
            "message": {"headers": {"to": r.to, "message-id": r.provider_id.strip("<>")}},
            "log-level": "info",
        }
        kinds: list[dict[str, object]] = []
        if fate in ("delivered", "complained"):
            kinds.append({"event": "delivered", "delivery-status": {"code": 250, "message": "OK"}})
        if fate == "complained":
            kinds.append({"event": "complained"})
        elif fate in ("bounced", "blocked", "soft"):
            kinds.append(
                {
                    "event": "failed",
                    "severity": "temporary" if fate == "soft" else "permanent",
                    "reason": "generic" if fate == "soft" else "bounce",
                    "log-level": "warn" if fate == "soft" else "error",
                    "delivery-status": {
                        "code": int(text[:3]),
                        "message": text[4:],
                        "description": "",
                        "attempt-no": 1,
                    },
                }
            )
        return [{**base, **kind, "id": secrets.token_urlsafe(16)} for kind in kinds]

    def routes(self) -> list[Route]:
        return [
            Route("/v3/{domain}/messages", self.messages, methods=["POST"]),
            Route("/v4/domains/{domain}", self.domain_details, methods=["GET"]),
        ]

    def too_many(self, wait: float) -> Response:
        response = message(429, "Too many requests")
        response.headers["Retry-After"] = f"{wait:g}"
        return response

    def server_error(self, status: int) -> Response:
        return message(status, "Internal Server Error")

    def authorised(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Basic":
            return False
        user, _, key = base64.b64decode(token).decode().partition(":")
        return user == "api" and not self.refuse_key(key)

    async def domain_details(self, request: Request) -> Response:
        if not self.authorised(request):
            return message(401, "Invalid private key")
        if request.path_params["domain"] != self.domain:
            return message(404, "Domain not found")
        return JSONResponse({"domain": {"name": self.domain, "state": "active"}})

    async def messages(self, request: Request) -> Response:
        return await self.serve_send(request, self.handle)

    async def handle(self, request: Request) -> Response:
        if not self.authorised(request):
            return message(401, "Invalid private key")
        domain = request.path_params["domain"]
        if domain != self.domain:
            return message(404, f"Domain not found: {domain}")
        content_type = request.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            return message(400, "expected multipart/form-data")
        fields = form_fields(content_type, await request.body())
        texts: dict[str, list[str]] = {}
        files = []
        for name, value in fields:
            if isinstance(value, tuple):
                if name in ("attachment", "inline"):
                    files.append(value)
            else:
                texts.setdefault(name, []).append(value)
        for required in ("from", "to", "subject"):
            if not texts.get(required):
                return message(400, f"{required} parameter is missing")
        if not (texts.get("text") or texts.get("html")):
            return message(
                400, "Need at least one of 'text', 'html' or 'template' parameters specified"
            )
        recipients = [
            split_address(r) for value in texts["to"] for r in value.split(",") if r.strip()
        ]
        if len(recipients) > BATCH_LIMIT:
            return message(400, f"Too many recipients: {len(recipients)}, 1000 at most")
        if any(not valid_address(a) or a in self.invalid for _, a in recipients):
            return message(400, "to parameter is not a valid address. please check documentation")
        if not valid_address(split_address(texts["from"][0])[1]):
            return message(400, "from parameter is not a valid address. please check documentation")
        try:
            variables = orjson.loads(texts.get("recipient-variables", ["{}"])[0])
        except orjson.JSONDecodeError:
            return message(400, "recipient-variables parameter is not valid JSON")
        request.state.messages = len(recipients)
        message_id = f"<{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}.{secrets.token_hex(8)}@{domain}>"
        batch = bool(variables) and isinstance(variables, dict)
        if not batch:  # one message, every recipient in its To
            recipients = [("", ", ".join(a for _, a in recipients))]
        accepted = []
        for name, address in recipients:
            mine = variables.get(address, {}) if batch else {}

            def fill(text: str, mine: dict[str, object] = mine) -> str:
                return VARIABLE.sub(lambda m: str(mine.get(m.group(1), m.group(0))), text)

            accepted.append(
                Received(
                    key=fill(texts.get("v:ledger-key", [""])[0]),
                    to=address,
                    to_name=name,
                    from_email=split_address(texts["from"][0])[1],
                    subject=fill(texts["subject"][0]),
                    text=fill(texts.get("text", [""])[0]) if self.keep else "",
                    html=fill(texts.get("html", [""])[0]) if self.keep else "",
                    headers={k[2:]: fill(v[0]) for k, v in texts.items() if k.startswith("h:")},
                    provider_id=message_id,
                    campaign=texts.get("v:campaign", [""])[0],
                    attachments=files,
                    metadata={
                        k: fill(v[0]) for k, v in texts.items() if k.startswith(("v:", "o:tag"))
                    },
                )
            )
        self.record(accepted)
        return JSONResponse({"id": message_id, "message": "Queued. Thank you."})
