"""A corpus of 22 messy contact files, generated here, merged with exact expected outcomes."""

from __future__ import annotations

from pathlib import Path

import idna
import pytest
from odf import teletype
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P

from listonosz.contacts.merge import MergeResult, SourceList, merge_lists
from tests.factories import write_xlsx


def write_ods(path: Path, sheets: dict[str, list[list[str]]]) -> None:
    """An OpenDocument spreadsheet written by odfpy (a cell's line breaks become paragraphs)."""
    document = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        table = Table(name=name)
        for values in rows:
            row = TableRow()
            for value in values:
                cell = TableCell(valuetype="string") if value else TableCell()
                for line in value.split("\n") if value else []:
                    paragraph = P()
                    teletype.addTextToElement(paragraph, line)
                    cell.addElement(paragraph)
                row.addElement(cell)
            table.addElement(row)
        document.spreadsheet.addElement(table)
    document.save(str(path))


def _text(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.write_bytes(text.encode(encoding))


def build_corpus(folder: Path) -> list[SourceList]:
    """Write the corpus; returns its lists in merge order (labels are file names)."""
    files: list[tuple[str, str]] = []

    def text(name: str, group: str, content: str, encoding: str = "utf-8") -> None:
        _text(folder / name, content, encoding)
        files.append((name, group))

    # 1-4: the four encodings, each with the letters that tell cp1250 from ISO-8859-2
    text("01-utf8.csv", "jst", "Imię,Nazwisko,E-mail\nŚcibor,Źdźbło,scibor@ug-a.example.pl\n")
    text(
        "02-bom.csv",
        "jst",
        "Imię;Nazwisko;E-mail\nJadwiga;Ąbel;j.abel@ug-b.example.pl\n",
        "utf-8-sig",
    )
    text(
        "03-cp1250.csv",
        "ngo",
        "Imię;Nazwisko;E-mail\r\nŚwiętosława;Źrebięć;s.zrebiec@fundacja.example.pl\r\n",
        "cp1250",
    )
    text(
        "04-latin2.csv",
        "ngo",
        "Imię|Nazwisko|E-mail\nŚwiętosław|Śliwa|s.sliwa@stowarzyszenie.example.pl\n",
        "iso-8859-2",
    )
    # 5: tab-separated, English headers, ALL CAPS names, stray spaces, a duplicate of file 1
    text(
        "05-english.tsv",
        "owes",
        "First name\tLast name\tEmail address\tCompany\tJob title\n"
        "ŚCIBOR\tŹDŹBŁO\t  SCIBOR@UG-A.EXAMPLE.PL \tUrząd  Gminy A\tWójt\n"
        "anna\tnowak-kowalska\tanna.nowak@owes.example.pl\tOWES\tdoradczyni\n",
    )
    # 6: a quoted field with a line break, and quotes inside quotes
    text(
        "06-quoted.csv",
        "ngo",
        'Imię,E-mail,Organizacja\nMarek,marek@ngo.example.pl,"Fundacja ""Most""\nOddział Łomża"\n'
        "Ewa,ewa(at)ngo.example.pl,Fundacja\n",
    )
    # 7: a title row above the header, and a blank row in the middle
    text(
        "07-title-row.csv",
        "media",
        "Lista mediów 2016;;\n;;\nImię;E-mail;Instytucja\nKarol;karol@radio.example.pl;Radio\n"
        ";;\nLena;lena@@radio.example.pl;Radio\n",
    )
    # 8: typo domains: kept with a warning, and one with no dot: rejected with a suggestion
    text(
        "08-typos.csv",
        "biznes",
        "E-mail\njan.kowalski@gmail.con\nola@wp.p\nbeata@onet.pll\nzenon@interiapl\n",
    )
    # 9: a group column (overrides the list's group) and an unknown group
    text(
        "09-group-column.csv",
        "",
        'E-mail;Grupa\nwojt@ug-c.example.pl;JST\nks@parafia.example.pl;"Kościoły; NGO"\n'
        "x@firma.example.pl;Kosmici\n",
    )
    # 10: Powiat, Gmina, Telefon, Płeć, and a formula someone typed into a cell
    text(
        "10-extra-columns.csv",
        "jst",
        "Imię,Nazwisko,E-mail,Powiat,Gmina,Telefon,Płeć\n"
        "Kuba,Sawicki,kuba@ug-d.example.pl,białostocki,Choroszcz,+48 85 123 45 67,M\n"
        'Ida,Lis,ida@ug-d.example.pl,,,"=HYPERLINK(""http://x"")",K\n',
    )
    # 11: consent column; 12: legal-basis column
    text(
        "11-consent.csv",
        "ngo",
        "E-mail,Zgoda\nzgoda@ngo.example.pl,tak\nbrak@ngo.example.pl,nie\nmoze@ngo.example.pl,?\n",
    )
    text(
        "12-basis.csv",
        "ngo",
        "E-mail,Podstawa prawna\nbrak@ngo.example.pl,zgoda\npubliczny@ngo.example.pl,"
        "zadanie publiczne\n",
    )
    # 13: the richer record of a person already seen (file 5) wins; a conflict is noted
    text(
        "13-richer.csv",
        "nauka",
        "Imię,Nazwisko,E-mail,Instytucja,Stanowisko,Płeć\n"
        "Anna,Nowak-Kowalska,ANNA.NOWAK@owes.example.pl,Uniwersytet,profesor,K\n",
    )
    # 14: IDN domain, a non-ASCII local part, a quoted local part, a display name
    text(
        "14-unicode.csv",
        "media",
        'E-mail\nredakcja@gazeta-łomża.pl\nżółć@wp.pl\n"""jan kowalski""@wp.pl"\nJan <jan@wp.pl>\n',
    )
    # 15: short rows and a row with more cells than the header
    text(
        "15-ragged.csv",
        "owes",
        "Imię,Nazwisko,E-mail\nPiotr\nPaweł,Gaweł,pawel@owes.example.pl,extra,cells\n",
    )
    # 16: a header-only file (no rows), 17: a full-name column
    text("16-header-only.csv", "jst", "Imię;Nazwisko;E-mail\r\n")
    text(
        "17-full-name.csv",
        "rynek_pracy",
        "Imię i nazwisko,E-mail\nMaria Anna Zielińska,m.zielinska@pup.example.pl\n",
    )
    # 18: an explicit column mapping for headers no alias knows
    _text(
        folder / "18-mapped.csv",
        "Kontakt,Osoba do kontaktu\nbiuro@lgd.example.pl,Tomasz Wilk\n",
    )
    # 19-20: workbooks: two sheets, one without an e-mail column (skipped with a notice)
    write_xlsx(
        folder / "19-workbook.xlsx",
        {
            "Notatki": [["Uwagi"], ["do uzupełnienia"]],
            "Kontakty": [
                ["Imię", "Nazwisko", "Adres e-mail", "Telefon"],
                ["Zofia", "Król", "zofia@ug-e.example.pl", 856781234],
                [None, None, None, None],
                ["Adam", "Bąk", "adam.bak@ug-e", None],
            ],
        },
    )
    write_ods(
        folder / "20-calc.ods",
        {
            "Arkusz1": [
                ["Imię", "E-mail", "Instytucja"],
                ["Irena", "irena@ops.example.pl", "OPS\nFilia"],
                ["", "", ""],
                ["Olga", "olga@ops", "OPS"],
            ]
        },
    )
    # 21: cp1250 with „typographic quotes” and an en dash, 22: a UTF-8 file, pipe-separated
    text(
        "21-cp1250-quotes.csv",
        "przedsiebiorstwa_spoleczne",
        "Imię;E-mail;Instytucja\r\nGrażyna;g@ss.example.pl;Spółdzielnia „Razem” – Łapy\r\n",
        "cp1250",
    )
    text("22-pipe.csv", "koscioly", "E-mail|Imię\nproboszcz@parafia.example.pl|Jan\n")
    lists = [SourceList(folder / name, group, name) for name, group in files]
    mapping = {"email": "Kontakt", "full_name": "Osoba do kontaktu"}
    lists.insert(17, SourceList(folder / "18-mapped.csv", "jst", "18-mapped.csv", columns=mapping))
    lists.insert(18, SourceList(folder / "19-workbook.xlsx", "jst", "19-workbook.xlsx"))
    lists.insert(19, SourceList(folder / "20-calc.ods", "ngo", "20-calc.ods"))
    return lists


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[SourceList], MergeResult]:
    lists = build_corpus(tmp_path_factory.mktemp("corpus"))
    return lists, merge_lists(lists)


