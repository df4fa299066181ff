"""The bounce mailbox over IMAP: read each message, record what it says, put it away.

Every message is fetched with ``BODY.PEEK[]`` (its flags stay as they were), classified
(:mod:`listonosz.tracking.bounces`), recorded through the :class:`~listonosz.tracking.Tracker`
under an id made of the folder, its UIDVALIDITY and the message's UID (so reading a message
again never counts it twice), and then moved: to ``Processed`` when it was recorded, to
``Unrecognised`` when it is none of a report, a complaint or an auto-reply. Nothing is ever
deleted: a message a human must look at waits in ``Unrecognised``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from listonosz.config import BounceMailboxSettings, ConfigError, Settings
from listonosz.errors import ListonoszError
from listonosz.tracking.apply import Applied, Tracker
from listonosz.tracking.bounces import Classified, Kind, classify
from listonosz.tracking.events import BounceClass, EventType, TrackedEvent, redact

#: What each kind of report becomes in the event log.
_EVENTS: dict[str, tuple[EventType, BounceClass | None]] = {
    "hard": ("bounced", "hard"),
    "soft": ("bounced", "soft"),
    "expired": ("bounced", "expired"),
    "block": ("bounced", "block"),
    "delayed": ("deferred", None),
    "complaint": ("complained", None),
    "autoreply": ("autoresponded", None),
}
_DIAGNOSTIC_LIMIT = 500


class BounceMailboxError(ListonoszError):
    """The bounce mailbox cannot be reached or read; the message says which and why."""


@dataclass
class Collected:
    """What one pass over the bounce mailbox did."""

    kinds: Counter[str] = field(default_factory=Counter)
    processed: int = 0
    unrecognised: int = 0
    forged: int = 0
    unsigned: int = 0
    low_confidence: int = 0
    applied: Applied = field(default_factory=Applied)

    def summary(self) -> str:
        """A few lines for staff (the CLI, the flow's log)."""
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.kinds.items())) or "none"
        lines = [
            f"Read {self.processed + self.unrecognised} messages: {kinds}",
            f"Recorded {self.applied.recorded} events ({self.applied.duplicates} already "
            f"recorded, {self.applied.unmatched} matching no delivery)",
            f"Moved to Processed: {self.processed}; to Unrecognised: {self.unrecognised}",
        ]
        suppressed = ", ".join(f"{r} {n}" for r, n in sorted(self.applied.suppressed.items()))
        lines.append(f"Suppressed: {suppressed or 'nobody'}")
        if self.low_confidence:
            lines.append(f"Non-standard bounces (low confidence): {self.low_confidence}")
        if self.forged:
            lines.append(
                f"Reports to a VERP address whose signature does not check (forged, or sent "
                f"before the token secret changed), applied to nobody: {self.forged}"
            )
        if self.unsigned:
            lines.append(
                f"Reports without a signed VERP address, applied to nobody: {self.unsigned}"
            )
        lines += self.applied.alerts
        return "\n".join(lines)


def tracked_events(
    classified: Classified,
    event_id: str,
    received_at: dt.datetime,
    trust_unsigned: bool = False,
) -> list[TrackedEvent]:
    """The events one classified message records: one per recipient it reports on.

    Only a signed VERP key (or, with ``trust_unsigned``, an envelope id or Message-ID) names
    the delivery and the address; otherwise the event is kept, applied to nobody. A bounce
    recognised with low confidence counts as a soft one: a guess never suppresses at once.
    """
    if classified.kind == "unknown":
        return []
    applies = classified.signed or (trust_unsigned and not classified.forged)
    occurred = min(classified.date or received_at, received_at)
    events = []
    for n, entry in enumerate(classified.entries):
        if entry.kind not in _EVENTS:
            continue
        type_, bounce_class = _EVENTS[entry.kind]
        detail: dict[str, str] = {"how": classified.how, "kind": entry.kind}
        if classified.confidence == "low":
            detail["confidence"] = "low"
            if bounce_class == "hard":
                bounce_class = "soft"
        if entry.status:
            detail["status"] = entry.status
        if entry.diagnostic:
            detail["diagnostic"] = redact(entry.diagnostic)[:_DIAGNOSTIC_LIMIT]
        if not classified.signed:
            detail["verp"] = "forged" if classified.forged else "none"
        detail.update(classified.detail)
        events.append(
            TrackedEvent(
                source="mailbox",
                source_event_id=f"{event_id}/{n}",
                type=type_,
                occurred_at=occurred,
                delivery_key=classified.delivery_key if applies else None,
                message_id=classified.message_id if applies else None,
                recipient=entry.recipient if applies else None,
                bounce_class=bounce_class,
                detail=detail,
            )
        )
    return events


