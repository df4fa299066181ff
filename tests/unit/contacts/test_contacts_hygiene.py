"""Contact input hygiene: invisible characters, line separators, UTF-16, header-only lists,
overlong fields, damaged files; and the CSV files we write read back as the same data."""

from __future__ import annotations

import codecs
import csv
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from listonosz.contacts.clean import MAX_FIELD_CHARS
from listonosz.contacts.csvout import neutralise, unguard, write_contacts, write_csv
from listonosz.contacts.encoding import MAX_LINE_BYTES, detect_encoding
from listonosz.contacts.errors import ContactFileError
from listonosz.contacts.merge import MergeResult, SourceList, merge_lists
from listonosz.contacts.model import Contact, Notice
from listonosz.contacts.report import report_rows
from listonosz.contacts.text import clean_text
from tests.conftest import REPO

ROOT = REPO


def read_written(path: Path) -> list[list[str]]:
    """The rows of a CSV file write_csv wrote (header first), the formula guard undone."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [list(map(unguard, row)) for row in csv.reader(handle, delimiter=";")]


def _merge(path: Path, text: str, group: str = "jst", encoding: str = "utf-8") -> MergeResult:
    path.write_text(text, encoding=encoding, newline="")
    return merge_lists([SourceList(path, group, path.name)])


def _warnings(result: MergeResult) -> list[tuple[str, int, str, str, str]]:
    return [(w.source, w.row, w.column, w.value, w.message) for w in result.warnings]


# --- the formula guard reads back ----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["=1+1", "-x@example.pl", "+48 85 123", "@SUM(A1)", "\t=1", "'=1", "''-x", "'x", "O'Brien", ""],
)
def test_unguard_undoes_neutralise(value: str) -> None:
    assert unguard(neutralise(value)) == value


def test_merged_csv_reads_back_as_the_same_contacts(tmp_path: Path) -> None:
    people = [
        Contact("-x@example.pl", "Ala", "Nowak", "=SUM(A1:A9)", "-kierownik", "f", ("jst",),
                phone="+48 85 123 45 67", legal_basis="public_task"),
        Contact("+y@example.pl", "Jan", "O'Brien", "@Fundacja", "", "m", ("jst", "ngo"),
                legal_basis="consent"),
        Contact("=z@example.pl", "Ewa", "Zięba", "'=to jest tekst", "+prezes", "", ("ngo",),
                phone="'-5", salutation="Szanowna Pani", county="białostocki",
                municipality="Choroszcz"),
        Contact("@x@example.pl", "Olga", "Nowak", groups=("media",)),  # not an address
    ]  # fmt: skip
    path = tmp_path / "merged.csv"
    write_contacts(people, path)
    assert "'-x@example.pl" in path.read_text("utf-8-sig")  # guarded for spreadsheets
    back = merge_lists([SourceList(path, label="merged.csv")])
    assert back.contacts == sorted(people[:3], key=lambda c: c.email)
    assert [(c.phone, c.salutation, c.municipality) for c in back.contacts] == [
        ("", "", ""),
        ("+48 85 123 45 67", "", ""),
        ("'-5", "Szanowna Pani", "Choroszcz"),
    ]
    assert not back.warnings
    assert [(r.row, r.value) for r in back.rejects] == [(5, "@x@example.pl")]  # unguarded


def test_a_list_merged_twice_sends_to_the_same_addresses(tmp_path: Path) -> None:
    source = tmp_path / "lista.csv"
    source.write_text(
        "E-mail;Imię;Telefon\n-x@example.pl;=SUM(A1);+48 85 1\n+y@wp.pl;Ala;-\n", "utf-8"
    )
    first = merge_lists([SourceList(source, "jst", "lista.csv")])
    write_contacts(first.contacts, tmp_path / "merged.csv")
    again = merge_lists([SourceList(tmp_path / "merged.csv", label="merged.csv")])
    assert [c.email for c in again.contacts] == ["+y@wp.pl", "-x@example.pl"]
    assert again.contacts == first.contacts
    assert [c.phone for c in again.contacts] == ["-", "+48 85 1"]


def test_rejects_csv_reads_back_as_written(tmp_path: Path) -> None:
    rows = [
        ["lista.csv", "2", "E-mail", "=cmd|' /C calc'!A0", "An email address must have an @-sign."],
        ["lista.csv", "3", "E-mail", "'-x@", "no domain"],
        ["lista.csv", "4", "Imię", "O'Brien", "-"],
    ]
    header = ["source", "row", "column", "value", "reason"]
    write_csv(tmp_path / "rejects.csv", header, rows)
    assert read_written(tmp_path / "rejects.csv") == [header, *rows]


# --- what reaches names, subjects and bodies ------------------------------------------------


def test_invisible_characters_are_removed_with_a_warning(tmp_path: Path) -> None:
    result = _merge(
        tmp_path / "lista.csv",
        "E-mail;Imię;Nazwisko;Instytucja;Stanowisko\n"
        "a@wp.pl;\u202eAnna;Kowal\u200bska;Urząd\ufeff Gminy;Wójt\n"
        "b@wp.pl;Jan;Nowak;Fundacja \u2066Ala\u2069;\u200dprezes\n"
        "c@wp.pl;Ewa;Zięba;OPS;kierownik\n",
    )
    assert [(c.full_name, c.organisation, c.position) for c in result.contacts] == [
        ("Anna Kowalska", "Urząd Gminy", "Wójt"),
        ("Jan Nowak", "Fundacja Ala", "prezes"),
        ("Ewa Zięba", "OPS", "kierownik"),
    ]
    removed = "removed invisible formatting characters: "
    assert _warnings(result) == [
        ("lista.csv", 2, "Imię", "Anna", removed + "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("lista.csv", 2, "Nazwisko", "Kowalska", removed + "U+200B ZERO WIDTH SPACE"),
        ("lista.csv", 2, "Instytucja", "Urząd Gminy", removed + "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        (
            "lista.csv",
            3,
            "Instytucja",
            "Fundacja Ala",
            removed + "U+2066 LEFT-TO-RIGHT ISOLATE, U+2069 POP DIRECTIONAL ISOLATE",
        ),
        ("lista.csv", 3, "Stanowisko", "prezes", removed + "U+200D ZERO WIDTH JOINER"),
    ]


def test_invisible_characters_in_a_full_name_column(tmp_path: Path) -> None:
    result = _merge(tmp_path / "l.csv", "E-mail;Imię i nazwisko\na@wp.pl;Jan \u202eKowalski\n")
    assert result.contacts[0].full_name == "Jan Kowalski"
    assert _warnings(result) == [
        (
            "l.csv",
            2,
            "Imię i nazwisko",
            "Jan Kowalski",
            "removed invisible formatting characters: U+202E RIGHT-TO-LEFT OVERRIDE",
        )
    ]


def test_every_row_with_the_same_dirty_value_is_warned_about(tmp_path: Path) -> None:
    dirty = "Urząd\u200b Gminy"
    rows = "".join(f"p{n}@wp.pl;{dirty}\n" for n in range(3))
    result = _merge(tmp_path / "l.csv", "E-mail;Instytucja\n" + rows)  # cleaned once, cached
    assert [(w.row, w.value) for w in result.warnings] == [(n, "Urząd Gminy") for n in (2, 3, 4)]


def test_line_separators_become_spaces(tmp_path: Path) -> None:
    assert clean_text("Kowalski\x85Cc") == "Kowalski Cc"
    result = _merge(
        tmp_path / "l.csv",
        "E-mail;Nazwisko;Instytucja\na@wp.pl;Kowalski\x85Cc;Urząd\u2028Gminy\u2029Choroszcz\n",
    )
    assert (result.contacts[0].last_name, result.contacts[0].organisation) == (
        "Kowalski Cc",
        "Urząd Gminy Choroszcz",
    )


def test_overlong_fields_are_rejected_with_file_row_and_column(tmp_path: Path) -> None:
    assert MAX_FIELD_CHARS == 200
    longest, too_long = "Ż" * 200, "Fundacja " + "x" * 192
    result = _merge(
        tmp_path / "l.csv",
        "E-mail;Imię;Nazwisko;Instytucja;Stanowisko\n"
        f"a@wp.pl;Ala;{longest};OPS;\n"
        f"b@wp.pl;Jan;Nowak;{too_long};\n"
        f"c@wp.pl;Ewa;Zięba;OPS;{'p' * 5000}\n"
        f"d@wp.pl;Ola;{'N' * 300};OPS;\n"
        f"e@wp.pl;Iza;{'  '.join('N' * 150)};OPS;\n",  # 449 characters, 299 once cleaned
    )
    assert [c.email for c in result.contacts] == ["a@wp.pl"]
    assert result.sources[0].rows == 5 and result.sources[0].rejected == 4
    got = [(r.source, r.row, r.column, r.reason) for r in result.rejects]
    assert got == [
        ("l.csv", 3, "Instytucja", "organisation is 201 characters long; at most 200 are "
         "accepted (a damaged cell?)"),
        ("l.csv", 4, "Stanowisko", "position is 5000 characters long; at most 200 are "
         "accepted (a damaged cell?)"),
        ("l.csv", 5, "Nazwisko", "last_name is 300 characters long; at most 200 are "
         "accepted (a damaged cell?)"),
        ("l.csv", 6, "Nazwisko", "last_name is 299 characters long; at most 200 are "
         "accepted (a damaged cell?)"),
    ]  # fmt: skip
    assert result.rejects[1].value == "p" * 60 + "… (5000 characters)"


@pytest.mark.parametrize(("header", "blank"), [("E-mail;Osoba", ""), ("E-mail;Imię;Osoba", ";")])
def test_overlong_full_name_is_rejected(tmp_path: Path, header: str, blank: str) -> None:
    rows = f"a@wp.pl;{blank}Jan {'K' * 210}\nb@wp.pl;{blank}Jan K\nc@wp.pl;{blank}{'x ' * 150}\n"
    result = _merge(tmp_path / "l.csv", f"{header}\n{rows}")
    assert [c.email for c in result.contacts] == ["b@wp.pl"]
    assert [(r.row, r.column) for r in result.rejects] == [(2, "Osoba"), (4, "Osoba")]


# --- files ----------------------------------------------------------------------------------

EXCEL_UNICODE_TEXT = (
    "Imię\tNazwisko\tE-mail\tInstytucja\r\n"
    "Łucja\tŻak\tlucja@wp.pl\tUrząd Gminy Choroszcz\r\n"
    "Zenon\tŹdźbło\tzenon@ug.example.pl\tGOPS\r\n"
)


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_excel_unicode_text_is_read(tmp_path: Path, bom: bytes, codec: str) -> None:
    path = tmp_path / "lista.txt"
    path.write_bytes(bom + EXCEL_UNICODE_TEXT.encode(codec))
    assert detect_encoding(path, "lista.txt").encoding == "utf-16"
    result = merge_lists([SourceList(path, "jst", "lista.txt")])
    assert [(c.email, c.full_name, c.organisation) for c in result.contacts] == [
        ("lucja@wp.pl", "Łucja Żak", "Urząd Gminy Choroszcz"),
        ("zenon@ug.example.pl", "Zenon Źdźbło", "GOPS"),
    ]
    assert result.sources[0].details == "CSV, utf-16 (UTF-16 with BOM), delimiter tab"
    configured = merge_lists([SourceList(path, "jst", "lista.txt", encoding="UTF-16")])
    assert configured.contacts == result.contacts


def test_a_bom_read_as_text_does_not_hide_the_header(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text("E-mail;Imię\na@wp.pl;Ala\n", encoding="utf-8-sig")  # configured: utf-8
    result = merge_lists([SourceList(path, "jst", "l.csv", encoding="utf-8")])
    assert [(c.email, c.first_name) for c in result.contacts] == [("a@wp.pl", "Ala")]


@pytest.mark.parametrize("body", ["", ";\n ; \n"])
def test_a_list_with_a_header_and_no_rows_is_a_warning(tmp_path: Path, body: str) -> None:
    good, empty = tmp_path / "dobra.csv", tmp_path / "pusta.csv"
    good.write_text("E-mail\na@ug.example.pl\n", encoding="utf-8")
    empty.write_text("E-mail;Imię\n" + body, encoding="utf-8")
    result = merge_lists(
        [SourceList(good, "jst", "dobra.csv"), SourceList(empty, "ngo", "pusta.csv")]
    )
    assert [c.email for c in result.contacts] == ["a@ug.example.pl"]
    message = "a header and no rows: nobody is added from this list"
    assert result.warnings == [Notice("pusta.csv", 0, "", "", message)]
    assert ("warning", "pusta.csv", message) in [
        (row["kind"], row["source"], row["detail"]) for row in report_rows(result)
    ]


_MEASURE = textwrap.dedent(
    """
    import resource, sys, time
    from pathlib import Path
    from listonosz.contacts.errors import ContactFileError
    from listonosz.contacts.merge import SourceList, merge_lists

    source = SourceList(Path(sys.argv[1]), "jst", "uszkodzona.csv", encoding=sys.argv[2] or None)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        merge_lists([source])
    except ContactFileError as exc:
        print(exc)
    else:
        print("no error")
    print(time.perf_counter() - start)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)  # MiB
    """
)


@pytest.mark.parametrize(
    ("tail", "encoding"),
    [
        (b"\x00", ""),  # valid rows, then NUL bytes (a disk image, a failed copy)
        (b"x", ""),  # one giant cell
        (b"x", "cp1250"),  # the encoding configured: the same check
    ],
)
def test_a_damaged_file_stops_early_in_bounded_memory(
    tmp_path: Path, tail: bytes, encoding: str
) -> None:
    path = tmp_path / "uszkodzona.csv"
    tail_bytes = 64 << 20  # 64 MiB, 64 times the longest line we accept
    with path.open("wb") as handle:
        handle.write(b"E-mail;Imie\r\n")
        handle.write(b"".join(b"osoba%d@wp.pl;Ala\r\n" % n for n in range(1000)))
        handle.write(b'"' + tail * tail_bytes)
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), encoding],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    message, seconds, grown_mib = run.stdout.splitlines()
    assert message == (
        "uszkodzona.csv: line 1002 is longer than 1 MiB without a line break: the file is "
        "damaged or not a contact list (a tail of NUL bytes, one giant cell …); nothing is "
        "read from it"
    )
    assert MAX_LINE_BYTES == 1 << 20
    assert float(seconds) < 3
    assert float(grown_mib) < 16  # the whole line read in would be 64 MiB and more


def test_the_longest_line_accepted(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    cell = "x" * (MAX_LINE_BYTES - len("a@wp.pl;"))  # the line break is not counted
    path.write_text(f"E-mail;Uwagi\na@wp.pl;{cell}\n", encoding="utf-8")
    detect_encoding(path, "l.csv")  # no error
    path.write_text(f"E-mail;Uwagi\na@wp.pl;{cell}x\n", encoding="utf-8")
    with pytest.raises(ContactFileError, match=r"l\.csv: line 2 is longer than 1 MiB"):
        detect_encoding(path, "l.csv")


# --- many rows, one distinct dirty value ----------------------------------------------------


def test_every_row_of_a_large_list_is_cleaned_and_warned_about(tmp_path: Path) -> None:
    dirty = tmp_path / "brudna.csv"
    dirty.write_text(
        "E-mail;Imię;Nazwisko;Instytucja\n"
        + "".join(f"p{n}@wp.pl;An\u200bna;Nowak;Urząd\u202e Gminy\n" for n in range(5000))
        + f"'-x@wp.pl;Ala;{'N' * 201};OPS\n"
        + "'-y@wp.pl;Ola;Kowalska\x85Cc;=SUM(A1)\n",
        encoding="utf-8",
    )
    empty = tmp_path / "pusta.csv"
    empty.write_text("E-mail\n", encoding="utf-8")
    lists = [SourceList(dirty, "jst", "brudna.csv"), SourceList(empty, "ngo", "pusta.csv")]
    result = merge_lists(lists)
    assert len(result.contacts) == 5001 and len(result.rejects) == 1
    people = {c.email: c for c in result.contacts}
    assert {(people[f"p{n}@wp.pl"].first_name, people[f"p{n}@wp.pl"].organisation)
            for n in range(5000)} == {("Anna", "Urząd Gminy")}  # fmt: skip
    assert people["-y@wp.pl"].organisation == "=SUM(A1)"  # neutralised on output only
    assert [(r.row, r.value) for r in result.rejects] == [
        (5002, "N" + "n" * 59 + "… (201 characters)")
    ]
    assert len(result.warnings) == 2 * 5000 + 1
    assert [(w.row, w.column) for w in result.warnings[:2]] == [(2, "Imię"), (2, "Instytucja")]
    assert result.warnings[-1].message == "a header and no rows: nobody is added from this list"
