"""What every provider's webhook reader shares: the refusal a route turns into 401/403/404,
the result of reading one stored body (events, plus what could not be read, so one malformed
event never loses the others), Basic and bearer credentials compared in constant time, and
small readers for times, SMTP status codes and diagnostics.

Each provider module (``postmark``, ``sendgrid``, ``mailgun``, ``brevo``) has
``verify_webhook(headers, body, settings, now)``: raises :class:`WebhookRefused`, or returns
a single-use value to record with the body (Mailgun's token; None for the others), and
``parse_webhook(body)``: the body's :class:`Parsed` events, never raising.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from listonosz.errors import ListonoszError
from listonosz.tracking import TrackedEvent, redact

#: The longest diagnostic kept in an event's detail.
DIAGNOSTIC_CHARS = 300

_STATUS = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")


class WebhookRefused(ListonoszError):
    """A webhook request that is not from the provider (or not configured here): nothing is
    stored; ``status`` is the HTTP answer (401, 403 or 404)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Parsed:
    """What one stored body held: its events, the problems of those that could not be read
    (numbered by position, never quoting an address), and how many were of kinds Listonosz
    does not track."""

    events: list[TrackedEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ignored: int = 0

    def summary(self) -> str:
        """One line for the inbox row's detail."""
        parts = [f"{len(self.events)} events"]
        if self.ignored:
            parts.append(f"{self.ignored} of untracked kinds")
        if self.problems:
            parts.append(f"{len(self.problems)} unreadable: " + "; ".join(self.problems[:20]))
        return ", ".join(parts)


class Unreadable(ValueError):
    """One event that cannot be read; the message names the field, never an address."""


def read_each(
    items: Iterable[object], read: Callable[[Mapping[str, Any]], TrackedEvent | None]
) -> Parsed:
    """Read every item with ``read`` (None: a kind not tracked); an item that fails is a
    problem of its own and the others are kept."""
    parsed = Parsed()
    for number, item in enumerate(items):
        try:
            if not isinstance(item, Mapping):
                raise Unreadable("not a JSON object")
            event = read(item)
        except (Unreadable, ValueError, TypeError, KeyError, OverflowError) as exc:
            parsed.problems.append(f"event {number}: {_problem(exc)}")
            continue
        if event is None:
            parsed.ignored += 1
        else:
            parsed.events.append(event)
    return parsed


def _problem(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"[:120]
    if isinstance(exc, Unreadable):
        return redact(str(exc))[:200]
    return redact(f"{type(exc).__name__}: {exc}")[:200]


def load_json(body: str) -> Any:
    """The body as JSON; :class:`Unreadable` when it is not."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Unreadable(f"the body is not JSON ({exc})") from None


def unreadable_body(exc: Exception) -> Parsed:
    """A body with nothing readable in it."""
    return Parsed(problems=[f"body: {redact(str(exc))[:200]}"])


def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value ('' when absent); ``headers`` may be any case-insensitive mapping."""
    return headers.get(name) or headers.get(name.lower()) or ""


def pairs(secret: str | None) -> list[str]:
    """``a,b`` as ``["a", "b"]`` (two values during a rotation), blanks dropped."""
    return [part.strip() for part in (secret or "").split(",") if part.strip()]


def check_basic(
    headers: Mapping[str, str], secrets: list[str], tokens: list[str] | None = None
) -> None:
    """Accept ``Authorization: Basic`` with one of ``secrets`` (``user:password``), or
    ``Bearer`` with one of ``tokens``; every candidate is compared, in constant time."""
    scheme, _, value = header(headers, "Authorization").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "basic" and secrets:
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookRefused(401, "unreadable Basic credentials") from None
        if _any_equal(given, [s.encode() for s in secrets]):
            return
        raise WebhookRefused(401, "wrong user or password")
    tokens = tokens or []
    if scheme.lower() == "bearer" and tokens:
        if _any_equal(value.encode(), [t.encode() for t in tokens]):
            return
        raise WebhookRefused(401, "wrong bearer token")
    raise WebhookRefused(401, "no credentials")


def _any_equal(given: bytes, candidates: list[bytes]) -> bool:
    found = False
    for candidate in candidates:
        found |= hmac.compare_digest(given, candidate)
    return found


def check_age(timestamp: str, now: float, max_age: float) -> None:
    """Refuse a signed timestamp (Unix seconds) more than ``max_age`` from ``now``."""
    try:
        signed = float(timestamp)
    except ValueError:
        raise WebhookRefused(403, "the signed timestamp is not a number") from None
    if not abs(now - signed) <= max_age:
        raise WebhookRefused(403, "the signed timestamp is too far from now")


def fields_hash(event: Mapping[str, Any]) -> str:
    """A stable id for an event that has none of its own: the hash of its fields."""
    canonical = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:40]


def from_epoch(value: object, scale: float = 1.0) -> dt.datetime:
    """Unix time (seconds, or milliseconds with ``scale`` 1000) as an aware datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Unreadable(f"a time that is not a number: {type(value).__name__}")
    return dt.datetime.fromtimestamp(float(value) / scale, dt.UTC)


def from_iso(value: object) -> dt.datetime:
    """An ISO 8601 time (any precision, with its offset; UTC when it has none)."""
    if not isinstance(value, str):
        raise Unreadable("a time that is not text")
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def enhanced_status(*texts: object) -> str:
    """The first RFC 3463 status code (``5.1.1``) in these texts, or ''."""
    for text in texts:
        if isinstance(text, str | int | float):
            found = _STATUS.search(str(text))
            if found:
                return found.group(1)
    return ""


def policy_block(kind: str, bounce_class: str | None, status: str) -> str | None:
    """A bounce's class, made ``block`` when its status is 5.7.x: the receiving server refused
    the sender (reputation, SPF, DKIM, DMARC), not the address, whatever the provider calls it."""
    if kind == "bounced" and status.startswith("5.7."):
        return "block"
    return bounce_class


def diagnostic(*texts: object) -> str:
    """The provider's diagnostic as one line, without addresses, at most 300 characters."""
    joined = " ".join(" ".join(str(t).split()) for t in texts if t not in (None, ""))
    return redact(joined)[:DIAGNOSTIC_CHARS]


def text(value: object) -> str | None:
    """A string field, or None when absent or of another type."""
    return value if isinstance(value, str) and value else None


def detail(**values: object) -> dict[str, Any]:
    """An event's detail: the non-empty values (callers pass only address-free text)."""
    return {k: v for k, v in values.items() if v not in (None, "", [], {})}
