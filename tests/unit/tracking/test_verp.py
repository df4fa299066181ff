"""Signed VERP return paths: made, read back, and a forged or damaged one refused."""

from __future__ import annotations

import pytest

from listonosz.tracking.verp import first_verp_key, verp_address, verp_key

SECRET = b"installation secret"
KEY = "3f" * 20


def test_a_return_path_names_its_delivery_and_reads_back() -> None:
    address = verp_address("bounces@zwroty.example.pl", KEY, SECRET)
    local, domain = address.split("@")
    assert domain == "zwroty.example.pl"
    assert local.startswith(f"bounces+{KEY}.") and len(local) <= 64
    assert verp_key(address, SECRET) == (KEY, True)
    assert verp_key(f"<{address.upper()}>", SECRET) == (KEY, True)  # a server changed its case


def test_a_forged_or_foreign_signature_names_nobody() -> None:
    address = verp_address("bounces@zwroty.example.pl", KEY, SECRET)
    other_key = "4e" * 20
    forged = address.replace(KEY, other_key)  # someone else's key, our MAC
    assert verp_key(forged, SECRET) == (None, False)
    assert verp_key(address, b"another installation") == (None, False)
    assert verp_key(f"bounces+{KEY}@zwroty.example.pl", SECRET) == (None, True)  # no MAC at all
    assert verp_key("bounces@zwroty.example.pl", SECRET) == (None, True)


def test_the_first_checked_address_wins() -> None:
    good = verp_address("b@x.example.pl", KEY, SECRET)
    bad = good.replace(KEY, "00" * 20)
    assert first_verp_key(["jan@gmina.example.pl", bad, good], SECRET) == (KEY, True)
    assert first_verp_key(["jan@gmina.example.pl", bad], SECRET) == (None, False)
    assert first_verp_key(["jan@gmina.example.pl"], SECRET) == (None, True)


def test_a_bounce_address_too_long_for_a_local_part_is_refused() -> None:
    with pytest.raises(ValueError, match="too long for VERP"):
        verp_address("zwroty-wiadomosci-z-rops@x.example.pl", KEY, SECRET)
