"""Signed tokens and the unsubscribe URL."""

from __future__ import annotations

import base64
import json
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from listonosz.mail import sign_token, unsubscribe_url, verify_token
from listonosz.store import delivery_key

SECRET = b"a-test-secret-of-reasonable-length-0123456789"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _other_char(ch: str) -> str:
    return "B" if ch == "A" else "A"


def test_round_trip() -> None:
    token = sign_token(SECRET, "unsubscribe", k="abc123", extra="ą ę")
    assert verify_token(SECRET, "unsubscribe", token) == {"k": "abc123", "extra": "ą ę"}


def test_token_is_url_safe_ascii() -> None:
    token = sign_token(SECRET, "rsvp", k="zażółć gęślą jaźń")
    assert token.isascii()
    assert token.count(".") == 1
    assert set(token) <= set(ALPHABET + ".")


def test_tampered_payload() -> None:
    token = sign_token(SECRET, "unsubscribe", k="abc123")
    payload, signature = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"p": "unsubscribe", "k": "xyz"}).encode())
    for bad_payload in (
        _other_char(payload[0]) + payload[1:],
        payload[:10] + _other_char(payload[10]) + payload[11:],
        forged.decode().rstrip("="),
    ):
        with pytest.raises(ValueError):
            verify_token(SECRET, "unsubscribe", f"{bad_payload}.{signature}")


def test_tampered_signature() -> None:
    token = sign_token(SECRET, "unsubscribe", k="abc123")
    payload, signature = token.split(".")
    for bad_signature in (
        _other_char(signature[0]) + signature[1:],
        signature[:5] + _other_char(signature[5]) + signature[6:],
        signature[:-2],
        "",
    ):
        with pytest.raises(ValueError):
            verify_token(SECRET, "unsubscribe", f"{payload}.{bad_signature}")


def test_signature_has_a_single_spelling() -> None:
    token = sign_token(SECRET, "unsubscribe", k="abc123")
    payload, signature = token.split(".")
    # 16 bytes = 22 base64 characters; the last one carries 2 data bits and 4 unused bits
    last = ALPHABET[ALPHABET.index(signature[-1]) ^ 1]
    variants = [f"{payload}.{signature[:-1]}{last}", f"{token}==", f"{token}!"]
    for variant in variants:
        with pytest.raises(ValueError):
            verify_token(SECRET, "unsubscribe", variant)


def test_wrong_purpose() -> None:
    token = sign_token(SECRET, "unsubscribe", k="abc123")
    with pytest.raises(ValueError, match="purpose"):
        verify_token(SECRET, "rsvp", token)


def test_wrong_secret() -> None:
    token = sign_token(SECRET, "unsubscribe", k="abc123")
    with pytest.raises(ValueError):
        verify_token(b"another-secret", "unsubscribe", token)


@pytest.mark.parametrize(
    "garbage",
    ["", "x", ".", "..", "a.b", "a.b.c", "ą.ę", "%%.%%", "eyJwIjoi", "null.null", "\x00.\x00"],
)
def test_garbage(garbage: str) -> None:
    with pytest.raises(ValueError):
        verify_token(SECRET, "unsubscribe", garbage)


def test_a_non_ascii_signature_is_refused_not_a_crash() -> None:
    payload = sign_token(SECRET, "unsubscribe", k="abc123").split(".")[0]
    for signature in ("ą", "RWÉ\x16", "\udc80", "\U0001f4a9" * 22):
        with pytest.raises(ValueError):
            verify_token(SECRET, "unsubscribe", f"{payload}.{signature}")


@given(
    payload=st.one_of(st.text(), st.just(sign_token(SECRET, "unsubscribe", k="a").split(".")[0])),
    signature=st.text(),
)
def test_any_text_is_a_token_or_a_value_error(payload: str, signature: str) -> None:
    for token in (f"{payload}.{signature}", payload + signature):
        with pytest.raises(ValueError):
            verify_token(SECRET, "unsubscribe", token)


def test_unsubscribe_url_carries_the_key_not_the_address() -> None:
    email = "Jan.Kowalczyk@ug-choroszcz.example.pl"
    key = delivery_key("ekonomia-spoleczna-2016", "invitation", email.lower())
    url = unsubscribe_url("https://zaproszenia.rops-bialystok.example/", SECRET, key)
    assert url.isascii()
    assert not any(ch.isspace() for ch in url)
    assert "@" not in url and "%40" not in url.upper()
    assert "kowalczyk" not in url.lower()
    # nor hidden in the base64 payload
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "zaproszenia.rops-bialystok.example")
    assert parts.path.startswith("/u/") and "//" not in parts.path
    token = unquote(parts.path.removeprefix("/u/"))
    claims = verify_token(SECRET, "unsubscribe", token)
    assert claims == {"k": key}
    payload = base64.urlsafe_b64decode(token.split(".")[0] + "==").decode()
    assert "kowalczyk" not in payload.lower() and "@" not in payload


def test_unsubscribe_url_without_trailing_slash() -> None:
    url = unsubscribe_url("https://zaproszenia.rops-bialystok.example", SECRET, "k1")
    assert url.startswith("https://zaproszenia.rops-bialystok.example/u/")