def _people(result: MergeResult) -> dict[str, object]:
    return {c.email: c for c in result.contacts}


def test_corpus_has_22_files(corpus: tuple[list[SourceList], MergeResult]) -> None:
    lists, _ = corpus
    assert len(lists) == 22
    assert [s.label[:2] for s in lists] == [f"{n:02d}" for n in range(1, 23)]


def test_corpus_merged_people_and_groups(corpus: tuple[list[SourceList], MergeResult]) -> None:
    _, result = corpus
    assert {c.email: c.groups for c in result.contacts} == {
        "scibor@ug-a.example.pl": ("jst", "owes"),
        "j.abel@ug-b.example.pl": ("jst",),
        "s.zrebiec@fundacja.example.pl": ("ngo",),
        "s.sliwa@stowarzyszenie.example.pl": ("ngo",),
        "anna.nowak@owes.example.pl": ("nauka", "owes"),
        "marek@ngo.example.pl": ("ngo",),
        "karol@radio.example.pl": ("media",),
        "jan.kowalski@gmail.con": ("biznes",),
        "ola@wp.p": ("biznes",),
        "beata@onet.pll": ("biznes",),
        "wojt@ug-c.example.pl": ("jst",),
        "ks@parafia.example.pl": ("koscioly", "ngo"),
        "kuba@ug-d.example.pl": ("jst",),
        "ida@ug-d.example.pl": ("jst",),
        "zgoda@ngo.example.pl": ("ngo",),
        "brak@ngo.example.pl": ("ngo",),
        "moze@ngo.example.pl": ("ngo",),
        "publiczny@ngo.example.pl": ("ngo",),
        "redakcja@" + idna.encode("gazeta-łomża.pl").decode(): ("media",),
        "pawel@owes.example.pl": ("owes",),
        "m.zielinska@pup.example.pl": ("rynek_pracy",),
        "biuro@lgd.example.pl": ("jst",),
        "zofia@ug-e.example.pl": ("jst",),
        "irena@ops.example.pl": ("ngo",),
        "g@ss.example.pl": ("przedsiebiorstwa_spoleczne",),
        "proboszcz@parafia.example.pl": ("koscioly",),
    }
    assert [c.email for c in result.contacts] == sorted(c.email for c in result.contacts)


