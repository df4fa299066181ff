"""Sending over real SMTP servers on loopback: STARTTLS with AUTH, implicit TLS, DKIM, faults."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import ssl
import time
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from listonosz.campaign import load_campaign
from listonosz.config import DkimSettings, Settings, TransportSettings
from listonosz.contacts.model import Contact
from listonosz.sending import BatchSender, MessageFactory, Ready, prepare_messages
from listonosz.store import Ledger
from listonosz.tracking import Tracker
from listonosz.transports import Outgoing
from listonosz.transports.base import TransportUnavailable
from listonosz.transports.ratelimit import Pace
from listonosz.transports.smtp import SmtpTransport, blames_the_address
from tests.conftest import CAMPAIGN, free_port
from tests.fakes.smtp import (
    Mailbox,
    faulty_sink,
    scripted_sink,
    self_signed_certificate,
    tls_auth_server,
)

#: The installation secret these tests key suppression hashes with.
SECRET = b"test installation secret"

CAMPAIGN_ID = "ekonomia-spoleczna-2016"

USER, PASSWORD = "zaproszenia@rops-bialystok.example", "not-a-real-password-123"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


def _client_context(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))  # trusts exactly our test certificate


def _factory(tmp_path: Path, **settings: object) -> MessageFactory:
    return MessageFactory(
        load_campaign(CAMPAIGN), "invitation", Settings(var_dir=tmp_path, **settings)
    )


def _sender(tmp_path: Path, transport: SmtpTransport) -> BatchSender:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    return BatchSender(CAMPAIGN_ID, "invitation", ledger, transport, run_id="run-1")


def _ready(tmp_path: Path, contacts: list[Contact]) -> list[Ready]:
    return prepare_messages(_factory(tmp_path), contacts, mime=True)


def _contacts(count: int) -> list[Contact]:
    return [
        Contact(
            f"osoba{n}@gmina{n % 7}.example.pl",
            "Anna" if n % 2 else "Jan",
            f"Nowak{n}",
            groups=("jst",),
        )
        for n in range(count)
    ]


def test_starttls_with_auth(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    mailbox, port = Mailbox(), free_port()
    server = tls_auth_server(mailbox, port, *certificate, USER, PASSWORD)
    try:
        settings = TransportSettings(
            host="localhost", port=port, security="starttls", username=USER, password=PASSWORD
        )
        transport = SmtpTransport(settings, tls_context=_client_context(certificate[0]))
        transport.check()
        report = _sender(tmp_path, transport).send(_ready(tmp_path, _contacts(12)))
        transport.close()
    finally:
        server.stop()
    assert report.counts == {"sent": 12}
    assert sorted(r for r, _ in mailbox.received) == sorted(c.email for c in _contacts(12))


@pytest.mark.parametrize(
    ("security", "password", "expected"),
    [
        ("starttls", "wrong-password", "535"),  # authentication failed
        ("plain", PASSWORD, "AUTH extension not supported"),  # no AUTH before STARTTLS
    ],
)
def test_a_refused_session_is_a_clear_error_before_anything_is_sent(
    certificate: tuple[Path, Path], security: str, password: str, expected: str
) -> None:
    mailbox, port = Mailbox(), free_port()
    server = tls_auth_server(mailbox, port, *certificate, USER, PASSWORD)
    try:
        settings = TransportSettings(
            host="localhost", port=port, security=security, username=USER, password=password
        )
        transport = SmtpTransport(settings, tls_context=_client_context(certificate[0]))
        with pytest.raises(TransportUnavailable, match=f"localhost:{port}.*{expected}") as error:
            transport.check()
    finally:
        server.stop()
    assert password not in str(error.value)
    assert mailbox.received == []


def test_an_untrusted_certificate_is_refused(certificate: tuple[Path, Path]) -> None:
    mailbox, port = Mailbox(), free_port()
    server = tls_auth_server(mailbox, port, *certificate, USER, PASSWORD)
    try:
        settings = TransportSettings(
            host="localhost", port=port, security="starttls", username=USER, password=PASSWORD
        )
        with pytest.raises(TransportUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            SmtpTransport(settings).check()  # the system's CAs do not know our certificate
    finally:
        server.stop()


def test_dkim_signature_verifies_and_covers_the_unsubscribe_headers(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"listonosz2016._domainkey.rops-bialystok.example."
        return record

    dkim_settings = DkimSettings(
        domain="rops-bialystok.example", selector="listonosz2016", private_key=private_pem
    )
    factory = _factory(tmp_path, dkim=dkim_settings)
    date = dt.datetime(2016, 8, 20, 9, 0, tzinfo=dt.UTC)
    data = factory.assemble(factory.prepare(_contacts(1)[0]), date)

    assert dkim.verify(data, dnsfunc=dns)
    signature = email.message_from_bytes(data, policy=email.policy.compat32)["DKIM-Signature"]
    signed = {
        h.strip().lower()
        for h in " ".join(signature.split()).split("h=")[1].split(";")[0].split(":")
    }
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= signed
    tampered = data.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        b"List-Unsubscribe-Post: List-Unsubscribe=Two-Clicks",
    )
    assert tampered != data and not dkim.verify(tampered, dnsfunc=dns)


@pytest.mark.parametrize(
    ("code", "reply", "blamed"),
    [
        (550, b"5.1.1 <x@y.pl>: Recipient address rejected: User unknown", True),
        (550, b"5.2.1 Mailbox disabled", True),
        (553, b"mailbox name not allowed", True),
        (550, b"5.7.1 Message rejected as spam", False),
        (552, b"5.3.4 Message too big", False),
        (554, b"Transaction failed", False),
    ],
)
def test_which_permanent_failures_blame_the_address(code: int, reply: bytes, blamed: bool) -> None:
    assert blames_the_address(code, reply) is blamed


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_faults_never_lose_or_repeat_anyone(tmp_path: Path, seed: int) -> None:
    """421, 451, 452, 550 and dropped connections: everyone ends sent once or failed."""
    mailbox, port = Mailbox(), free_port()
    server, handler = faulty_sink(mailbox, port, seed=seed, fault_rate=0.3)
    people = _contacts(300)
    try:
        settings = TransportSettings(port=port, pool_size=2, retries=2, retry_backoff=0.01)
        transport = SmtpTransport(settings)
        sender = _sender(tmp_path, transport)
        runs = 0
        while runs < 6:  # a deferred message is retried by the next run, as staff would
            remaining = [
                c
                for c in people
                if c.email not in sender.ledger.settled_emails(sender.campaign_id, "invitation")
            ]
            if not remaining:
                break
            sender.run_id = f"run-{runs}"
            sender.send(_ready(tmp_path, remaining))
            runs += 1
        transport.close()
    finally:
        server.stop()
    assert {"452", "451", "421", "drop", "550"} <= set(handler.faults)

    counts = sender.ledger.status_counts(sender.campaign_id, "invitation")
    unknown = {c.email for c in people if handler.unknown(c.email)}
    assert counts == {"sent": len(people) - len(unknown), "failed": len(unknown)}
    received = [recipient for recipient, _ in mailbox.received]
    assert sorted(received) == sorted(c.email for c in people if c.email not in unknown)
    assert set(mailbox.message_ids().values()) == {1}  # nobody got a message twice

    with sender.ledger.engine.connect() as conn:
        from sqlalchemy import select

        from listonosz.store.ledger import deliveries

        failed = dict(
            conn.execute(
                select(deliveries.c.email, deliveries.c.detail).where(
                    deliveries.c.status == "failed"
                )
            ).all()
        )
    assert set(failed) == unknown
    assert all(detail.startswith("550 5.1.1") for detail in failed.values())


def test_refused_addresses_are_bounces_and_go_on_the_suppression_list(tmp_path: Path) -> None:
    """A 550 5.1.1 at RCPT is a hard bounce from source "smtp": an event in the log, the
    delivery's outcome, and a suppression, through the same Tracker as a DSN."""
    mailbox, port = Mailbox(), free_port()
    server, handler = faulty_sink(mailbox, port, seed=3, fault_rate=0.0)
    people = _contacts(40)
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    tracker = Tracker(url, SECRET)
    try:
        transport = SmtpTransport(TransportSettings(port=port))
        sender = _sender(tmp_path, transport)
        sender.tracker = tracker
        report = sender.send(_ready(tmp_path, people))
        transport.close()
        entries = {entry.email: entry.reason for entry in tracker.suppressions.entries()}
        bounces = tracker.log.of_type("bounced")
        outcomes = {e.delivery_key: tracker.ledger.delivery(e.delivery_key) for e in bounces}
    finally:
        server.stop()
        tracker.close()
    unknown = sorted(c.email for c in people if handler.unknown(c.email))
    assert unknown and sorted(report.refused_addresses) == unknown
    assert entries == dict.fromkeys(unknown, "hard_bounce")
    assert sorted((e.source, e.bounce_class, e.detail["status"]) for e in bounces) == [
        ("smtp", "hard", "5.1.1")
    ] * len(unknown)
    assert sorted(d.email for d in outcomes.values() if d and d.outcome == "bounced") == unknown
    assert not any("@" in e.detail["reply"] for e in bounces)  # the reply quoted the address


