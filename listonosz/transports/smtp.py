"""SMTP: plain, STARTTLS or implicit TLS, with AUTH; one connection serves a whole batch."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Sequence

from listonosz.config import TransportSettings
from listonosz.transports.base import Delivery, Outgoing


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {text}".strip()


class SmtpTransport:
    """Sends each message of a batch over one connection, reconnecting once if it drops."""

    def __init__(self, settings: TransportSettings, tls_context: ssl.SSLContext | None = None):
        self.settings = settings
        self.tls_context = tls_context or ssl.create_default_context()

    def connect(self) -> smtplib.SMTP:
        """An open, greeted and (if configured) authenticated connection."""
        s = self.settings
        if s.security == "tls":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=self.tls_context
            )
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        conn.ehlo()
        if s.security == "starttls":
            conn.starttls(context=self.tls_context)
            conn.ehlo()
        if s.username:
            password = s.password.get_secret_value() if s.password else ""
            conn.login(s.username, password)
        return conn

    def check(self) -> None:
        """Connect, greet and authenticate once, so a wrong setting fails before any send."""
        conn = self.connect()
        conn.quit()

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        results: list[Delivery] = []
        conn: smtplib.SMTP | None = None
        try:
            for index, message in enumerate(messages):
                for attempt in (1, 2):  # a dropped connection gets one reconnect per message
                    try:
                        if conn is None:
                            conn = self.connect()
                        results.append(self._send_one(conn, message))
                        break
                    except (smtplib.SMTPServerDisconnected, OSError) as exc:
                        conn = None
                        if attempt == 2:
                            results.append(Delivery(message.key, "deferred", f"connection: {exc}"))
                    except smtplib.SMTPException as exc:  # refused greeting, TLS or AUTH
                        detail = f"server refused the session: {exc}"
                        return results + [
                            Delivery(m.key, "deferred", detail) for m in messages[index:]
                        ]
        finally:
            if conn is not None:
                try:
                    conn.quit()
                except (smtplib.SMTPException, OSError):
                    conn.close()
        return results

    @staticmethod
    def _send_one(conn: smtplib.SMTP, message: Outgoing) -> Delivery:
        """One SMTP transaction, keeping the server's own reply for the ledger."""
        code, reply = conn.mail(message.mail_from)
        if code != 250:
            return _refused(message.key, code, reply, conn)
        code, reply = conn.rcpt(message.rcpt_to)
        if code not in (250, 251):
            return _refused(message.key, code, reply, conn)
        try:
            code, reply = conn.data(message.data)
        except smtplib.SMTPDataError as exc:
            return _refused(message.key, exc.smtp_code, exc.smtp_error, conn)
        if code != 250:
            return _refused(message.key, code, reply, conn)
        return Delivery(message.key, "sent", _reply(code, reply))


def _refused(key: str, code: int, reply: bytes | str, conn: smtplib.SMTP) -> Delivery:
    """A 4xx is worth another try later; a 5xx is final. Reset the transaction either way."""
    # A server that hung up is noticed, and reconnected to, by the next message.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        conn.rset()
    status = "deferred" if 400 <= code < 500 else "failed"
    return Delivery(key, status, _reply(code, reply))