def test_corpus_rejects_with_file_row_column_and_reason(
    corpus: tuple[list[SourceList], MergeResult],
) -> None:
    _, result = corpus
    got = [(r.source, r.row, r.column, r.value, r.reason) for r in result.rejects]
    assert [g[:4] for g in got] == [
        ("06-quoted.csv", 3, "E-mail", "ewa(at)ngo.example.pl"),  # a record, not a line
        ("07-title-row.csv", 6, "E-mail", "lena@@radio.example.pl"),
        ("08-typos.csv", 5, "E-mail", "zenon@interiapl"),
        ("09-group-column.csv", 4, "Grupa", ""),
        ("14-unicode.csv", 3, "E-mail", "żółć@wp.pl"),
        ("14-unicode.csv", 4, "E-mail", '"jan kowalski"@wp.pl'),
        ("14-unicode.csv", 5, "E-mail", "Jan <jan@wp.pl>"),
        ("15-ragged.csv", 2, "E-mail", ""),
        ("19-workbook.xlsx[Kontakty]", 4, "Adres e-mail", "adam.bak@ug-e"),
        ("20-calc.ods[Arkusz1]", 4, "E-mail", "olga@ops"),
    ]
    reasons = [g[4] for g in got]
    assert reasons[0] == "An email address must have an @-sign."
    assert "Did you mean zenon@interia.pl?" in reasons[2]
    assert reasons[3].startswith("no stakeholder group")
    assert reasons[4].startswith("Internationalized characters before the @-sign")
    assert "Quoting" in reasons[5] and "display name" in reasons[6]
    assert reasons[7] == "the e-mail address is empty"
    assert "should have a period" in reasons[8]


def test_corpus_warnings(corpus: tuple[list[SourceList], MergeResult]) -> None:
    _, result = corpus
    got = [(w.source, w.row, w.message) for w in result.warnings]
    assert got == [
        ("08-typos.csv", 2, "the domain gmail.con looks like a typo of gmail.com"),
        ("08-typos.csv", 3, "the domain wp.p looks like a typo of wp.pl"),
        ("08-typos.csv", 4, "the domain onet.pll looks like a typo of onet.pl"),
        (
            "09-group-column.csv",
            4,
            "unknown stakeholder group 'Kosmici'; the list's group, if any, is used",
        ),
        (
            "11-consent.csv",
            4,
            "cannot tell whether this is consent (expected tak/nie); the list's default is used",
        ),
        ("16-header-only.csv", 0, "a header and no rows: nobody is added from this list"),
        ("19-workbook.xlsx[Notatki]", 0, "sheet skipped: no e-mail column (header ['Uwagi'])"),
    ]


