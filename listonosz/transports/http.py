"""What every mail API transport shares: one HTTP client with retries, and the batch loop.

``ApiClient`` owns one ``httpx.Client`` per transport (keep-alive connections, timeouts, a
connection limit) and sends a request until it has an answer worth keeping: 5xx answers, 429s,
timeouts and dropped connections are retried with exponential backoff and jitter. A 429's
``Retry-After``, or the provider's rate-limit headers saying the window is used up, pause every
thread that shares the client until the window resets.

``ApiTransport`` is the ``Transport`` each provider module plugs a ``Provider`` into: it splits a
batch into provider-sized requests, maps each answer to one ``Delivery`` per message, and when the
provider refuses a request without saying which message is at fault, splits it until the one
message to blame is alone, so only that message fails.

``factoring`` factors messages that differ in a few places into shared text and per-recipient
values, for the APIs (SendGrid, Mailgun) whose batches share one body and substitute the rest.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx
import orjson

from listonosz.config import TransportSettings
from listonosz.stopping import Stopped
from listonosz.transports.base import NOT_SENT, Delivery, Outgoing, TransportUnavailable
from listonosz.transports.ratelimit import Pace, SharedHold

log = logging.getLogger(__name__)

#: A provider asking us to wait longer than this is not waited for: the messages are deferred.
MAX_WAIT = 60.0
#: How much of an error body goes into a Delivery detail or an exception.
DETAIL_CHARS = 300


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One HTTP request to a mail API, and the messages it carries (none for a check)."""

    method: str
    path: str
    messages: tuple[Outgoing, ...] = ()
    json: Any = None
    files: Sequence[tuple[str, tuple[str | None, bytes, str]]] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Exhausted:
    """No answer worth keeping after every try: the reason, for the deferred messages."""

    trouble: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """How a provider reads a 4xx answer (other than 429) to a send request.

    ``scope``: ``account`` — the key, domain, sender or credit is wrong: every message is
    deferred, nothing is split; ``request`` — something in the request is refused, the provider
    does not say which message: split until one message is alone, then fail it (``suppress``
    when the address is the cause); ``messages`` — ``blamed`` maps message indexes to their own
    failed ``Delivery``, the other messages are sent again; ``accepted`` — the provider had
    already accepted this very request (an idempotency key seen before).
    """

    reason: str
    scope: Literal["account", "request", "messages", "accepted"] = "request"
    blamed: Mapping[int, Delivery] = field(default_factory=dict)
    suppress: bool = False


class Provider(Protocol):
    """Request building and answer reading for one mail API; no HTTP happens here."""

    name: str

    def check_request(self) -> ApiRequest:
        """A cheap, documented request that only succeeds with a valid API key."""

    def checked(self, response: httpx.Response) -> str | None:
        """After a 2xx answer to the check: why sending would still fail, or None."""

    def requests(self, messages: Sequence[Outgoing]) -> list[ApiRequest]:
        """The messages as few provider-sized batch requests as the API allows."""

    def accepted(self, request: ApiRequest, response: httpx.Response) -> list[Delivery]:
        """One Delivery per message of a request answered 2xx, in order."""

    def refused(self, request: ApiRequest, response: httpx.Response) -> Refusal:
        """How to read a 4xx answer (other than 401, 403 and 429)."""

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds until the rate-limit window resets, when its headers say it is used up."""


def short(text: str, limit: int = DETAIL_CHARS) -> str:
    """One line of at most ``limit`` characters, for details and error messages."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def retry_after(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds the ``Retry-After`` header asks for (delay-seconds or an HTTP date, RFC 9110)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Gate:
    """A moment before which no request may leave, shared by every thread using one client and,
    through ``shared`` (the store's hold of this service), by every other worker too."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        shared: SharedHold | None = None,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self._until = 0.0
        self._lock = threading.Lock()
        self._shared = shared

    def hold(self, seconds: float) -> None:
        """Keep every request back for ``seconds`` from now (never shortens an earlier hold)."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)
        if self._shared is not None:
            with contextlib.suppress(Exception):  # the store unreachable: this process waits
                self._shared.hold(seconds)

    def wait(self) -> None:
        """Return once the gate is open, here and (when shared) for the other workers."""
        while True:
            with self._lock:
                remaining = self._until - self._clock()
            if remaining <= 0 and self._shared is not None:
                with contextlib.suppress(Exception):
                    remaining = self._shared.remaining()
            if remaining <= 0:
                return
            self._sleep(remaining)