class BounceMailbox:
    """One IMAP account's bounce folder, read a batch of messages at a time."""

    def __init__(
        self,
        settings: BounceMailboxSettings,
        secret: bytes,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.secret = secret
        self.tls_context = tls_context or ssl.create_default_context()

    @contextmanager
    def session(self) -> Iterator[IMAPClient]:
        """A logged-in IMAP session; a clear error when the server or the login fails."""
        s = self.settings
        where = f"the bounce mailbox {s.username or '(no username)'} at {s.host}:{s.port}"
        try:
            imap = IMAPClient(
                s.host,
                s.port,
                ssl=s.security == "tls",
                ssl_context=self.tls_context,
                timeout=s.timeout,
            )
        except (OSError, IMAPClientError) as exc:
            raise BounceMailboxError(f"cannot connect to {where} ({s.security}): {exc}") from exc
        try:
            if s.security == "starttls":
                imap.starttls(self.tls_context)
            password = s.password.get_secret_value() if s.password else ""
            imap.login(s.username, password)
        except (OSError, IMAPClientError) as exc:
            _logout(imap)
            raise BounceMailboxError(
                f"cannot log in to {where}: {exc}; check LISTONOSZ_BOUNCES__USERNAME and "
                "LISTONOSZ_BOUNCES__PASSWORD"
            ) from exc
        try:
            yield imap
        finally:
            _logout(imap)

    def collect(self, tracker: Tracker, now: dt.datetime | None = None) -> Collected:
        """Read every message in the folder, record it, move it away; what it did."""
        s = self.settings
        collected = Collected()
        try:
            with self.session() as imap:
                for folder in (s.processed_folder, s.unrecognised_folder):
                    if not imap.folder_exists(folder):
                        imap.create_folder(folder)
                selected = imap.select_folder(s.folder)
                validity = int(selected[b"UIDVALIDITY"])
                uids = sorted(imap.search(["NOT", "DELETED"]))
                for start in range(0, len(uids), s.batch_size):
                    chunk = uids[start : start + s.batch_size]
                    self._batch(imap, chunk, validity, tracker, now, collected)
        except (OSError, IMAPClientError) as exc:
            raise BounceMailboxError(
                f"the bounce mailbox at {s.host}:{s.port} failed while reading "
                f"{s.folder!r}: {exc}; messages not yet moved are read again next time"
            ) from exc
        return collected

    def _batch(
        self,
        imap: IMAPClient,
        uids: Sequence[int],
        validity: int,
        tracker: Tracker,
        now: dt.datetime | None,
        collected: Collected,
    ) -> None:
        s = self.settings
        received = now or dt.datetime.now(dt.UTC)
        fetched = imap.fetch(list(uids), ["BODY.PEEK[]"])
        events: list[TrackedEvent] = []
        done: list[int] = []
        unknown: list[int] = []
        for uid in uids:
            raw = fetched.get(uid, {}).get(b"BODY[]")
            if not isinstance(raw, bytes):
                continue  # expunged meanwhile by someone else
            classified = classify(raw, self.secret)
            kind: Kind = classified.kind
            collected.kinds[kind] += 1
            if kind == "unknown":
                unknown.append(uid)
                continue
            collected.forged += classified.forged
            collected.unsigned += not classified.signed and not classified.forged
            collected.low_confidence += classified.confidence == "low"
            event_id = f"{s.folder}/{validity}/{uid}"
            events += tracked_events(classified, event_id, received, s.trust_unsigned)
            done.append(uid)
        collected.applied += tracker.apply(events)
        _move(imap, done, s.processed_folder)
        _move(imap, unknown, s.unrecognised_folder)
        collected.processed += len(done)
        collected.unrecognised += len(unknown)


def read_bounce_mailbox(settings: Settings) -> Collected:
    """One pass over the configured bounce mailbox, recorded into the store."""
    if settings.bounces is None:
        raise ConfigError(
            "no bounce mailbox is configured: set LISTONOSZ_BOUNCES__HOST, "
            "LISTONOSZ_BOUNCES__USERNAME and LISTONOSZ_BOUNCES__PASSWORD (or [bounces] in "
            "listonosz.toml)"
        )
    secret = settings.signing_secret()
    mailbox = BounceMailbox(settings.bounces, secret)
    with Tracker(settings.resolved_ledger_url, secret) as tracker:
        return mailbox.collect(tracker)


def _move(imap: IMAPClient, uids: list[int], folder: str) -> None:
    """Move messages to ``folder``: MOVE where the server has it, else copy, flag deleted and
    expunge exactly those (UIDPLUS), or leave them flagged (never a plain EXPUNGE)."""
    if not uids:
        return
    if imap.has_capability("MOVE"):
        imap.move(uids, folder)
        return
    imap.copy(uids, folder)
    imap.add_flags(uids, [b"\\Deleted"])
    if imap.has_capability("UIDPLUS"):
        imap.uid_expunge(uids)


def _logout(imap: IMAPClient) -> None:
    try:
        imap.logout()
    except (OSError, IMAPClientError):
        with contextlib.suppress(OSError, IMAPClientError):
            imap.shutdown()
