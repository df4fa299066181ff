"""Addresses: the fast path agrees with email-validator, typos are spotted, IDN, SMTPUTF8."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from listonosz.contacts.emails import EmailChecker, suggest
from listonosz.contacts.text import clean_text

TRICKY = [
    "jan.kowalski@wp.pl",
    "Jan.Kowalski@WP.PL",
    "o'brien@gmail.com",
    "a+b@sub.example.pl",
    "x" * 64 + "@wp.pl",
    "x" * 70 + "@wp.pl",  # a long local part: only strict mode limits it
    "a@" + "b" * 63 + ".pl",
    "a@" + "b" * 64 + ".pl",
    "a@" + ".".join(["abcdefghi"] * 25) + ".pl",  # 252 characters after the @
    "ab@" + ".".join(["abcdefghi"] * 25) + ".pl",
    "a" * 10 + "@" + ".".join(["abcdefghi"] * 24) + ".pl",
    "jan@wp.123",
    "jan@123.wp.pl",
    "jan@localhost",
    "jan@mail.local",
    "jan@x.test",
    "jan@x.invalid",
    "jan@x.onion",
    "jan@x.arpa",
    "jan@ab--cd.pl",
    "jan@xn--zz.pl",
    "jan@xn--w-uga1v8h.pl",
    "jan@-wp.pl",
    "jan@wp-.pl",
    "jan@wp..pl",
    "jan@wp.pl.",
    ".jan@wp.pl",
    "jan.@wp.pl",
    "ja..n@wp.pl",
    "jan@wp",
    "jan@@wp.pl",
    "jan@",
    "@wp.pl",
    "jan wp@wp.pl",
    "jan@w_p.pl",
    "jan@[10.0.0.1]",
    '"jan"@wp.pl',
    "Jan <jan@wp.pl>",
    "żółć@wp.pl",
    "jan@żółw.pl",
    "jan@ŻÓŁW.PL",
    "jan＠wp.pl",
    "jan(at)wp.pl",
    "jan@wp.pl>",
    "jan!#$%&*+/=?^_`{|}~-@wp.pl",
    "info@WP.PL",
]


@pytest.mark.parametrize("address", TRICKY)
def test_verdict_and_form_agree_with_email_validator(address: str) -> None:
    checker = EmailChecker()
    for _ in range(2):  # the second time, what the checker learnt about the domain is used
        try:
            valid = validate_email(address, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError as exc:
            got, reason = checker.verdict(address)
            assert got is None
            assert reason is not None and reason.startswith(str(exc))
        else:
            got, _ = checker.verdict(address)
            assert got == (valid.ascii_email or valid.normalized).lower()


@pytest.mark.parametrize("smtputf8", [False, True])
def test_verdicts_of_many_cells_at_once_are_each_cells_verdict(smtputf8: bool) -> None:
    cells = [*TRICKY, *(f" {a} " for a in TRICKY), *(a.upper() for a in TRICKY), "", "a@b.pl"]
    cells += ["a" * 64 + "@" + ".".join(["abcdefghi"] * 19) + ".pl"]  # 253 characters: fits
    cells += ["a" * 64 + "@" + ".".join(["abcdefghi"] * 19) + ".pll"]  # 254 with no room
    addresses, notes = EmailChecker(smtputf8).verdicts(cells)
    one_by_one = EmailChecker(smtputf8)
    assert list(zip(addresses, notes, strict=True)) == [one_by_one.verdict(c) for c in cells]
    assert EmailChecker().verdicts([]) == ([], [])


def test_idn_domain_is_sent_as_punycode() -> None:
    assert EmailChecker().normalise("Jan@Żółw.pl") == "jan@xn--w-uga1v8h.pl"


def test_smtputf8_accepts_a_non_ascii_local_part() -> None:
    with pytest.raises(ValueError, match="Internationalized characters before the @-sign"):
        EmailChecker().normalise("żółć@wp.pl")
    assert EmailChecker(smtputf8=True).normalise("Żółć@WP.pl") == "żółć@wp.pl"


@pytest.mark.parametrize(
    ("domain", "suggestion"),
    [
        ("gmail.con", "gmail.com"),
        ("gmial.com", "gmail.com"),
        ("wp.p", "wp.pl"),
        ("onet.pll", "onet.pl"),
        ("interia.ppl", "interia.pl"),
        ("o2.p", "o2.pl"),
        ("GMAIL.CON", "gmail.com"),
        ("gmail.com", None),
        ("op.pl", None),
        ("ug-choroszcz.pl", None),
        ("wpp.pll", None),  # two edits away: not a confident guess
    ],
)
def test_typo_suggestions(domain: str, suggestion: str | None) -> None:
    assert suggest(domain) == suggestion


def test_typo_warning_on_a_valid_address() -> None:
    assert EmailChecker().verdict("jan@gmail.con") == (
        "jan@gmail.con",
        "the domain gmail.con looks like a typo of gmail.com",
    )


@pytest.mark.parametrize(
    "cell",
    ["  Jan.Kowalski@WP.PL \t", "\xa0jan@wp.pl\u2000", "\x1cjan@gmail.con\x85", "jan@wp.pl\n"],
)
def test_addresses_with_white_space_around_them(cell: str) -> None:
    checker = EmailChecker()
    assert checker.verdict(cell) == checker.verdict(clean_text(cell))
    address, _ = checker.verdict(cell)
    valid = validate_email(clean_text(cell), check_deliverability=False, allow_smtputf8=False)
    assert address == valid.ascii_email.lower()


def test_white_space_inside_an_address_is_still_rejected() -> None:
    address, reason = EmailChecker().verdict(" jan @wp.pl")
    assert address is None
    with pytest.raises(EmailNotValidError):
        validate_email("jan @wp.pl", check_deliverability=False)
    assert reason


def test_one_edit_apart_is_exactly_one_edit() -> None:
    """Against every string one insertion, deletion, substitution or swap from a few words."""
    from itertools import product

    from listonosz.contacts.emails import _one_edit_apart

    alphabet = "ab.wp"
    for word in ("", "a", "ab", "a.b", "wp.pl"[:4]):
        edits = {word[:i] + c + word[i:] for i in range(len(word) + 1) for c in alphabet}
        edits |= {word[:i] + word[i + 1 :] for i in range(len(word))}
        edits |= {word[:i] + c + word[i + 1 :] for i in range(len(word)) for c in alphabet}
        edits |= {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
        edits.discard(word)
        for n in range(len(word) + 3):
            for other in map("".join, product(alphabet, repeat=n)):
                assert _one_edit_apart(word, other) == (other in edits), (word, other)