def form_data(fields: Sequence[tuple[str, tuple[str | None, bytes, str]]]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body (RFC 7578) in one piece, and its Content-Type.

    httpx would stream it a field at a time: thousands of writes for a batch of 500 recipients.
    Field names and file names are ours and plain ASCII.
    """
    boundary = uuid.uuid4().hex
    out: list[bytes] = []
    for name, (filename, data, content_type) in fields:
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        out += (f"{head}Content-Type: {content_type}\r\n\r\n".encode("ascii"), data, b"\r\n")
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


class ApiClient:
    """One ``httpx.Client`` for one provider: reused connections, retries, rate-limit waits.

    Thread-safe: the batch tasks of a flow run share it. The API key lives in ``headers`` or
    ``auth`` of the underlying client and nowhere else.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        settings: TransportSettings,
        rate_limit_wait: Callable[[httpx.Response], float | None],
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        shared: SharedHold | None = None,
    ) -> None:
        self.name = name
        self._secret = api_key(settings)
        self.retries = settings.retries
        self.backoff = settings.retry_backoff
        self.timeout = settings.timeout
        self._rate_limit_wait = rate_limit_wait
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.gate = Gate(sleep=sleep, shared=shared)
        self.http = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            timeout=httpx.Timeout(settings.timeout),
            limits=httpx.Limits(
                max_connections=settings.pool_size, max_keepalive_connections=settings.pool_size
            ),
        )

    def close(self) -> None:
        self.http.close()

    def redact(self, text: str) -> str:
        """Text with the API key blotted out, should a provider ever echo it."""
        return text.replace(self._secret, "***") if self._secret else text

    def backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        base = self.backoff * 2.0**attempt
        return base / 2 + self._rng.uniform(0, base / 2)

    def send(self, request: ApiRequest) -> httpx.Response | Exhausted:
        """The first answer that is not a 429 or a 5xx, or why there was none after every try."""
        content = None
        headers = dict(request.headers)
        if request.json is not None:
            content = orjson.dumps(request.json)
            headers["Content-Type"] = "application/json"
        elif request.files is not None:
            content, headers["Content-Type"] = form_data(request.files)
        trouble, tries = "not sent", self.retries + 1
        for attempt in range(tries):
            self.gate.wait()
            try:
                response = self.http.request(
                    request.method,
                    request.path,
                    content=content,
                    headers=headers,
                )
            except httpx.TimeoutException:
                what, body, delay = f"no answer within {self.timeout:g} s", "", None
            except httpx.TransportError as exc:
                what, body, delay = f"connection failed ({type(exc).__name__})", "", None
            else:
                window = self._rate_limit_wait(response)
                status = response.status_code
                if status != 429 and status < 500:
                    if window:  # the window is used up: the next request waits for its reset
                        self.gate.hold(window)
                    return response
                what, body = f"HTTP {status}", self.redact(short(response.text, 120))
                delay = retry_after(response) or window
                if delay:  # the provider said how long: every thread waits, not only this one
                    if delay > MAX_WAIT:
                        return Exhausted(f"{what} {body}; asked to wait {delay:.0f} s")
                    self.gate.hold(delay)
            trouble = f"{what} {body}".rstrip()
            if attempt == self.retries:
                break
            delay = delay or self.backoff_delay(attempt)
            log.warning(
                "%s: %s; try %d of %d in %.2f s", self.name, what, attempt + 2, tries, delay
            )
            self._sleep(delay)
        return Exhausted(f"{trouble} (after {tries} {'try' if tries == 1 else 'tries'})")


