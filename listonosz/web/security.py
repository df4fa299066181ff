"""The web app's outer layers, as plain ASGI middleware: a cap on request bodies, security
headers on every answer, and an access log that never shows a token or an address."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The largest request body taken (forms here are a few dozen bytes).
MAX_BODY = 64 * 1024

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")

access_log = logging.getLogger("listonosz.web.access")

#: A path as the log shows it: the token (or anything after a known prefix) replaced.
_TOKEN_PATH = re.compile(r"^/(u|r|checkin)/[^/]*")
#: A provider webhook's path (only letters: never an address a caller put there).
_HOOK = re.compile(r"/hooks/[a-z]{1,20}\Z")


def shown_path(path: str) -> str:
    """The request path without its token: ``/u/…``; unknown paths only by their length."""
    redacted, count = _TOKEN_PATH.subn(lambda m: f"/{m.group(1)}/…", path)
    if count or path in ("/", "/healthz") or path.startswith("/static/") or _HOOK.match(path):
        return redacted
    return f"(other path, {len(path)} characters)"


class Guard:
    """Caps bodies (413 before reading when Content-Length says so, else as soon as the
    stream passes the cap; the app gets the body read whole), adds the security headers, and
    logs each request without its token."""

    def __init__(
        self, app: ASGIApp, max_body: int = MAX_BODY, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body = max_body
        #: path prefix → its own cap (provider webhooks post batches)
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.extend(HEADERS)
                if https:
                    headers.append(HSTS)
                message["headers"] = headers
            await send(message)

        path = scope.get("path", "")
        cap = next((n for p, n in self.larger.items() if path.startswith(p)), self.max_body)
        try:
            if _declared_length(scope) > cap:
                await _too_large(send_with_headers)
                return
            body = await self._read_capped(receive, cap)
            if body is None:
                await _too_large(send_with_headers)
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()  # after the body: wait for the disconnect
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send_with_headers)
        finally:
            access_log.info(
                "%s %s %s %.1f ms",
                scope.get("method", "?"),
                shown_path(scope.get("path", "")),
                status,
                (time.perf_counter() - started) * 1000,
            )

    async def _read_capped(self, receive: Receive, cap: int) -> bytes | None:
        """The whole body (forms are small), or None as soon as it passes the cap."""
        parts: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(parts)  # the client went away; the app sees an empty body
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > cap:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _too_large(send: Send) -> None:
    body = "Zbyt duże żądanie.".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