def test_a_dead_server_defers_everything_quickly(tmp_path: Path) -> None:
    transport = SmtpTransport(TransportSettings(port=free_port(), retries=0, timeout=2))
    message = Outgoing("k1", "a@b.pl", "c@d.pl", b"Subject: x\r\n\r\nx\r\n")
    (delivery,) = transport.send_batch([message])
    assert delivery.status == "deferred" and "cannot open an SMTP session" in delivery.detail


def test_a_4xx_is_retried_with_backoff_then_left_deferred() -> None:
    """451 once then 250: sent on the second try. 452 on every try: deferred after 1 + retries
    tries, with the server's reply kept. The backoff doubles; nothing really sleeps."""
    mailbox, port = Mailbox(), free_port()
    script = {
        "busy@x.pl": ["DATA 451 4.3.0 Temporary local problem", "DATA 250 2.0.0 OK stored"],
        "full@x.pl": ["RCPT 452 4.2.2 Mailbox full, try again later"],
    }
    server, handler = scripted_sink(mailbox, port, script)
    waits: list[float] = []
    addresses = ["busy@x.pl", "full@x.pl", "ok@x.pl"]
    messages = [
        Outgoing(f"k{n}", "bounces@rops.example", address, b"Subject: x\r\n\r\nx\r\n")
        for n, address in enumerate(addresses)
    ]
    started = time.monotonic()
    try:
        settings = TransportSettings(port=port, retries=2, retry_backoff=0.5)
        transport = SmtpTransport(settings, pace=Pace(sleep=waits.append))
        deliveries = transport.send_batch(messages)
        transport.close()
    finally:
        server.stop()
    assert time.monotonic() - started < 1.0

    assert [(d.key, d.status) for d in deliveries] == [
        ("k0", "sent"),
        ("k1", "deferred"),
        ("k2", "sent"),
    ]
    assert deliveries[0].detail.startswith("250 2.0.0")
    assert deliveries[1].detail == "452 4.2.2 Mailbox full, try again later"
    assert not any(d.suppress for d in deliveries)  # a 4xx never blames the address
    assert handler.tries == {"busy@x.pl": 2, "full@x.pl": 3, "ok@x.pl": 1}
    assert sorted(recipient for recipient, _ in mailbox.received) == ["busy@x.pl", "ok@x.pl"]
    assert len(waits) == 2
    assert 0.4 <= waits[0] <= 0.6 and 0.8 <= waits[1] <= 1.2  # 0.5 s, then doubled, ±20 %
