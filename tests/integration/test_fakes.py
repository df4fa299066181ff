"""The provider fakes read addresses exactly as ``email.utils.parseaddr`` does."""

from __future__ import annotations

from email.header import decode_header, make_header
from email.utils import formataddr, parseaddr

from tests.fakes.server import split_address


def parsed(value: str) -> tuple[str, str]:
    name, address = parseaddr(value)
    return str(make_header(decode_header(name))) if name else "", address


def test_the_quick_path_reads_addresses_as_parseaddr_does() -> None:
    names = [
        "", "Anna Nowak", "Łukasz Wiśniewski", "J. Kowalski", "Wójt Gminy, Urząd",
        'Prezes "Zarządu"', "Jan  Kowalski", " Ewa", "a@b", "Dyrektor (ROPS)", "Zofia;Nowak",
    ]  # fmt: skip
    addresses = ["osoba.1@gmina1.example.pl", "a+b@x.example", "zła@ex.pl", "bez-domeny"]
    values = [formataddr((n, a)) for n in names for a in addresses if a.isascii()]
    values += [f"{name} <{address}>" for name in names for address in addresses]
    values += [*addresses, "", "<>", "Anna <a@b.pl> x", "a@b.pl, c@d.pl"]
    for value in values:
        assert split_address(value) == parsed(value), value
