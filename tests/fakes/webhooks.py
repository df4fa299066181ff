"""How the fakes call Listonosz's webhooks back, signed or authenticated as each provider does
(see the provider modules in ``listonosz.transports`` and their documentation): the signing
helpers, shared with the tests that forge requests, and what a fake decides happened to each
message it accepted (``fates``: ``delivered`` unless a test says ``bounced``, ``soft``,
``blocked`` or ``complained``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

#: The Basic credentials the Postmark and Brevo fakes put in the webhook URL.
WEBHOOK_USER, WEBHOOK_PASSWORD = "listonosz-hooks", "fake-hook-password-8c1e"
#: Brevo's bearer token, Mailgun's webhook signing key.
BREVO_TOKEN = "fake-brevo-hook-token-5d2a"
MAILGUN_SIGNING_KEY = "fake-mailgun-signing-key-0f7b"

FATES = ("delivered", "bounced", "soft", "blocked", "complained")


@dataclass
class Target:
    """Where a fake posts its webhooks, and how it authenticates (None: as configured)."""

    url: str
    user: str | None = WEBHOOK_USER
    password: str | None = WEBHOOK_PASSWORD
    token: str | None = None  # Brevo: a bearer token instead of Basic


def new_signing_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key pair such as SendGrid makes when signing is turned on."""
    return ec.generate_private_key(ec.SECP256R1())


def public_key_text(key: ec.EllipticCurvePrivateKey) -> str:
    """The public half as SendGrid's settings page shows it: base64 of the DER SPKI."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sendgrid_headers(
    key: ec.EllipticCurvePrivateKey, body: bytes, timestamp: str | None = None
) -> dict[str, str]:
    """SendGrid's signature headers: ECDSA (SHA-256) over timestamp + raw body, base64 DER."""
    stamp = timestamp or str(int(time.time()))
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }


def mailgun_signature(
    signing_key: str, timestamp: str | None = None, token: str | None = None
) -> dict[str, str]:
    """Mailgun's signature block: hex HMAC-SHA256 of timestamp + token (50 characters)."""
    stamp = timestamp or str(int(time.time()))
    token = token or secrets.token_hex(25)
    digest = hmac.new(signing_key.encode(), (stamp + token).encode(), hashlib.sha256)
    return {"timestamp": stamp, "token": token, "signature": digest.hexdigest()}


def basic(user: str, password: str) -> dict[str, str]:
    """An ``Authorization: Basic`` header (what credentials in a URL become)."""
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def diagnostic(fate: str, address: str) -> tuple[str, str]:
    """(status, text) a receiving server gives for a fate; the text quotes the address, as
    real ones do, so tests see that it never reaches the store."""
    if fate == "bounced":
        return "5.1.1", f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
    if fate == "soft":
        return "4.2.2", f"452 4.2.2 <{address}>: Mailbox full"
    if fate == "blocked":
        return "5.7.1", "550 5.7.1 Message rejected due to the sender's reputation"
    return "2.0.0", "250 2.0.0 OK"
