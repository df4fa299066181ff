"""Signed links in messages (unsubscribe, RSVP yes/no): easy to carry, impossible to forge."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import quote


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_token(secret: bytes, purpose: str, **claims: str) -> str:
    """A compact token ``payload.signature`` binding ``claims`` to one ``purpose``."""
    payload = _b64(json.dumps({"p": purpose, **claims}, separators=(",", ":")).encode())
    signature = hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest()[:16]
    return f"{payload}.{_b64(signature)}"


def verify_token(secret: bytes, purpose: str, token: str) -> dict[str, str]:
    """The claims of a token made by :func:`sign_token`; ``ValueError`` if forged or mistyped."""
    try:
        payload, signature = token.split(".")
        expected = hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest()[:16]
        # as bytes: compare_digest refuses str with non-ASCII characters (a TypeError)
        if not hmac.compare_digest(_b64(expected).encode("ascii"), signature.encode()):
            raise ValueError("bad signature")
        claims: dict[str, str] = json.loads(_unb64(payload))
    except (ValueError, UnicodeError) as exc:
        raise ValueError(f"invalid token: {exc}") from None
    if claims.pop("p", None) != purpose:
        raise ValueError("invalid token: made for another purpose")
    return claims


def unsubscribe_url(public_url: str, secret: bytes, delivery_key: str) -> str:
    """The one-click (RFC 8058) unsubscribe URL of one message; the ledger knows whose it is.

    The token carries the ledger key, not the address, so a logged URL reveals nobody.
    """
    token = sign_token(secret, "unsubscribe", k=delivery_key)
    return f"{public_url.rstrip('/')}/u/{quote(token)}"


RSVP_ANSWERS = ("yes", "no")


def rsvp_url(public_url: str, secret: bytes, delivery_key: str, answer: str) -> str:
    """The signed link a recipient follows to answer an invitation ``yes`` or ``no``.

    Like the unsubscribe link it names the ledger row, never the address; the answer is signed
    into the token (purpose ``rsvp``), so nobody can turn a "no" link into a "yes".
    """
    if answer not in RSVP_ANSWERS:
        raise ValueError(f"an RSVP answer is one of {RSVP_ANSWERS}, not {answer!r}")
    token = sign_token(secret, "rsvp", k=delivery_key, a=answer)
    return f"{public_url.rstrip('/')}/r/{quote(token)}"


def checkin_url(public_url: str, secret: bytes, campaign_id: str) -> str:
    """The registration desk's secret link to one campaign's check-in page (purpose
    ``checkin``): whoever holds it can mark people present, so staff share it with the desk
    only."""
    token = sign_token(secret, "checkin", c=campaign_id)
    return f"{public_url.rstrip('/')}/checkin/{quote(token)}"
