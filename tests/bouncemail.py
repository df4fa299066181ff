"""Messages as they arrive in a bounce mailbox, written to order for tests and the benchmark:
RFC 3464 delivery status notifications, RFC 5965 abuse reports, auto-replies (Polish and
English), a bounce in no standard form, and mail that is none of these.

Each returns the bytes a mailbox would hold. The real thing, produced by Postfix, is in the
mail-stack tests (tests/mailstack.py); these cover what Postfix does not produce.
"""

from __future__ import annotations

import email.utils
import uuid
from email.header import Header

DATE = "Tue, 01 Dec 2026 09:30:00 +0100"


def _id(domain: str = "mx.example.pl") -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


def _original_headers(rcpt: str, message_id: str, return_path: str | None) -> str:
    lines = []
    if return_path:
        lines.append(f"Return-Path: <{return_path}>")
    lines += [
        "From: ROPS w Bialymstoku <zaproszenia@rops-bialystok.example>",
        f"To: {rcpt}",
        "Subject: Zaproszenie na seminarium",
        f"Message-ID: {message_id}",
        f"Date: {DATE}",
        "X-Listonosz-Campaign: ekonomia-spoleczna-2016",
    ]
    return "\r\n".join(lines) + "\r\n"


def dsn(
    to: str,
    rcpt: str,
    *,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str | None = None,
    envelope_id: str | None = None,
    message_id: str | None = None,
    original: str = "headers",
    return_path: str | None = None,
    auto_submitted: bool = True,
    extra_recipients: tuple[tuple[str, str, str], ...] = (),
) -> bytes:
    """A delivery status notification sent to ``to`` about a message to ``rcpt``.

    ``original``: ``headers`` (text/rfc822-headers), ``message`` (message/rfc822) or ``none``.
    ``extra_recipients``: more (rcpt, action, status) blocks.
    """
    boundary = f"=_report_{uuid.uuid4().hex}"
    message_id = message_id or _id("rops-bialystok.example")
    if diagnostic is None:
        diagnostic = f"smtp; 550 {status} <{rcpt}>: Recipient address rejected: User unknown"
    per_message = ["Reporting-MTA: dns; mx.odbiorca.example.pl"]
    if envelope_id:
        per_message.append(f"Original-Envelope-Id: {envelope_id}")
    per_message.append(f"Arrival-Date: {DATE}")
    blocks = ["\r\n".join(per_message)]
    for address, act, stat in ((rcpt, action, status), *extra_recipients):
        block = [
            f"Final-Recipient: rfc822; {address}",
            f"Original-Recipient: rfc822;{address}",
            f"Action: {act}",
            f"Status: {stat}",
        ]
        if address == rcpt:
            block.append(f"Diagnostic-Code: {diagnostic}")
        blocks.append("\r\n".join(block))
    headers = [
        "Return-Path: <>",
        f"Delivered-To: {to}",
        "From: Mail Delivery System <MAILER-DAEMON@mx.odbiorca.example.pl>",
        f"To: {to}",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {DATE}",
        f"Message-ID: {_id()}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
    ]
    if auto_submitted:
        headers.insert(5, "Auto-Submitted: auto-replied")
    parts = [
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Your message to {rcpt} could not be delivered ({action}, {status}).\r\n",
        "Content-Type: message/delivery-status\r\n\r\n" + "\r\n\r\n".join(blocks) + "\r\n",
    ]
    if original == "headers":
        parts.append(
            "Content-Type: text/rfc822-headers\r\n\r\n"
            + _original_headers(rcpt, message_id, return_path)
        )
    elif original == "message":
        parts.append(
            "Content-Type: message/rfc822\r\n\r\n"
            + _original_headers(rcpt, message_id, return_path)
            + "\r\nSzanowni Państwo, zapraszamy na seminarium.\r\n"
        )
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    head = "\r\n".join(headers)
    return f"{head}\r\n\r\nThis is a delivery status notification.\r\n\r\n{body}".encode()


def arf(
    to: str,
    rcpt: str,
    *,
    original_mail_from: str | None = None,
    message_id: str | None = None,
    feedback_type: str = "abuse",
    return_path: str | None = None,
) -> bytes:
    """An RFC 5965 abuse report (a feedback loop's complaint) about a message to ``rcpt``."""
    boundary = f"=_arf_{uuid.uuid4().hex}"
    message_id = message_id or _id("rops-bialystok.example")
    report = [
        f"Feedback-Type: {feedback_type}",
        "User-Agent: PocztaFBL/1.0",
        "Version: 1",
        f"Original-Rcpt-To: <{rcpt}>",
        "Source-IP: 192.0.2.25",
        f"Arrival-Date: {DATE}",
    ]
    if original_mail_from:
        report.insert(3, f"Original-Mail-From: <{original_mail_from}>")
    parts = [
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "This is an abuse report for a message received from 192.0.2.25.\r\n",
        "Content-Type: message/feedback-report\r\n\r\n" + "\r\n".join(report) + "\r\n",
        "Content-Type: message/rfc822\r\n\r\n"
        + _original_headers(rcpt, message_id, return_path)
        + "\r\nTresc zgloszonej wiadomosci.\r\n",
    ]
    headers = [
        "From: Feedback Loop <fbl@poczta.example.pl>",
        f"To: {to}",
        "Subject: Abuse report",
        f"Date: {DATE}",
        f"Message-ID: {_id('poczta.example.pl')}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=feedback-report; boundary="{boundary}"',
    ]
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


def autoreply(
    to: str,
    sender: str,
    subject: str,
    *,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    body: str = "Dzień dobry, jestem na urlopie do 15 grudnia. Pozdrawiam.",
) -> bytes:
    """An automatic reply (out of office) from ``sender`` to ``to``; the subject is encoded
    as mail programs do for non-ASCII text."""
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {Header(subject, 'utf-8').encode()}",
        f"Date: {DATE}",
        f"Message-ID: {_id('odbiorca.example.pl')}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def exim_bounce(to: str, rcpt: str, message_id: str) -> bytes:
    """A bounce without a delivery-status part, naming the failed address in
    ``X-Failed-Recipients`` and quoting the original inline."""
    lines = [
        "From: Mail Delivery System <Mailer-Daemon@mx.stary.example.pl>",
        f"To: {to}",
        "Subject: Mail delivery failed: returning message to sender",
        f"Date: {DATE}",
        f"Message-ID: {_id('mx.stary.example.pl')}",
        f"X-Failed-Recipients: {rcpt}",
        "Auto-Submitted: auto-replied",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    body = (
        "A message that you sent could not be delivered to one or more of its recipients.\r\n"
        f"\r\n  {rcpt}\r\n    host mx.stary.example.pl: 550 5.1.1 User unknown\r\n\r\n"
        "------ This is a copy of the message, including all the headers. ------\r\n\r\n"
        + _original_headers(rcpt, message_id, None)
    )
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def plain(to: str, subject: str = "Pytanie o seminarium", body: str = "Czy będzie kawa?") -> bytes:
    """A message that is neither a report nor an auto-reply (a person writing to the address)."""
    lines = [
        "From: Jan Kowalski <jan.kowalski@gmina.example.pl>",
        f"To: {to}",
        f"Subject: {Header(subject, 'utf-8').encode()}",
        f"Date: {email.utils.formatdate()}",
        f"Message-ID: {_id('gmina.example.pl')}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()
