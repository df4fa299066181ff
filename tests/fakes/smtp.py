"""SMTP servers for tests, all real aiosmtpd servers on loopback: a TLS + AUTH server that
demands STARTTLS before AUTH, a faulty sink that answers 421, 451, 452 and 550 at random and
drops connections in the middle of DATA, and a scripted sink that answers each address as told."""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import ssl
import threading
import zlib
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 / localhost, written as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Mailbox:
    """What a test server accepted: (envelope recipient, raw message) pairs."""

    received: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, recipient: str, data: bytes) -> None:
        with self.lock:
            self.received.append((recipient, data))

    def message_ids(self) -> Counter[str]:
        parser = BytesHeaderParser()
        with self.lock:
            return Counter(str(parser.parsebytes(data)["Message-ID"]) for _, data in self.received)


class _StoringHandler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope) -> str:
        for recipient in envelope.rcpt_tos:
            self.mailbox.add(recipient, envelope.original_content)
        return "250 2.0.0 OK stored"


def tls_auth_server(
    mailbox: Mailbox, port: int, cert: Path, key: Path, user: str, password: str
) -> Controller:
    """STARTTLS required; AUTH PLAIN/LOGIN required, and only after STARTTLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (user, password)
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        _StoringHandler(mailbox),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
        ready_timeout=10,
    )
    controller.start()
    return controller


class FaultyHandler:
    """Answers like a busy, strict server. Addresses whose hash ends in 0 are unknown (550, on
    every try); everything else fails at random with 452, 451, 421 or a dropped connection."""

    def __init__(self, mailbox: Mailbox, seed: int, fault_rate: float = 0.25) -> None:
        self.mailbox = mailbox
        self.rng = random.Random(seed)
        self.fault_rate = fault_rate
        self.faults: Counter[str] = Counter()

    @staticmethod
    def unknown(address: str) -> bool:
        return zlib.crc32(address.encode()) % 10 == 0

    def _fault(self, *kinds: str) -> str | None:
        if self.rng.random() >= self.fault_rate:
            return None
        kind = self.rng.choice(kinds)
        self.faults[kind] += 1
        return kind

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self.unknown(address):
            self.faults["550"] += 1
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if self._fault("452", "none") == "452":
            return "452 4.5.3 Too many recipients, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        fault = self._fault("451", "421", "drop")
        if fault == "451":
            return "451 4.3.0 Temporary local problem, try again"
        if fault == "421":
            return "421 4.3.2 Service shutting down, closing transmission channel"
        if fault == "drop":
            server.transport.close()  # hang up before answering: nothing was accepted
            return "250 2.0.0 never seen by the client"
        for recipient in envelope.rcpt_tos:
            self.mailbox.add(recipient, envelope.original_content)
        return "250 2.0.0 OK stored"


def faulty_sink(
    mailbox: Mailbox, port: int, seed: int, fault_rate: float
) -> tuple[Controller, FaultyHandler]:
    handler = FaultyHandler(mailbox, seed, fault_rate)
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    return controller, handler


class ScriptedHandler:
    """Answers each recipient from a script, one entry per try, the last entry repeated:
    ``{"a@x.pl": ["DATA 451 4.3.0 Busy", "DATA 250 2.0.0 OK"], "b@x.pl": ["RCPT 452 4.5.3 Full"]}``.
    An entry names the command it answers; addresses not in the script are accepted."""

    def __init__(self, mailbox: Mailbox, script: dict[str, list[str]]) -> None:
        self.mailbox = mailbox
        self.script = script
        self.tries: Counter[str] = Counter()

    def _entry(self, address: str) -> tuple[str, str]:
        replies = self.script.get(address, ["DATA 250 2.0.0 OK stored"])
        command, _, reply = replies[min(self.tries[address], len(replies) - 1)].partition(" ")
        return command, reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        command, reply = self._entry(address)
        if command == "RCPT":
            self.tries[address] += 1
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        (address,) = envelope.rcpt_tos  # the transport sends one transaction per message
        _, reply = self._entry(address)
        self.tries[address] += 1
        if reply.startswith("250"):
            self.mailbox.add(address, envelope.original_content)
        return reply


def scripted_sink(
    mailbox: Mailbox, port: int, script: dict[str, list[str]]
) -> tuple[Controller, ScriptedHandler]:
    handler = ScriptedHandler(mailbox, script)
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    return controller, handler
