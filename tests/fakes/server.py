"""The machinery every fake mail API shares: a Starlette app served by uvicorn in a thread on a
free loopback port, what it received, and switches that make it misbehave.

A provider fake subclasses ``FakeApi``: it declares its routes, checks each request exactly as its
provider documents it, answers in the provider's shapes, and records every message it accepted as
a ``Received`` — rebuilt per recipient, substitutions applied, so tests compare what a person
would get with what Listonosz rendered.

Switches: ``keep=False`` (benchmarks: do not rebuild bodies); ``delay`` (seconds before every
answer, 0.02 in the benchmarks); ``inject(*faults)`` queues faults for the next send requests,
one each: ``"429"`` or ``"429:2"`` (too many requests, wait 2 s as the provider says it),
``"500"``, ``"503"``, ``"timeout"`` (hold the request without processing it until the client
gives up), ``"late"`` (process and accept it, answer only after the client gave up),
``"exhaust:1"`` (accept, with rate-limit headers saying the window is used up for 1 s);
``invalid`` and ``inactive``: addresses the provider refuses or has suppressed.

Webhooks: with ``webhook`` set (a ``webhooks.Target``), ``post_webhooks()`` calls it back, as
the provider would, for every message accepted since the last call: what ``fates`` says
happened to its recipient (``delivered`` by default), in the provider's shapes, signed or
authenticated its way. Each fake's ``webhook_requests`` builds the requests.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.utils import parseaddr
from functools import lru_cache

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.webhooks import Target

API_KEY = "fake-api-key-3f9c1d7e"  # what the fakes accept; tests look for it in logs

_ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\".]+$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def valid_address(address: str) -> bool:
    return bool(_ADDRESS.match(address))


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"  # RFC 5322 atext, with the dots of obs-phrase
#: ``atom atom <local@domain>`` or a bare ``local@domain``, single-spaced: the shapes
#: ``formataddr`` writes, whose parse is plain; anything else goes through ``parseaddr``.
_PLAIN = re.compile(rf"(?:({_ATEXT}(?: {_ATEXT})*) <({_ATEXT}@{_ATEXT})>|({_ATEXT}@{_ATEXT}))")


@lru_cache(maxsize=65_536)  # the same sender on every message, each recipient checked twice
def split_address(value: str) -> tuple[str, str]:
    """``Name <addr>`` (RFC 2047 names decoded) as (name, address), as ``parseaddr`` reads it."""
    plain = _PLAIN.fullmatch(value)
    if plain:
        name, address, bare = plain.groups()
        name, address = (name, address) if address else ("", bare)
    else:
        name, address = parseaddr(value)
    if "=?" not in name:
        return name, address
    return str(make_header(decode_header(name))), address


@dataclass
class Hit:
    """One request as the fake saw it: when it arrived, where to, how it was answered."""

    at: float
    method: str
    path: str
    status: int = 0
    messages: int = 0


@dataclass
class Received:
    """One message a recipient would get: what the provider accepted, substitutions applied."""

    key: str
    to: str
    to_name: str
    from_email: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    provider_id: str
    campaign: str = ""
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    #: Everything the provider keeps for analytics (tags, metadata, custom args, variables).
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    kind: str
    wait: float = 1.0

    @classmethod
    def parse(cls, spec: str) -> Fault:
        kind, _, wait = spec.partition(":")
        return cls(kind, float(wait) if wait else 1.0)


class FakeApi:
    """Base of the provider fakes; subclasses provide ``routes`` and the provider's shapes."""

    name = "fake"

    def __init__(
        self, api_key: str = API_KEY, delay: float = 0.0, hang: float = 1.5, keep: bool = True
    ) -> None:
        self.api_key = api_key
        self.delay = delay
        #: False (benchmarks): requests are checked as always, but recipients' copies are not
        #: rebuilt (no substitutions applied to bodies), so the fake spends little CPU.
        self.keep = keep
        self.hang = hang
        self.faults: deque[Fault] = deque()
        self.hits: list[Hit] = []
        self.received: list[Received] = []
        self.invalid: set[str] = set()
        self.inactive: set[str] = set()
        self.lock = threading.Lock()
        #: what happened to each recipient after hand-off (``webhooks.FATES``)
        self.fates: dict[str, str] = {}
        self.webhook: Target | None = None
        self.reported = 0
        self.app = Starlette(routes=self.routes())
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- to override ------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        raise NotImplementedError

    def too_many(self, wait: float) -> Response:
        """The provider's 429, telling the client to wait ``wait`` seconds its own way."""
        raise NotImplementedError

    def server_error(self, status: int) -> Response:
        raise NotImplementedError

    def rate_headers(self, exhausted_for: float | None) -> dict[str, str]:
        """Rate-limit headers on an accepted request; ``exhausted_for``: window used up."""
        return {}

    def webhook_requests(self, received: list[Received]) -> list[tuple[dict[str, str], bytes]]:
        """The provider's webhook requests (headers, body) reporting on these messages."""
        raise NotImplementedError

    def fate(self, address: str) -> str:
        return self.fates.get(address, "delivered")

    def post_webhooks(self) -> list[int]:
        """Report every message accepted since the last call to ``webhook``; the statuses."""
        assert self.webhook is not None, "set fake.webhook first"
        with self.lock:
            new = self.received[self.reported :]
            self.reported = len(self.received)
        statuses = []
        with httpx.Client(timeout=30) as client:
            for headers, body in self.webhook_requests(new):
                response = client.post(self.webhook.url, content=body, headers=headers)
                statuses.append(response.status_code)
        return statuses

    # -- serving ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int | None = None) -> FakeApi:
        self.port = port or free_port()
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the {self.name} fake did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
        if self._thread:
            self._thread.join(10)

    def __enter__(self) -> FakeApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for subclasses ---------------------------------------------------------------
    def inject(self, *faults: str) -> None:
        self.faults.extend(Fault.parse(f) for f in faults)

    def send_hits(self) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.method == "POST"]

    def keys(self) -> list[str]:
        with self.lock:
            return [r.key for r in self.received]

    async def serve_send(self, request: Request, handle: Callable[[Request], object]) -> Response:
        """Run a send request through delay and scripted faults, then ``handle`` it."""
        hit = Hit(time.monotonic(), request.method, request.url.path)
        with self.lock:  # recorded on arrival: a held request counts even before it ends
            self.hits.append(hit)
        fault = self.faults.popleft() if self.faults else None
        if self.delay:
            await asyncio.sleep(self.delay)
        response: Response
        if fault and fault.kind == "timeout":
            await request.body()
            await asyncio.sleep(self.hang)  # the client has given up by now
            response = self.server_error(504)
        elif fault and fault.kind == "429":
            response = self.too_many(fault.wait)
        elif fault and fault.kind in ("500", "503"):
            response = self.server_error(int(fault.kind))
        else:
            response = await handle(request)  # type: ignore[misc]
            if fault and fault.kind == "exhaust" and response.status_code < 300:
                response.headers.update(self.rate_headers(fault.wait))
            elif response.status_code < 300:
                response.headers.update(self.rate_headers(None))
            if fault and fault.kind == "late":
                await asyncio.sleep(self.hang)
        hit.status = response.status_code
        hit.messages = getattr(request.state, "messages", 0)
        return response

    def record(self, received: list[Received]) -> None:
        with self.lock:
            self.received.extend(received)

    def refuse_key(self, presented: str | None) -> bool:
        return presented != self.api_key