def test_corpus_rows_read(corpus: tuple[list[SourceList], MergeResult]) -> None:
    _, result = corpus
    assert result.rows_read["07-title-row.csv"] == 2  # the title and blank rows are not rows
    assert result.rows_read["16-header-only.csv"] == 0
    assert result.rows_read["19-workbook.xlsx"] == 2
    assert sum(result.rows_read.values()) == 39
    assert len(result.contacts) + len(result.rejects) == 36  # 3 rows merged into earlier ones


def test_corpus_encodings_are_detected_and_reported(
    corpus: tuple[list[SourceList], MergeResult],
) -> None:
    _, result = corpus
    people = _people(result)
    assert people["s.zrebiec@fundacja.example.pl"].full_name == "Świętosława Źrebięć"
    assert people["s.sliwa@stowarzyszenie.example.pl"].full_name == "Świętosław Śliwa"
    assert people["j.abel@ug-b.example.pl"].last_name == "Ąbel"
    assert people["g@ss.example.pl"].organisation == "Spółdzielnia „Razem” – Łapy"
    details = {s.label: s.details for s in result.sources}
    assert details["01-utf8.csv"].startswith("CSV, utf-8 ")
    assert details["02-bom.csv"].startswith("CSV, utf-8-sig ")
    assert details["03-cp1250.csv"].startswith("CSV, cp1250 ")
    assert details["04-latin2.csv"].startswith("CSV, iso-8859-2 ")
    assert details["04-latin2.csv"].endswith("delimiter pipe")
    assert details["05-english.tsv"].endswith("delimiter tab")
    assert details["20-calc.ods[Arkusz1]"] == "OpenDocument spreadsheet"


def test_corpus_cleaning_and_richest_record(corpus: tuple[list[SourceList], MergeResult]) -> None:
    _, result = corpus
    people = _people(result)
    scibor = people["scibor@ug-a.example.pl"]
    assert (scibor.first_name, scibor.last_name, scibor.organisation) == (
        "Ścibor",
        "Źdźbło",
        "Urząd Gminy A",
    )
    assert scibor.sources == ("01-utf8.csv:2", "05-english.tsv:2")
    assert scibor.provenance == {
        "first_name": "01-utf8.csv:2",
        "last_name": "01-utf8.csv:2",
        "organisation": "05-english.tsv:2",
        "position": "05-english.tsv:2",
    }
    anna = people["anna.nowak@owes.example.pl"]  # 13-richer.csv has six fields, file 5 five
    assert (anna.organisation, anna.position, anna.gender) == ("Uniwersytet", "profesor", "f")
    assert anna.provenance["organisation"] == "13-richer.csv:2"
    assert [(c.email, c.field, c.kept, c.other, c.other_from) for c in result.conflicts] == [
        ("anna.nowak@owes.example.pl", "organisation", "Uniwersytet", "OWES", "05-english.tsv:3"),
        ("anna.nowak@owes.example.pl", "position", "profesor", "doradczyni", "05-english.tsv:3"),
        ("brak@ngo.example.pl", "legal_basis", "none", "consent", "a row giving consent"),
    ]
    assert people["marek@ngo.example.pl"].organisation == 'Fundacja "Most" Oddział Łomża'
    assert people["irena@ops.example.pl"].organisation == "OPS Filia"
    assert people["m.zielinska@pup.example.pl"].full_name == "Maria Anna Zielińska"
    assert people["biuro@lgd.example.pl"].full_name == "Tomasz Wilk"
    assert people["zofia@ug-e.example.pl"].phone == "856781234"


def test_corpus_extra_columns_and_legal_basis(
    corpus: tuple[list[SourceList], MergeResult],
) -> None:
    _, result = corpus
    people = _people(result)
    kuba = people["kuba@ug-d.example.pl"]
    assert (kuba.county, kuba.municipality, kuba.phone, kuba.gender) == (
        "białostocki",
        "Choroszcz",
        "+48 85 123 45 67",
        "m",
    )
    assert people["ida@ug-d.example.pl"].phone == '=HYPERLINK("http://x")'  # neutralised on output
    bases = {email: people[email].legal_basis for email in people if "ngo.example" in email}
    assert bases == {
        "zgoda@ngo.example.pl": "consent",
        "brak@ngo.example.pl": "",  # consent in one list, refused in another: refusal wins
        "moze@ngo.example.pl": "",
        "publiczny@ngo.example.pl": "public_task",
        "marek@ngo.example.pl": "",
    }


def test_no_field_carries_a_line_break(corpus: tuple[list[SourceList], MergeResult]) -> None:
    _, result = corpus
    for contact in result.contacts:
        for name in ("email", "first_name", "last_name", "organisation", "position", "phone"):
            value = getattr(contact, name)
            assert "\r" not in value and "\n" not in value, (contact.email, name)
