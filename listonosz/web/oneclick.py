"""The one-click unsubscribe (RFC 8058) as a plain ASGI route in front of the FastAPI app.

Mailbox providers POST ``List-Unsubscribe=One-Click`` to ``/u/{token}`` in bursts; through
FastAPI each POST spent most of its time in routing, the request object and the multipart
parser. :class:`OneClick` answers exactly that request itself: ``POST /u/{token}`` whose body
:func:`is_one_click` recognises (the one field, urlencoded or multipart as Gmail and Yahoo
send it). Everything else (another path or method, any other body, even one the route would
also take) goes to the FastAPI app untouched, so the route stays the reference: the answer
(token check first, then the same batched write and page) comes from the same function the
route calls, and ``tests/integration/test_one_click_fast.py`` sends the same requests to both.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.responses import Response

from listonosz.web.security import ASGIApp, Message, Receive, Scope, Send

#: The one-click body, urlencoded (RFC 8058 section 3.1).
URLENCODED = b"List-Unsubscribe=One-Click"
#: A multipart boundary as RFC 2046 allows it (no space: nobody sends one), bare or quoted.
_BCHARS = rb"[0-9A-Za-z'()+_,./:=?-]{1,70}"
_BOUNDARY = re.compile(rb'boundary=(?:"(' + _BCHARS + rb')"|(' + _BCHARS + rb"))\Z")
#: The part's header lines that are allowed (names in lower case): the field's name, and
#: a plain-text type (which the form parser ignores for a field).
_DISPOSITION = (b"content-disposition", b'form-data; name="List-Unsubscribe"')
_PART_TYPES = {
    (b"content-type", b"text/plain"),
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-type", b"text/plain; charset=UTF-8"),
}

#: Answers a one-click unsubscribe of this token (the route's own code).
Answer = Callable[[str], Awaitable[Response]]


def is_one_click(content_type: bytes, body: bytes) -> bool:
    """Whether ``body`` is exactly the one-click form: ``List-Unsubscribe=One-Click`` as
    ``application/x-www-form-urlencoded``, or as ``multipart/form-data`` with that one field
    (no file name; at most a ``text/plain`` type besides). Strict on purpose: False only means
    "let the FastAPI route parse it", never "refuse it"."""
    mime, _, params = content_type.partition(b";")
    mime = mime.strip().lower()
    if mime == b"application/x-www-form-urlencoded":
        return body == URLENCODED
    if mime != b"multipart/form-data":
        return False
    found = _BOUNDARY.match(params.strip())
    if found is None:
        return False
    delimiter = b"--" + (found.group(1) or found.group(2))
    start = delimiter + b"\r\n"
    end = b"\r\nOne-Click\r\n" + delimiter + b"--"
    if not body.startswith(start):
        return False
    close = body.find(end, len(start))
    if close < 0 or body[close + len(end) :] not in (b"", b"\r\n"):
        return False
    head = body[len(start) : close]
    if not head.endswith(b"\r\n") or delimiter in head:
        return False
    headers = [_header(line) for line in head[:-2].split(b"\r\n")]
    if headers.count(_DISPOSITION) != 1:
        return False
    others = [header for header in headers if header != _DISPOSITION]
    return len(others) <= 1 and all(header in _PART_TYPES for header in others)


def _header(line: bytes) -> tuple[bytes, bytes]:
    """A part's header line as (name in lower case, value without the spaces before it)."""
    name, colon, value = line.partition(b":")
    return (name.lower(), value.lstrip(b" ")) if colon else (b"", b"")


class OneClick:
    """ASGI: answers ``POST /u/{token}`` with a one-click body through ``answer``; hands every
    other request (its body replayed) to ``app``."""

    def __init__(self, app: ASGIApp, answer: Answer) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not path.startswith("/u/")
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        token = path[3:]
        if not token or "/" in token:
            await self.app(scope, receive, send)
            return
        body, last = await _read(receive)
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
        if is_one_click(content_type, body):
            response = await self.answer(token)
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {**last, "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _read(receive: Receive) -> tuple[bytes, Message]:
    """The whole body (``Guard`` has capped it) and the last message that carried it."""
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        return message.get("body", b""), message  # the usual case: Guard sends it in one
    parts = []
    while message["type"] == "http.request":
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
        message = await receive()
    return b"".join(parts), {"type": "http.request"}
