"""Reading a signed attendance list and matching it to the audience, without guessing."""

from __future__ import annotations

from pathlib import Path

import pytest

from listonosz.contacts.model import Contact
from listonosz.lifecycle import AttendanceFileError, match_attendance, read_signed_list
from tests.factories import write_xlsx

AUDIENCE = [
    Contact("jan@gmina.pl", "Jan", "Kowalski", "Urząd Gminy Łapy"),
    Contact("jan.k@ngo.pl", "Jan", "Kowalski", "Fundacja Łąka"),
    Contact("ewa@owes.pl", "Ewa", "Żółć", "OWES Białystok"),
]


def test_a_spreadsheet_list_is_matched_by_name_and_institution(tmp_path: Path) -> None:
    path = tmp_path / "obecnosc.xlsx"
    write_xlsx(
        path,
        {
            "Lista": [
                ["Seminarium 7 września"],
                ["Nazwisko", "Imię", "Instytucja", "Podpis"],
                ["KOWALSKI", "jan", "fundacja laka", "x"],
                ["zolc", "ewa", "", "x"],
                ["Kowalski", "Jan", "", "x"],  # two Jan Kowalskis: which one?
                ["Nowak", "Anna", "", ""],  # listed, did not sign
            ]
        },
    )
    rows = read_signed_list(path, "obecnosc.xlsx")
    matched = match_attendance(rows, AUDIENCE)
    assert matched.present == {"jan.k@ngo.pl": "obecnosc.xlsx:3", "ewa@owes.pl": "obecnosc.xlsx:4"}
    assert matched.ambiguous == ["obecnosc.xlsx:5: Jan Kowalski: 2 people on the lists"]
    assert matched.not_present == 1 and matched.unmatched == []


def test_a_csv_list_in_windows_1250_keeps_its_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "obecnosc.csv"
    text = (
        "Seminarium 7 września\r\n\r\n"
        "Imię;Nazwisko;Instytucja;Podpis\r\n"
        "Ewa;Żółć;OWES Białystok;x;notatka poza nagłówkiem\r\n"
        'Jan;Kowalski;"Fundacja ""Łąka""; oddział";x\r\n'
        "Anna;Nowak;;\r\n"
    )
    path.write_bytes(text.encode("cp1250"))
    rows = read_signed_list(path, "obecnosc.csv")
    assert [(r.where, r.name, r.organisation) for r in rows] == [
        ("obecnosc.csv:4", "Ewa Żółć", "OWES Białystok"),
        ("obecnosc.csv:5", "Jan Kowalski", 'Fundacja "Łąka"; oddział'),
        ("obecnosc.csv:6", "", ""),  # listed, did not sign
    ]


def test_a_list_without_a_known_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notatki.csv"
    path.write_text("kawa;herbata\n1;2\n", encoding="utf-8")
    with pytest.raises(AttendanceFileError, match=r"notatki\.csv: no header with E-mail"):
        read_signed_list(path, "notatki.csv")
