"""The fast merge: records laid out as Contacts, the parallel merge, and what it relies on."""

from __future__ import annotations

import dataclasses
import gc
from collections import Counter
from pathlib import Path

import pytest
from email_validator import EmailNotValidError, validate_email

from listonosz.contacts.construct import make_contact
from listonosz.contacts.emails import EmailChecker
from listonosz.contacts.errors import ContactFileError
from listonosz.contacts.merge import MergeResult, SourceList, gc_paused, merge_lists
from listonosz.contacts.model import PERSON_FIELDS, Contact
from listonosz.contacts.parallel import _Dealt
from listonosz.contacts.records import CONTACT_FIELDS, FLAGS, GROUPS, SOURCES
from listonosz.contacts.sheet import CHUNK_ROWS, Sheet, chunked
from listonosz.contacts.text import clean_text
from tests.factories import generate


def test_records_are_laid_out_as_contacts() -> None:
    made = ("email", *PERSON_FIELDS[:5], "groups", "sources", *PERSON_FIELDS[5:])
    made += ("legal_basis", "origins")  # the order SheetReader._records zips its columns in
    assert made == CONTACT_FIELDS
    # Written as literals for the type checker: they must still point at the right items.
    assert (CONTACT_FIELDS.index("groups"), CONTACT_FIELDS.index("sources")) == (GROUPS, SOURCES)
    assert len(CONTACT_FIELDS) == FLAGS  # the flags follow Contact's fields


def test_make_contact_makes_the_same_contact() -> None:
    values = (
        "a@ug.example.pl",
        "Jan",
        "Kowalski",
        "Urząd Gminy",
        "Wójt",
        "m",
        ("jst", "ngo"),
        ("a.csv:2", "b.csv:7"),
        "+48 85 1",
        "białostocki",
        "Choroszcz",
        "Szanowny Panie Wójcie",
        "consent",
        (0, 1, 0, -1, 0, -1, -1, -1, 1),
    )
    made, expected = make_contact(*values, 5), Contact(*values)  # a record's flags are ignored
    assert dataclasses.astuple(made) == dataclasses.astuple(expected)
    assert made == expected and hash(made) == hash(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.email = "b@ug.example.pl"  # type: ignore[misc]


def _outcome(result: MergeResult) -> dict[str, object]:
    return {
        "contacts": [(dataclasses.astuple(c), c.sources, c.origins) for c in result.contacts],
        "rejects": result.rejects,
        "warnings": result.warnings,
        "conflicts": result.conflicts,
        "rows_read": result.rows_read,
        "sources": result.sources,
    }


def test_parallel_merge_of_generated_lists_is_the_sequential_one(tmp_path: Path) -> None:
    data = generate(tmp_path, 20_000, seed=5)
    sequential = merge_lists(data.sources())
    assert len(sequential.conflicts) > 5 and len(sequential.rejects) > 300
    assert _outcome(merge_lists(data.sources(), workers=2)) == _outcome(sequential)
    assert [c.email for c in sequential.contacts] == sorted(c.email for c in sequential.contacts)


def test_parallel_merge_names_the_file_it_cannot_read(tmp_path: Path) -> None:
    good = tmp_path / "dobra.csv"
    good.write_text("E-mail\na@ug.example.pl\n", encoding="utf-8")
    lists = [SourceList(good, "jst", "dobra.csv"), SourceList(tmp_path / "brak.csv", "jst")]
    with pytest.raises(ContactFileError, match=r"brak\.csv: no such file"):
        merge_lists(lists, workers=2)


def test_shards_keep_the_order_of_addresses() -> None:
    dealt = _Dealt()
    counts = {"an": 50, "ba": 10, "ma": 30, "ab": 5, "zo": 5}
    dealt.add({prefix: [(prefix, 0, 1)] for prefix in counts}, Counter(counts))
    shards = dealt.shards(3)
    assert [prefix for shard in shards for prefix in shard] == sorted(counts)
    assert len(shards) <= 3
    jobs = dealt.jobs(shards)
    assert sorted(index for index, _ in jobs) == list(range(len(shards)))
    assert jobs[0][1] == [[("ab", 0, 1)], [("an", 0, 1)]]  # the largest shard first


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


def test_gc_paused_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        made = [[] for _ in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert made


def test_gc_paused_leaves_frozen_objects_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_paused():
            pass
        # Not `==`: another thread may free a few frozen objects meanwhile; an unfreeze would
        # have released them all (the count drops to 0).
        assert gc.get_freeze_count() > frozen // 2 > 0
    finally:
        gc.unfreeze()


def test_chunks_are_consecutive_rows() -> None:
    numbered = [(n, [str(n)]) for n in (*range(2, 2 + CHUNK_ROWS + 3), 9000, 9001)]
    chunks = list(chunked(numbered))
    assert [(first, len(rows)) for first, rows in chunks] == [
        (2, CHUNK_ROWS),
        (CHUNK_ROWS + 2, 3),
        (9000, 2),
    ]
    sheet = Sheet("x", ["E-mail"], {0: "email"}, iter(chunks))
    assert list(sheet.rows) == numbered
