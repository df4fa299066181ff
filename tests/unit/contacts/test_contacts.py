"""Reading and merging contact lists: the sample campaign's lists, headers, bad files, cleaning."""

from __future__ import annotations

import gc
import json
from collections import Counter
from pathlib import Path

import pytest

from listonosz.campaign import load_campaign
from listonosz.contacts.columns import map_headers
from listonosz.contacts.encoding import detect_encoding
from listonosz.contacts.errors import ContactFileError
from listonosz.contacts.merge import MergeResult, SourceList, gc_paused, merge_lists
from listonosz.contacts.normalise import fix_name_case, parse_gender
from listonosz.contacts.read import read_tables
from listonosz.contacts.text import clean_text
from listonosz.sending import merge_audience
from tests.conftest import REPO

ROOT = REPO
CAMPAIGN = ROOT / "campaigns" / "ekonomia-spoleczna-2016.yaml"
EXPECTED = json.loads((ROOT / "tests" / "data" / "contacts_expected.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def merged() -> MergeResult:
    return merge_audience(load_campaign(CAMPAIGN))


def _by_email(result: MergeResult) -> dict[str, object]:
    return {contact.email: contact for contact in result.contacts}


# --- the sample campaign's lists -----------------------------------------------------------


def test_sample_lists_merge_to_the_expected_addresses(merged: MergeResult) -> None:
    emails = [contact.email for contact in merged.contacts]
    assert emails == sorted(EXPECTED["emails"])
    assert len(emails) == len(set(emails)) == EXPECTED["unique_valid"] == 86


def test_sample_lists_row_total(merged: MergeResult) -> None:
    assert sum(merged.rows_read.values()) == EXPECTED["rows_total"] == 116


def test_sample_lists_rejects_with_file_and_row(merged: MergeResult) -> None:
    def label(file: str) -> str:
        return f"{file}[Organizacje]" if file.endswith(".xlsx") else file

    expected = [(label(r["file"]), r["row"], r["email"]) for r in EXPECTED["rejects"]]
    got = [(r.source, r.row, r.value) for r in merged.rejects]
    assert got == expected
    assert all(r.reason for r in merged.rejects)
    # the xlsx reject keeps the sheet in its label
    assert ("contacts/ngo.xlsx[Organizacje]", 13, "") in got


def test_sample_lists_per_group(merged: MergeResult) -> None:
    assert dict(merged.per_group()) == EXPECTED["per_group"]


def test_sample_lists_people_on_several_lists(merged: MergeResult) -> None:
    contacts = _by_email(merged)
    for email, groups in EXPECTED["groups"].items():
        assert list(contacts[email].groups) == groups, email
    several = {c.email for c in merged.contacts if len(c.groups) > 1}
    assert several == set(EXPECTED["groups"])
    assert all(len(c.groups) == 1 for c in merged.contacts if c.email not in several)


def test_sample_lists_duplicates_inside_one_file_merge(merged: MergeResult) -> None:
    contacts = _by_email(merged)
    kowalczyk = contacts["jan.kowalczyk@ug-choroszcz.example.pl"]
    assert kowalczyk.groups == ("jst",)
    assert kowalczyk.sources == ("contacts/jst.csv:7", "contacts/jst.csv:8")
    assert contacts["adam.michalski@onet.pl"].groups == ("ngo",)


def test_two_dabrowskas_are_not_merged(merged: MergeResult) -> None:
    dabrowskas = [c for c in merged.contacts if c.last_name == "Dąbrowska"]
    assert {c.email for c in dabrowskas} == {
        "t.dabrowska@um-suprasl.example.pl",
        "karolina.dabrowska@gmail.com",
    }


def test_sample_lists_names_are_cleaned(merged: MergeResult) -> None:
    contacts = _by_email(merged)
    assert contacts["j.gradzki@starostwo-zambrow.example.pl"].full_name == "Józef Grądzki"
    assert contacts["jadwiga.pienkowska@op.pl"].full_name == "Jadwiga Pieńkowska"
    assert contacts["t.dabrowska@um-suprasl.example.pl"].first_name == "Teresa Anna"
    assert contacts["w.bielecki@owes-suwalki.example.pl"].last_name == "Bielecki"
    # organisation-only rows of ngo.xlsx
    biuro = contacts["biuro@fundacja-ostoja.example.pl"]
    assert (biuro.first_name, biuro.last_name, biuro.gender) == ("", "", "")
    assert biuro.organisation == "Fundacja „Ostoja” na rzecz Seniorów"


def test_gender_column_is_read(merged: MergeResult) -> None:
    contacts = _by_email(merged)
    assert contacts["kuba.sawicki@ss-nadbuzanka.example.pl"].gender == "m"  # owes: Płeć M
    assert contacts["jarema.borkowski@o2.pl"].gender == "m"  # ngo.xlsx: Płeć M
    assert contacts["l.borowik@owes-bialystok.example.pl"].gender == "f"  # owes: Płeć K
    assert contacts["k.tokarska@utw-augustow.example.pl"].gender == ""  # blank Płeć
    assert contacts["g.zukowska@starostwo-bielsk.example.pl"].gender == ""  # jst has no column


# --- encodings ------------------------------------------------------------------------------


def test_cp1250_semicolon_file_keeps_polish_letters() -> None:
    path = ROOT / "contacts" / "jst.csv"
    encoding = detect_encoding(path, "jst.csv").encoding
    assert encoding == "cp1250"
    text = path.read_bytes().decode(encoding)
    (table,) = read_tables(SourceList(path, label="contacts/jst.csv"))
    by_email = {row["email"].strip().lower(): row for row in table.fields.to_dict("records")}
    zukowska = by_email["g.zukowska@starostwo-bielsk.example.pl"]
    assert (zukowska["first_name"], zukowska["last_name"]) == ("Grażyna", "Żukowska")
    assert zukowska["organisation"] == "Starostwo Powiatowe w Bielsku Podlaskim"
    cwiklinski = by_email["r.cwiklinski@um-kolno.example.pl"]
    assert cwiklinski["last_name"] == "Ćwikliński"
    assert table.headers == {
        "first_name": "Imię",
        "last_name": "Nazwisko",
        "email": "E-mail",
        "organisation": "Instytucja",
        "position": "Stanowisko",
    }
    assert "Władysław" in text


def test_utf8_bom_header_is_recognised() -> None:
    (table,) = read_tables(
        SourceList(ROOT / "contacts" / "koscioly.csv", label="contacts/koscioly.csv")
    )
    assert table.headers["first_name"] == "Imię"
    assert table.fields["first_name"].iloc[0] == "Paweł"


def test_quoted_csv_fields() -> None:
    (table,) = read_tables(SourceList(ROOT / "contacts" / "rynek-pracy.csv"))
    assert "Powiatowy Urząd Pracy w Łomży, Filia w Kolnie" in set(table.fields["organisation"])
    (table,) = read_tables(SourceList(ROOT / "contacts" / "przedsiebiorstwa-spoleczne.csv"))
    assert 'Spółdzielnia Socjalna "Smaki Podlasia"' in set(table.fields["organisation"])


# --- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            ["Imię", "Nazwisko", "E-mail", "Instytucja", "Stanowisko", "Płeć"],
            ["first_name", "last_name", "email", "organisation", "position", "gender"],
        ),
        (
            ["IMIĘ", "NAZWISKO", "ADRES E-MAIL", "ORGANIZACJA", "FUNKCJA", "PŁEĆ"],
            ["first_name", "last_name", "email", "organisation", "position", "gender"],
        ),
        (
            ["imie", "nazwisko ", " Adres  email", "firma", "stanowisko", "plec"],
            ["first_name", "last_name", "email", "organisation", "position", "gender"],
        ),
        (
            ["First Name", "last_name", "E_Mail", "Organization", "Job Title", "Gender"],
            ["first_name", "last_name", "email", "organisation", "position", "gender"],
        ),
        (
            ["firstname", "Surname", "Email Address", "Company", "Role", "Sex"],
            ["first_name", "last_name", "email", "organisation", "position", "gender"],
        ),
        (["Adres poczty elektronicznej"], ["email"]),
        (["e mail"], ["email"]),
        (["Mail"], ["email"]),
    ],
)
def test_map_headers_aliases(headers: list[str], expected: list[str]) -> None:
    assert map_headers(headers) == dict(enumerate(expected))


