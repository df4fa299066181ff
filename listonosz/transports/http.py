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

``skeleton`` factors messages that differ in a few places into shared text and per-recipient
values, for the APIs (SendGrid, Mailgun) whose batches share one body and substitute the rest.
"""

from __future__ import annotations

import email.utils
import itertools
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
from listonosz.transports.base import Delivery, Outgoing, TransportUnavailable
from listonosz.transports.ratelimit import TokenBucket

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
    """A moment before which no request may leave, shared by every thread using one client."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self._until = 0.0
        self._lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        """Keep every request back for ``seconds`` from now (never shortens an earlier hold)."""
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def wait(self) -> None:
        """Return once the gate is open."""
        while True:
            with self._lock:
                remaining = self._until - self._clock()
            if remaining <= 0:
                return
            self._sleep(remaining)


def form_data(fields: Sequence[tuple[str, tuple[str | None, bytes, str]]]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body (RFC 7578) in one piece, and its Content-Type.

    httpx would stream it a field at a time: thousands of writes for a batch of 500 recipients.
    Field names and file names are ours and plain ASCII.
    """
    boundary = uuid.uuid4().hex
    out = []
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
    ) -> None:
        self.name = name
        self._secret = settings.api_key.get_secret_value() if settings.api_key else ""
        self.retries = settings.retries
        self.backoff = settings.retry_backoff
        self.timeout = settings.timeout
        self._rate_limit_wait = rate_limit_wait
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.gate = Gate(sleep=sleep)
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
        base = self.backoff * 2**attempt
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
        throttle: Callable[[], None] | None = None,
    ) -> None:
        self.provider = provider
        self.client = client
        self.redact = client.redact
        self._has_key = settings.api_key is not None and bool(settings.api_key.get_secret_value())
        bucket = (
            TokenBucket.per_minute(settings.rate_per_minute) if settings.rate_per_minute else None
        )
        self._throttles = [t for t in (bucket.acquire if bucket else None, throttle) if t]

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
        for _ in messages:
            for throttle in self._throttles:
                throttle()
        results: dict[str, Delivery] = {}
        pending = deque(self.provider.requests(messages))
        while pending:
            request = pending.popleft()
            done, again = self._send(request)
            for delivery in done:
                results[delivery.key] = delivery
            pending.extendleft(reversed(again))
        return [results[m.key] for m in messages]

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
    throttle: Callable[[], None] | None,
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
    )
    return ApiTransport(provider, client, settings, throttle)


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


def groups(messages: Sequence[Outgoing], shared: Callable[[Outgoing], Any]) -> list[list[Outgoing]]:
    """Messages grouped by what a batch request must share (sender, attachments), in order."""
    by_key: dict[Any, list[Outgoing]] = {}
    for message in messages:
        by_key.setdefault(shared(message), []).append(message)
    return list(by_key.values())


class SkeletonError(ValueError):
    """Factoring went wrong; callers send the messages unfactored instead."""


@dataclass(frozen=True, slots=True)
class Skeleton:
    """Texts that differ in a few places: shared ``pieces`` around holes, and each text's
    ``values`` for the holes. ``pieces[0] + values[i][0] + pieces[1] + …`` is text ``i``."""

    pieces: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]

    def template(self, tag: Callable[[int], str]) -> str:
        """The shared text with ``tag(n)`` in hole ``n``."""
        out = [self.pieces[0]]
        for number, piece in enumerate(self.pieces[1:]):
            out += (tag(number), piece)
        return "".join(out)

    def text(self, index: int) -> str:
        out = [self.pieces[0]]
        for value, piece in zip(self.values[index], self.pieces[1:], strict=True):
            out += (value, piece)
        return "".join(out)


def skeleton(texts: Sequence[str]) -> Skeleton:
    """Factor texts line by line against the first one.

    A ref line that every text keeps (aligned by difflib) is shared; each run of other lines
    between two shared lines is a hole, narrowed to the characters where the texts differ. Each
    text is rebuilt from the result and compared, so a wrong factoring can never be sent.
    """
    ref = texts[0].splitlines(keepends=True)
    count = len(ref)
    dirty_line = [False] * count
    dirty_gap = [False] * (count + 1)  # something inserted before ref line n
    maps: list[tuple[list[str], list[int]] | None] = [None]
    for text in texts[1:]:
        lines = text.splitlines(keepends=True)
        if lines == ref:
            maps.append(None)
            continue
        where = [-1] * count
        for tag, i1, i2, j1 in align(ref, lines):
            if tag == "equal":
                where[i1:i2] = range(j1, j1 + i2 - i1)
            elif i1 == i2:
                dirty_gap[i1] = True
            else:
                dirty_line[i1:i2] = [True] * (i2 - i1)
        maps.append((lines, where))
    holes = _holes(dirty_line, dirty_gap)
    pieces, values = _cut(ref, maps, holes)
    pieces, values = _narrow(pieces, values)
    result = Skeleton(tuple(pieces), tuple(tuple(v) for v in values))
    for index, text in enumerate(texts):
        if result.text(index) != text:
            raise SkeletonError("the factored text does not rebuild every message")
    return result


#: How far ahead ``align`` looks for the lines where two texts agree again.
WINDOW = 80


def align(ref: list[str], lines: list[str]) -> list[tuple[str, int, int, int]]:
    """A monotone matching of two line lists: ``("equal", i1, i2, j1)`` runs and
    ``("differ", i1, i2, j1)`` gaps (``i`` in ``ref``, ``j`` in ``lines``).

    Texts rendered from one template agree almost everywhere, so after the common head and tail
    the rest is walked once, re-synchronising at the nearest pair of lines that agree twice in
    a row. Any monotone matching is correct (``skeleton`` rebuilds every text); a close one only
    keeps the holes small. Linear in practice, unlike difflib's longest-match search.
    """
    n, m = len(ref), len(lines)
    head = _agreeing(ref, lines, 0, 0, n, m)
    tail = 0
    while tail < n - head and tail < m - head and ref[n - 1 - tail] == lines[m - 1 - tail]:
        tail += 1
    i_end, j_end = n - tail, m - tail
    ops: list[tuple[str, int, int, int]] = [("equal", 0, head, 0)] if head else []
    i = j = head
    while i < i_end and j < j_end:
        if ref[i] == lines[j]:
            run = _agreeing(ref, lines, i, j, i_end, j_end)
            ops.append(("equal", i, i + run, j))
            i, j = i + run, j + run
            continue
        best = _resync(ref, lines, i, j, i_end, j_end)
        if best is None:
            break
        ops.append(("differ", i, i + best[0], j))
        i, j = i + best[0], j + best[1]
    if i < i_end or j < j_end:
        ops.append(("differ", i, i_end, j))
    if tail:
        ops.append(("equal", i_end, n, j_end))
    return ops


def _agreeing(ref: list[str], lines: list[str], i: int, j: int, i_end: int, j_end: int) -> int:
    """How many lines from ``ref[i]`` and ``lines[j]`` on are equal: compared in growing
    slices (in C), then line by line inside the slice that differs."""
    limit, done, step = min(i_end - i, j_end - j), 0, 8
    while done < limit:
        size = min(step, limit - done)
        if ref[i + done : i + done + size] == lines[j + done : j + done + size]:
            done, step = done + size, step * 2
            continue
        while ref[i + done] == lines[j + done]:
            done += 1
        return done
    return limit


def _resync(
    ref: list[str], lines: list[str], i: int, j: int, i_end: int, j_end: int
) -> tuple[int, int] | None:
    """The nearest ``(di, dj)`` (smallest sum, within ``WINDOW``) where ``ref[i + di]`` and
    ``lines[j + dj]`` agree, and so do the lines after them (or one text ends there)."""
    # The common case first: one line replaced by one, with nothing nearer than (1, 1).
    one_replaced = (
        i + 1 < i_end
        and j + 1 < j_end
        and ref[i + 1] == lines[j + 1]
        and ref[i] != lines[j + 1]
        and ref[i + 1] != lines[j]
        and (i + 2 >= i_end or j + 2 >= j_end or ref[i + 2] == lines[j + 2])
    )
    if one_replaced:
        return (1, 1)
    best: tuple[int, int] | None = None
    for di in range(min(WINDOW, i_end - i)):
        if best and di >= sum(best):
            break
        target, k = ref[i + di], j
        limit = min(j + WINDOW, j_end, j + sum(best) - di if best else j_end)
        while k < limit:
            try:
                k = lines.index(target, k, limit)  # a C scan: no index of every line needed
            except ValueError:
                break
            ni, nj = i + di + 1, k + 1
            if ni >= i_end or nj >= j_end or ref[ni] == lines[nj]:
                best = (di, k - j)
                break
            k += 1
    return best


def _holes(dirty_line: list[bool], dirty_gap: list[bool]) -> list[tuple[int, int]]:
    """Ref line ranges between consecutive shared lines that hold a difference."""
    count = len(dirty_line)
    clean = [-1, *(i for i in range(count) if not dirty_line[i]), count]
    holes = []
    for before, after in itertools.pairwise(clean):
        start, end = before + 1, after
        if start < end or any(dirty_gap[start : end + 1]):
            holes.append((start, end))
    return holes


def _cut(
    ref: list[str],
    maps: list[tuple[list[str], list[int]] | None],
    holes: list[tuple[int, int]],
) -> tuple[list[str], list[list[str]]]:
    pieces, previous = [], 0
    for start, end in holes:
        pieces.append("".join(ref[previous:start]))
        previous = end
    pieces.append("".join(ref[previous:]))
    values = []
    for mapping in maps:
        if mapping is None:
            values.append(["".join(ref[start:end]) for start, end in holes])
            continue
        lines, where = mapping
        mine = []
        for start, end in holes:
            low = where[start - 1] + 1 if start else 0
            high = where[end] if end < len(ref) else len(lines)
            mine.append("".join(lines[low:high]))
        values.append(mine)
    return pieces, values


def common_prefix(texts: Sequence[str]) -> str:
    """The longest string every text starts with (character by character)."""
    if not texts:
        return ""
    low, high = min(texts), max(texts)  # the extremes bound every other text
    for index, char in enumerate(low):
        if char != high[index]:
            return low[:index]
    return low


def _narrow(pieces: list[str], values: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """Move what every text shares at the edges of a hole into the pieces around it."""
    for hole in range(len(pieces) - 1):
        column = [row[hole] for row in values]
        head = common_prefix(column)
        column = [v[len(head) :] for v in column]
        tail = common_prefix([v[::-1] for v in column])[::-1]
        if tail:
            column = [v[: -len(tail)] for v in column]
        pieces[hole] += head
        pieces[hole + 1] = tail + pieces[hole + 1]
        for row, value in zip(values, column, strict=True):
            row[hole] = value
    keep = [h for h in range(len(pieces) - 1) if len({row[h] for row in values}) > 1]
    if len(keep) < len(pieces) - 1:  # holes every text fills alike become shared text
        merged, new_values = [pieces[0]], [[] for _ in values]
        for hole in range(len(pieces) - 1):
            if hole in keep:
                merged.append(pieces[hole + 1])
                for row, new in zip(values, new_values, strict=True):
                    new.append(row[hole])
            else:
                merged[-1] += values[0][hole] + pieces[hole + 1]
        return merged, new_values
    return pieces, values


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