class ApiTransport:
    """A ``Transport`` over a mail API: provider-sized requests, one Delivery per message."""

    wants_mime = False
    claim_chunk = 500  # one full request: Postmark takes 500 a call, the others more

    def __init__(
        self,
        provider: Provider,
        client: ApiClient,
        settings: TransportSettings,
        pace: Pace | None = None,
    ) -> None:
        self.provider = provider
        self.client = client
        self.redact = client.redact
        self._has_key = bool(api_key(settings))
        self.pace = pace or Pace(settings.rate_per_minute)

    @property
    def name(self) -> str:
        return self.provider.name

    def check(self) -> None:
        """Ask the provider's cheapest authenticated endpoint; a refusal stops the run here."""
        where = f"{self.name} at {self.client.http.base_url}"
        if not self._has_key:
            raise TransportUnavailable(
                f"{self.name}: no API key; set it in the environment "
                "(LISTONOSZ_TRANSPORTS__<NAME>__API_KEY), never in listonosz.toml"
            )
        reply = self.client.send(self.provider.check_request())
        if isinstance(reply, Exhausted):
            raise TransportUnavailable(f"cannot reach {where}: {self.redact(reply.trouble)}")
        status = reply.status_code
        if status in (401, 403):
            what = "refused the API key" if status == 401 else "forbids this API key"
            raise TransportUnavailable(
                f"{where} {what} (HTTP {status}): {self.redact(short(reply.text))}"
            )
        if not 200 <= status < 300:
            raise TransportUnavailable(
                f"{where} answered HTTP {status}: {self.redact(short(reply.text))}"
            )
        problem = self.provider.checked(reply)
        if problem:
            raise TransportUnavailable(f"{where}: {self.redact(problem)}")

    def close(self) -> None:
        self.client.close()

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        """One result per message, in order; never raises for one bad message."""
        if not messages:
            return []
        if not self._has_key:
            reason = f"{self.name}: no API key configured"
            return [Delivery(m.key, "deferred", reason) for m in messages]
        results: dict[str, Delivery] = {}
        try:
            for _ in messages:
                self.pace()
            pending = deque(self.provider.requests(messages))
            while pending:
                request = pending.popleft()
                done, again = self._send(request)
                for delivery in done:
                    results[delivery.key] = delivery
                pending.extendleft(reversed(again))
        except Stopped:  # what has no answer yet stays for the next run
            pass
        return [results.get(m.key) or Delivery(m.key, "deferred", NOT_SENT) for m in messages]

    def _send(self, request: ApiRequest) -> tuple[list[Delivery], list[ApiRequest]]:
        """Deliveries settled by one request, and requests still to send (after a split)."""
        messages = request.messages
        reply = self.client.send(request)
        if isinstance(reply, Exhausted):
            reason = f"{self.name}: {self.redact(reply.trouble)}"
            return [Delivery(m.key, "deferred", reason) for m in messages], []
        status = reply.status_code
        body = self.redact(short(reply.text))
        try:
            if 200 <= status < 300:
                return [
                    Delivery(d.key, d.status, self.redact(d.detail), d.suppress)
                    for d in self.provider.accepted(request, reply)
                ], []
        except (ValueError, KeyError, TypeError, AttributeError):
            reason = f"{self.name} HTTP {status} with an answer it cannot read: {body}"
            return [Delivery(m.key, "deferred", reason) for m in messages], []
        if status in (401, 403):
            what = "refused the API key" if status == 401 else "forbids this"
            reason = f"{self.name} {what} (HTTP {status}): {body}"
            return [Delivery(m.key, "deferred", reason) for m in messages], []
        refusal = self.provider.refused(request, reply)
        reason = f"{self.name} HTTP {status}: {self.redact(refusal.reason)}"
        if refusal.scope == "accepted":
            return [Delivery(m.key, "sent", reason) for m in messages], []
        if refusal.scope == "account":
            return [Delivery(m.key, "deferred", reason) for m in messages], []
        if refusal.scope == "messages" and refusal.blamed:
            failed = [
                Delivery(d.key, d.status, self.redact(d.detail), d.suppress)
                for d in refusal.blamed.values()
            ]
            rest = [m for i, m in enumerate(messages) if i not in refusal.blamed]
            return failed, self.provider.requests(rest) if rest else []
        if len(messages) > 1:
            half = len(messages) // 2
            log.info("%s refused a request of %d messages; splitting it", self.name, len(messages))
            return [], [
                *self.provider.requests(messages[:half]),
                *self.provider.requests(messages[half:]),
            ]
        (message,) = messages
        return [Delivery(message.key, "failed", reason, suppress=refusal.suppress)], []


