"""Signed RSVP links: one per answer, naming the ledger row and never the address."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from listonosz.mail import rsvp_url, unsubscribe_url, verify_token

SECRET = b"s" * 32
KEY = "6f1c0d2e9a7b4c3d"


def _token(url: str, prefix: str) -> str:
    assert url.startswith(prefix), url
    return unquote(url.removeprefix(prefix))


@pytest.mark.parametrize("answer", ["yes", "no"])
def test_rsvp_links_carry_key_and_answer(answer: str) -> None:
    url = rsvp_url("https://listonosz.example/", SECRET, KEY, answer)
    token = _token(url, "https://listonosz.example/r/")
    assert verify_token(SECRET, "rsvp", token) == {"k": KEY, "a": answer}
    assert "@" not in url


def test_yes_and_no_differ_and_cannot_be_swapped_or_reused() -> None:
    yes = _token(rsvp_url("https://l.example", SECRET, KEY, "yes"), "https://l.example/r/")
    no = _token(rsvp_url("https://l.example", SECRET, KEY, "no"), "https://l.example/r/")
    assert yes != no
    forged = no.split(".")[0][:-2] + yes.split(".")[0][-2:] + "." + no.split(".")[1]
    with pytest.raises(ValueError):
        verify_token(SECRET, "rsvp", forged)
    with pytest.raises(ValueError, match="another purpose"):
        verify_token(SECRET, "unsubscribe", yes)
    with pytest.raises(ValueError):
        verify_token(b"other secret", "rsvp", yes)
    unsubscribe = _token(unsubscribe_url("https://l.example", SECRET, KEY), "https://l.example/u/")
    with pytest.raises(ValueError, match="another purpose"):
        verify_token(SECRET, "rsvp", unsubscribe)


def test_only_yes_or_no() -> None:
    with pytest.raises(ValueError, match="yes"):
        rsvp_url("https://l.example", SECRET, KEY, "maybe")