def test_map_headers_skips_unknown_and_keeps_first_duplicate() -> None:
    assert map_headers(["Lp.", "Telefon", "E-mail", "Email", "", "Uwagi"]) == {
        1: "phone",
        2: "email",
    }
    assert map_headers(["Uwagi", "Lp."]) == {}


# --- files that cannot be read --------------------------------------------------------------


def _error_for(path: Path, label: str | None) -> str:
    with pytest.raises(ContactFileError) as info:
        read_tables(SourceList(path, label=label))
    return str(info.value)


def test_file_without_email_column(tmp_path: Path) -> None:
    path = tmp_path / "bez-maila.csv"
    path.write_text("Imię;Nazwisko;Telefon\nJan;Kowalski;123456789\n", encoding="utf-8")
    message = _error_for(path, "contacts/bez-maila.csv")
    assert message.startswith("contacts/bez-maila.csv")
    assert "e-mail" in message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "pusty.csv"
    path.write_bytes(b"")
    assert "contacts/pusty.csv" in _error_for(path, "contacts/pusty.csv")


def test_whitespace_only_file(tmp_path: Path) -> None:
    path = tmp_path / "spacje.csv"
    path.write_bytes(b"  \r\n\r\n")
    assert "contacts/spacje.csv" in _error_for(path, "contacts/spacje.csv")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "obraz.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    assert "contacts/obraz.csv" in _error_for(path, "contacts/obraz.csv")


