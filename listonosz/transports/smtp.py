"""SMTP: plain, STARTTLS or implicit TLS, with AUTH, over a pool of reused connections.

Each message gets its own transaction (MAIL, RCPT, DATA) and its own result: ``sent`` with the
server's reply, ``deferred`` for a 4xx (retried here with backoff, then left for the next run),
or ``failed`` for a 5xx, flagged for suppression when the address itself is the cause. A dropped
connection is reopened and the message tried again. Where the server offers DSN, MAIL FROM
carries the ledger key as ENVID, so a bounce names its delivery even without VERP.
"""

from __future__ import annotations

import contextlib
import queue
import random
import re
import smtplib
import ssl
import threading
from collections.abc import Iterator, Sequence

from listonosz.config import TransportSettings
from listonosz.stopping import Stopped
from listonosz.transports.base import NOT_SENT, Delivery, Outgoing, TransportUnavailable
from listonosz.transports.ratelimit import Pace

_ENHANCED = re.compile(rb"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_ENHANCED_ANYWHERE = re.compile(r"(?:^|\s|-)([245])\.(\d{1,3})\.(\d{1,3})\b")
#: Permanent replies that mean "this address does not exist or takes no mail": suppress it.
_ADDRESS_CODES = {550, 551, 553}
_ADDRESS_ENHANCED = ("5.1.", "5.2.1")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def enhanced_status(reply: str) -> str:
    """The enhanced status code (``5.1.1``) that a reply such as ``550 5.1.1 …`` carries; ''."""
    found = _ENHANCED_ANYWHERE.search(reply)
    return ".".join(found.groups()) if found else ""


def blames_the_address(code: int, reply: bytes | str) -> bool:
    """A permanent reply caused by the recipient address (unknown user, mailbox disabled)."""
    data = reply if isinstance(reply, bytes) else reply.encode("utf-8", "replace")
    enhanced = _ENHANCED.match(data)
    if enhanced:
        status = b".".join(enhanced.groups()).decode()
        return status.startswith(_ADDRESS_ENHANCED)
    return code in _ADDRESS_CODES


def dsn_options(conn: smtplib.SMTP, key: str) -> list[str]:
    """MAIL FROM parameters for a server that offers DSN (RFC 3461): the ledger key as the
    envelope id, which comes back in a bounce as ``Original-Envelope-Id``, and only the
    headers of the original in the bounce (``RET=HDRS``: enough to match it, less to keep)."""
    if not conn.has_extn("dsn"):
        return []
    envid = "".join(c if "!" <= c <= "~" and c not in "+=" else f"+{ord(c):02X}" for c in key)
    return [f"ENVID={envid}", "RET=HDRS"]


def _outcome(key: str, code: int, reply: bytes | str) -> Delivery:
    detail = f"{code} {_text(reply)}".strip()
    if 200 <= code < 300:
        return Delivery(key, "sent", detail)
    if 400 <= code < 500:
        return Delivery(key, "deferred", detail)
    return Delivery(key, "failed", detail, suppress=blames_the_address(code, reply))


class SmtpTransport:
    """Sends batches over up to ``pool_size`` connections kept open between batches."""

    wants_mime = True
    claim_chunk = 20

    def __init__(
        self,
        settings: TransportSettings,
        tls_context: ssl.SSLContext | None = None,
        pace: Pace | None = None,
    ) -> None:
        self.settings = settings
        self.tls_context = tls_context or ssl.create_default_context()
        self.pace = pace or Pace(settings.rate_per_minute)
        self._idle: queue.LifoQueue[smtplib.SMTP] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(settings.pool_size)

    def connect(self) -> smtplib.SMTP:
        """An open, greeted and (if configured) authenticated connection."""
        s = self.settings
        if s.security == "tls":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=self.tls_context
            )
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            conn.ehlo()
            if s.security == "starttls":
                conn.starttls(context=self.tls_context)
                conn.ehlo()
            if s.username:
                password = s.password.get_secret_value() if s.password else ""
                conn.login(s.username, password)
        except BaseException:
            conn.close()
            raise
        return conn

    def check(self) -> None:
        """Connect, greet and authenticate once, so a wrong setting fails before any send."""
        with self._connection():
            pass

    def close(self) -> None:
        """Say goodbye on every idle connection."""
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return
            _quit(conn)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[smtplib.SMTP]:
        """A pooled connection; dropped (not returned) if anything goes wrong while in use."""
        with self._slots:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                try:
                    conn = self.connect()
                except (smtplib.SMTPException, OSError) as exc:
                    s = self.settings
                    raise TransportUnavailable(
                        f"cannot open an SMTP session with {s.host}:{s.port} ({s.security}): {exc}"
                    ) from exc
            try:
                yield conn
            except BaseException:
                _quit(conn)
                raise
            self._idle.put(conn)

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        """One result per message, in order; 4xx answers are retried with backoff first."""
        results: dict[str, Delivery] = {}
        pending = list(messages)
        for attempt in range(self.settings.retries + 1):
            if attempt:
                delay = self.settings.retry_backoff * 2 ** (attempt - 1)
                try:
                    self.pace.sleep(delay * random.uniform(0.8, 1.2))
                except Stopped:  # the deferred stay deferred, for the next run
                    break
            for delivery in self._send_all(pending):
                results[delivery.key] = delivery
            pending = [m for m in pending if results[m.key].status == "deferred"]
            if not pending or self.pace.stop.requested:
                break
        return [results[m.key] for m in messages]

    def _send_all(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        """Send in order, reopening the connection when the server closes or drops it."""
        results: list[Delivery] = []
        retried: set[str] = set()
        index = 0
        while index < len(messages):
            try:
                with self._connection() as conn:
                    while index < len(messages):
                        delivery = self._send_one(conn, messages[index])
                        results.append(delivery)
                        index += 1
                        if delivery.detail.startswith("421"):
                            raise _ServerClosing
            except _ServerClosing:
                continue
            except TransportUnavailable as exc:
                results += [Delivery(m.key, "deferred", str(exc)) for m in messages[index:]]
                break
            except Stopped:
                results += [Delivery(m.key, "deferred", NOT_SENT) for m in messages[index:]]
                break
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                # No answer for this message: one more try on a fresh connection.
                key = messages[index].key
                if key in retried:
                    results.append(Delivery(key, "deferred", f"connection lost: {exc}"))
                    index += 1
                retried.add(key)
        return results

    def _send_one(self, conn: smtplib.SMTP, message: Outgoing) -> Delivery:
        """One SMTP transaction, keeping the server's own reply for the ledger."""
        self.pace()
        reply: bytes | str  # smtplib's errors may carry either
        code, reply = conn.mail(message.mail_from, dsn_options(conn, message.key))
        if code == 250:
            code, reply = conn.rcpt(message.rcpt_to)
            if code in (250, 251):
                try:
                    code, reply = conn.data(message.data)
                except smtplib.SMTPDataError as exc:
                    code, reply = exc.smtp_code, exc.smtp_error
                if code == 250:
                    return _outcome(message.key, code, reply)
        with contextlib.suppress(smtplib.SMTPException, OSError):
            conn.rset()  # a server that hung up is noticed by the next message
        return _outcome(message.key, code, reply)


class _ServerClosing(Exception):
    """The server answered 421: it is closing this connection."""


def _quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()