def chunks(
    messages: Sequence[Outgoing],
    limit: int,
    max_bytes: int | None = None,
    distinct: bool = False,
) -> Iterable[list[Outgoing]]:
    """Consecutive runs of at most ``limit`` messages and about ``max_bytes`` of content;
    with ``distinct``, no address twice in a run (shared-body APIs key recipients by address)."""
    run: list[Outgoing] = []
    seen: set[str] = set()
    size = 0
    for message in messages:
        weight = message_size(message) if max_bytes else 0
        address = message.rcpt_to.lower()
        if run and (
            len(run) == limit
            or (max_bytes and size + weight > max_bytes)
            or (distinct and address in seen)
        ):
            yield run
            run, size, seen = [], 0, set()
        run.append(message)
        seen.add(address)
        size += weight
    if run:
        yield run


def api_transport(
    provider: Provider,
    settings: TransportSettings,
    pace: Pace | None,
    default_url: str,
    auth_headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> ApiTransport:
    """A provider's transport: one JSON-speaking client at its URL, with its way of auth."""
    client = ApiClient(
        provider.name,
        settings.base_url or default_url,
        settings,
        provider.rate_limit_wait,
        headers={"Accept": "application/json", **(auth_headers or {})},
        auth=auth,
        sleep=pace.sleep if pace else time.sleep,
        shared=pace.hold if pace else None,
    )
    return ApiTransport(provider, client, settings, pace)


def api_key(settings: TransportSettings) -> str:
    """The configured API key, or "" (``check`` then reports it missing)."""
    return settings.api_key.get_secret_value() if settings.api_key else ""


def message_size(message: Outgoing) -> int:
    """About how many bytes a message takes in a JSON request (attachments in base64)."""
    parts = message.parts
    if parts is None:
        return len(message.data)
    attached = sum(len(a.data) for a in parts.attachments) * 4 // 3
    return len(parts.html) + len(parts.text) + len(parts.subject) + attached + 1024


def sharing_requests(
    messages: Sequence[Outgoing], shared: Callable[[Outgoing], Any]
) -> list[list[Outgoing]]:
    """Messages grouped by what a batch request must share (sender, attachments), in order."""
    by_key: dict[Any, list[Outgoing]] = {}
    for message in messages:
        by_key.setdefault(shared(message), []).append(message)
    return list(by_key.values())


def shared_parts(message: Outgoing) -> tuple[object, ...]:
    """What every message of a shared-body batch request must have in common."""
    parts = message.parts
    assert parts is not None, "HTTP transports take message parts"
    names = tuple(sorted(parts.headers))
    return (parts.from_name, parts.from_email, parts.reply_to, parts.attachments, names)


def split_headers(
    messages: Sequence[Outgoing],
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Headers every message has alike, and each message's own (Message-ID, List-Unsubscribe)."""
    all_headers = [m.parts.headers if m.parts else {} for m in messages]
    first = all_headers[0]
    common = {
        name: value
        for name, value in first.items()
        if all(h.get(name) == value for h in all_headers[1:])
    }
    personal = [{k: v for k, v in h.items() if k not in common} for h in all_headers]
    return common, personal