def test_binary_file_named_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "lista.xlsx"
    path.write_bytes(b"\x00\x01\x02 not a zip file " * 20)
    assert "contacts/lista.xlsx" in _error_for(path, "contacts/lista.xlsx")


def test_missing_file(tmp_path: Path) -> None:
    assert "contacts/brak.csv" in _error_for(tmp_path / "brak.csv", "contacts/brak.csv")


def test_label_defaults_to_the_path(tmp_path: Path) -> None:
    path = tmp_path / "pusty.csv"
    path.write_bytes(b"")
    assert str(path) in _error_for(path, None)


def test_merge_lists_reports_the_bad_file(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("email\na@example.pl\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("Imię,Nazwisko\nJan,Kowalski\n", encoding="utf-8")
    with pytest.raises(ContactFileError, match=r"listy/bad\.csv"):
        merge_lists([SourceList(good, "jst"), SourceList(bad, "ngo", label="listy/bad.csv")])


# --- merging --------------------------------------------------------------------------------


def test_duplicates_differing_in_case_and_whitespace_merge(tmp_path: Path) -> None:
    jst = tmp_path / "jst.csv"
    jst.write_text(
        "Imię;Nazwisko;E-mail;Instytucja\n"
        "Anna;Nowak;  Anna.Nowak@UG-Przyklad.example.pl ;Urząd Gminy\n",
        encoding="utf-8",
    )
    ngo = tmp_path / "ngo.csv"
    ngo.write_text(
        "first_name,last_name,email,organisation\n"
        "Anna,Nowak,ANNA.NOWAK@ug-przyklad.example.pl\t,Fundacja\n"
        "Piotr,Zieliński,p.zielinski@example.pl,Fundacja\n",
        encoding="utf-8",
    )
    result = merge_lists([SourceList(jst, "jst", "jst.csv"), SourceList(ngo, "ngo", "ngo.csv")])
    assert [c.email for c in result.contacts] == [
        "anna.nowak@ug-przyklad.example.pl",
        "p.zielinski@example.pl",
    ]
    anna = result.contacts[0]
    assert anna.groups == ("jst", "ngo")
    assert anna.sources == ("jst.csv:2", "ngo.csv:2")
    assert anna.organisation == "Urząd Gminy"  # equally rich records: the first one is kept ...
    assert [(c.email, c.field, c.kept, c.other, c.other_from) for c in result.conflicts] == [
        (
            "anna.nowak@ug-przyklad.example.pl",
            "organisation",
            "Urząd Gminy",
            "Fundacja",
            "ngo.csv:2",
        )
    ]  # ... and the other one is reported
    assert result.per_group() == Counter({"jst": 1, "ngo": 2})
    assert result.rows_read == Counter({"jst.csv": 1, "ngo.csv": 2})
    assert result.rejects == []


def test_invalid_addresses_are_rejected_with_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "lista.csv"
    path.write_text(
        "Imię,E-mail\n"
        "Jan,jan@example.pl\n"
        ",\n"  # an entirely blank row is skipped, but still counts as a row
        "Ewa,ewa(at)example.pl\n"
        "Ola,\n",
        encoding="utf-8",
    )
    result = merge_lists([SourceList(path, "ngo", "lista.csv")])
    assert [c.email for c in result.contacts] == ["jan@example.pl"]
    assert [(r.source, r.row, r.column, r.value) for r in result.rejects] == [
        ("lista.csv", 4, "E-mail", "ewa(at)example.pl"),
        ("lista.csv", 5, "E-mail", ""),
    ]
    assert result.rows_read["lista.csv"] == 3


def test_row_numbers_count_records_not_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "lista.csv"
    path.write_text(
        'Imię,E-mail,Uwagi\nJan,jan@example.pl,"dwie\nlinie"\nEwa,zly-adres,\n', encoding="utf-8"
    )
    result = merge_lists([SourceList(path, "ngo", "lista.csv")])
    assert [(r.row, r.value) for r in result.rejects] == [(3, "zly-adres")]


# --- cleaning -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("KOWALSKA-NOWAK", "Kowalska-Nowak"),
        ("jan", "Jan"),
        ("McDonald", "McDonald"),
        ("ŁUKASZ", "Łukasz"),
        ("łukasz gołębiowski", "Łukasz Gołębiowski"),
        ("JÓZEF GRĄDZKI", "Józef Grądzki"),
        ("O'BRIEN", "O'Brien"),
        ("van der Berg", "van der Berg"),
        ("Kowalska-Nowak", "Kowalska-Nowak"),
        ("", ""),
    ],
)
def test_fix_name_case(raw: str, expected: str) -> None:
    assert fix_name_case(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jan\r\nKowalski ", "Jan Kowalski"),
        ("Nowak  -  Wiśniewska", "Nowak - Wiśniewska"),
        ("Teresa\tAnna", "Teresa Anna"),
        ("a\rb\nc", "a b c"),
        ("\u00a0Urząd\u00a0 Gminy\u00a0", "Urząd Gminy"),
        ("Zaz\u0307o\u0301łc\u0301", "Zażółć"),  # NFD → NFC
        ("", ""),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    cleaned = clean_text(raw)
    assert cleaned == expected
    assert "\r" not in cleaned and "\n" not in cleaned and "  " not in cleaned


def test_clean_text_removes_other_control_characters() -> None:
    assert clean_text("Jan\x07 Kowalski\x00\x1b") == "Jan Kowalski"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("K", "f"),
        ("k", "f"),
        (" K ", "f"),
        ("Kobieta", "f"),
        ("female", "f"),
        ("F", "f"),
        ("Pani", "f"),
        ("M", "m"),
        ("Mężczyzna", "m"),
        ("MĘŻCZYZNA", "m"),
        ("mezczyzna", "m"),
        ("Male", "m"),
        ("pan", "m"),
        ("", ""),
        ("x", ""),
        ("nie podano", ""),
    ],
)
def test_parse_gender(raw: str, expected: str) -> None:
    assert parse_gender(raw) == expected


# --- the merge makes a million objects -------------------------------------------------------


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
