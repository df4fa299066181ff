"""Reading contact files: encodings, delimiters, workbooks, overrides, and files we refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from listonosz.contacts.encoding import detect_encoding
from listonosz.contacts.errors import ContactFileError
from listonosz.contacts.merge import SourceList, merge_lists
from listonosz.contacts.read import read_tables
from tests.factories import write_xlsx

from .test_contacts_corpus import write_ods


def read_rows(path: Path, label: str = "", **options: str) -> list[tuple[str, int, dict[str, str]]]:
    """Every data row of a file that is not blank: (table, row number, recognised fields)."""
    return [
        (table.label, int(number), {str(k): str(v) for k, v in fields.items()})
        for table in read_tables(SourceList(path, label=label, **options))
        for number, fields in table.fields.iterrows()
        if any(value.strip() for value in fields)
    ]


POLISH = (
    "Imię;Nazwisko;E-mail\nŚwiętosław;Źdźbło;s@ug.example.pl\nAgnieszka;Ślązak;a@ug.example.pl\n"
)


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp1250", "cp1250"),
        ("iso-8859-2", "iso-8859-2"),
    ],
)
def test_encoding_is_detected(tmp_path: Path, encoding: str, expected: str) -> None:
    path = tmp_path / "lista.csv"
    path.write_bytes(POLISH.encode(encoding))
    assert detect_encoding(path, "lista.csv").encoding == expected
    assert [fields["last_name"] for *_, fields in read_rows(path)] == ["Źdźbło", "Ślązak"]


def test_encoding_can_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "lista.csv"
    # ł ó ż ę are the same bytes in both encodings: detection cannot tell, and says cp1250
    path.write_bytes("E-mail;Nazwisko\nx@ug.example.pl;Łężół\n".encode("iso-8859-2"))
    assert detect_encoding(path, "x").encoding == "cp1250"
    (row,) = read_rows(path, encoding="latin2")
    assert row[2]["last_name"] == "Łężół"


def test_unknown_encoding_override_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "lista.csv"
    path.write_text("E-mail\na@b.pl\n", encoding="utf-8")
    with pytest.raises(ContactFileError, match=r"lista\.csv: unsupported encoding 'koi8-r'"):
        read_rows(path, "lista.csv", encoding="koi8-r")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "lista.csv"
    rows = [["Imię", "E-mail", "Instytucja"], ["Jan", "j@ug.example.pl", "Urząd, Gmina; Wydział"]]
    quoted = [[f'"{c}"' if any(d in c for d in ",;\t|") else c for c in r] for r in rows]
    path.write_text("\n".join(delimiter.join(r) for r in quoted) + "\n", encoding="utf-8")
    ((_, _, fields),) = read_rows(path)
    assert fields == {
        "first_name": "Jan",
        "email": "j@ug.example.pl",
        "organisation": "Urząd, Gmina; Wydział",
    }


def test_delimiter_override(tmp_path: Path) -> None:
    path = tmp_path / "lista.csv"
    path.write_text("E-mail|Imię\na@ug.example.pl|Jan\n", encoding="utf-8")
    with pytest.raises(ContactFileError, match="no e-mail column"):
        read_rows(path, delimiter=";")


def test_xlsx_every_sheet_or_a_named_one(tmp_path: Path) -> None:
    path = tmp_path / "lista.xlsx"
    write_xlsx(
        path,
        {
            "JST": [["E-mail", "Imię"], ["a@ug.example.pl", "Ala"]],
            "NGO": [["Adres e-mail"], ["b@ngo.example.pl"]],
        },
    )
    assert [(table, number) for table, number, _ in read_rows(path, "l.xlsx")] == [
        ("l.xlsx[JST]", 2),
        ("l.xlsx[NGO]", 2),
    ]
    only = read_rows(path, "l.xlsx", sheet="NGO")
    assert [fields["email"] for *_, fields in only] == ["b@ngo.example.pl"]
    with pytest.raises(
        ContactFileError, match=r"l\.xlsx: no sheet named 'ZZZ'; the sheets are JST, NGO"
    ):
        read_rows(path, "l.xlsx", sheet="ZZZ")


def test_workbook_without_any_email_column(tmp_path: Path) -> None:
    path = tmp_path / "lista.xlsx"
    write_xlsx(path, {"A": [["Imię"], ["Jan"]], "B": [["Uwagi"]]})
    with pytest.raises(ContactFileError, match=r"lista\.xlsx\[A\]: no e-mail column"):
        read_rows(path, "lista.xlsx")


@pytest.mark.parametrize("kind", ["xlsx", "ods"])
def test_empty_workbook_is_an_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"pusty.{kind}"
    if kind == "xlsx":
        write_xlsx(path, {"Arkusz1": []})
    else:
        write_ods(path, {"Arkusz1": [["", ""]]})
    with pytest.raises(ContactFileError, match=rf"pusty\.{kind}: the workbook is empty"):
        merge_lists([SourceList(path, "jst", f"pusty.{kind}")])


def test_ods_named_sheet_and_repeated_cells(tmp_path: Path) -> None:
    path = tmp_path / "lista.ods"
    write_ods(
        path, {"Inne": [["Uwagi"]], "Lista": [["E-mail", "Imię"], ["z@ug.example.pl", "Zoe"]]}
    )
    rows = read_rows(path, "lista.ods", sheet="Lista")
    assert [(table, number, fields["first_name"]) for table, number, fields in rows] == [
        ("lista.ods[Lista]", 2, "Zoe")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\r\n \r\n", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)), "binary file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel 97-2003"),
        (b"PK\x03\x04not really a zip", "damaged ZIP archive"),
        (b"Imi\xc4\x99;Nazwisko\nJan;Nowak\n", "no e-mail column"),
    ],
)
def test_unusable_files_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "lista.csv"
    path.write_bytes(content)
    with pytest.raises(ContactFileError) as info:
        merge_lists([SourceList(path, "jst", "listy/lista.csv")])
    assert str(info.value).startswith("listy/lista.csv")
    assert message in str(info.value)


def test_an_unclosed_quote_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "lista.csv"
    path.write_text('Lista\nE-mail,Uwagi\na@ug.example.pl,"bez końca\nb@ug.example.pl,x\n', "utf-8")
    with pytest.raises(ContactFileError) as info:
        merge_lists([SourceList(path, "jst", "lista.csv")])
    assert str(info.value) == "lista.csv: cannot read the CSV (row 3: a quoted cell never ends)"


def test_a_long_cell_is_read_and_rejects_its_row_only_where_it_is_a_field(tmp_path: Path) -> None:
    path = tmp_path / "lista.csv"
    long = "x" * 200_000  # a line may be up to 1 MiB long
    path.write_text(f'E-mail,Uwagi,Instytucja\na@ug.example.pl,"{long}",UG\nb@wp.pl,,"{long}"\n')
    result = merge_lists([SourceList(path, "jst", "lista.csv")])
    assert [c.email for c in result.contacts] == ["a@ug.example.pl"]
    assert [(r.row, r.column, r.value[:5]) for r in result.rejects] == [(3, "Instytucja", "xxxxx")]


def test_a_bad_file_stops_the_whole_merge(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("E-mail\na@ug.example.pl\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    with pytest.raises(ContactFileError, match=r"^bad\.csv: the file is empty"):
        merge_lists([SourceList(good, "jst", "good.csv"), SourceList(bad, "ngo", "bad.csv")])


def test_column_mapping_names_a_missing_header(tmp_path: Path) -> None:
    path = tmp_path / "lista.csv"
    path.write_text("Mail kontaktowy,Imię\na@ug.example.pl,Jan\n", encoding="utf-8")
    source = SourceList(path, "jst", "lista.csv", columns={"email": "Adres"})
    with pytest.raises(ContactFileError, match="the column mapping names 'Adres' for email"):
        merge_lists([source])
    mapped = SourceList(path, "jst", "lista.csv", columns={"email": "mail  KONTAKTOWY"})
    assert [c.email for c in merge_lists([mapped]).contacts] == ["a@ug.example.pl"]


def test_large_file_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "duza.csv"
    with path.open("w", encoding="cp1250", newline="") as handle:
        handle.write("Imię;Nazwisko;E-mail\r\n")
        for n in range(60_000):
            handle.write(f"Łucja;Żak;lucja.zak{n}@wp.pl\r\n")
    result = merge_lists([SourceList(path, "jst", "duza.csv")])
    assert len(result.contacts) == 60_000
    assert result.contacts[0].full_name == "Łucja Żak"
    assert result.sources[0].details.startswith("CSV, cp1250")
