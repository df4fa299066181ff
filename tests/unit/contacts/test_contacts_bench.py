"""The generated contact lists, small: they look as described, and the merge's verdict on every
address is email-validator's (the contacts benchmark checks the same at a million rows)."""

from __future__ import annotations

from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from listonosz.contacts.merge import merge_lists
from tests.factories import EMAIL_COLUMNS, generate


def _rejected_by_email_validator(addresses: list[tuple[str, int, str]]) -> set[tuple[str, int]]:
    """(list, row) of every address email-validator refuses, under the merge's policy."""
    rejected = set()
    for label, row, address in addresses:
        try:
            validate_email(address, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError:
            rejected.add((label, row))
    return rejected


def test_generated_lists_look_like_the_benchmark_says(tmp_path: Path) -> None:
    data = generate(tmp_path, 20_000, seed=7)
    assert len(data.addresses) == 20_000
    assert len(data.files) == 10
    assert 0.27 <= data.on_several_lists / data.people <= 0.33
    assert {f.encoding for f in data.files} == {"utf-8", "utf-8-sig", "cp1250", "iso-8859-2"}
    assert {f.delimiter for f in data.files} == {",", ";", "\t", "|"}


def test_verdicts_agree_with_email_validator_on_every_row(tmp_path: Path) -> None:
    data = generate(tmp_path, 20_000, seed=11)
    merged = merge_lists(data.sources())
    invalid = _rejected_by_email_validator(data.addresses)
    assert 400 <= len(invalid) <= 1000  # a few % invalid, as generated
    assert {(r.source, r.row) for r in merged.rejects if r.column in EMAIL_COLUMNS} == invalid
    assert sum(merged.rows_read.values()) == 20_000


def test_normalised_addresses_are_email_validators(tmp_path: Path) -> None:
    data = generate(tmp_path, 5_000, seed=3)
    expected = set()
    for _, _, address in data.addresses:
        try:
            valid = validate_email(address, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError:
            continue
        expected.add((valid.ascii_email or valid.normalized).lower())
    assert {c.email for c in merge_lists(data.sources()).contacts} == expected
