"""Forms of address: the vocative with the office or title, gender from column, name or office."""

from __future__ import annotations

from pathlib import Path

import pytest

from listonosz.contacts.model import Contact
from listonosz.render.salutations import OFFICES, infer_gender, read_position, salutation


def person(first: str, last: str = "Nowak", position: str = "", gender: str = "") -> Contact:
    return Contact("a@x.pl", first, last, "Urząd", position, gender)  # type: ignore[arg-type]


CASES = [
    # Plain forms: no office, gender from the first name.
    (person("Anna"), "Szanowna Pani"),
    (person("Jan"), "Szanowny Panie"),
    (person("Kuba", position="Trener"), "Szanowny Panie"),
    (person("Barnaba", position="Ekspert ds. badań i ewaluacji"), "Szanowny Panie"),
    (person("Kosma", position="Animator lokalny"), "Szanowny Panie"),
    (person("Miriam", position="Specjalistka ds. promocji"), "Szanowna Pani"),
    # Local government: the office in the vocative.
    (person("Kosma", "Wasilewski", "Wójt Gminy Orla"), "Szanowny Panie Wójcie"),
    (person("Mirosław", position="Wójt Gminy"), "Szanowny Panie Wójcie"),
    (person("Halina", position="Wójt Gminy Narew"), "Szanowna Pani Wójt"),
    (person("Jan", "Kowalczyk", "Burmistrz Choroszczy"), "Szanowny Panie Burmistrzu"),
    (person("Sławomir", position="BURMISTRZ"), "Szanowny Panie Burmistrzu"),
    (person("Ewa", position="Burmistrz Supraśla"), "Szanowna Pani Burmistrz"),
    (person("", "Nowak", "Burmistrzyni Sokółki"), "Szanowna Pani Burmistrz"),
    (person("Piotr", position="Starosta Białostocki"), "Szanowny Panie Starosto"),
    (person("Grażyna", position="Starosta Bielski"), "Szanowna Pani Starosto"),
    (person("Jerzy", position="Marszałek Województwa Podlaskiego"), "Szanowny Panie Marszałku"),
    (person("Anna", position="Marszałek Województwa"), "Szanowna Pani Marszałek"),
    (person("Tadeusz", position="Prezydent Miasta Białegostoku"), "Szanowny Panie Prezydencie"),
    (person("Bohdan", position="Wojewoda Podlaski"), "Szanowny Panie Wojewodo"),
    (person("Agnieszka", position="Sekretarz Gminy"), "Szanowna Pani Sekretarz"),
    (person("Marek", position="Sekretarz Powiatu"), "Szanowny Panie Sekretarzu"),
    (person("Teresa Anna", position="Skarbnik Gminy"), "Szanowna Pani Skarbnik"),
    (person("Józef", position="Sołtys wsi Kruszyniany"), "Szanowny Panie Sołtysie"),
    # A deputy, a spokesperson or a board member is not addressed as the office itself.
    (person("Bożena", position="Zastępca Burmistrza"), "Szanowna Pani"),
    (person("Ryszard", position="Zastępca Burmistrza"), "Szanowny Panie"),
    (person("Józef", position="Wicestarosta"), "Szanowny Panie"),
    (person("Ewelina", position="Wiceprezeska"), "Szanowna Pani"),
    (person("Norbert", position="Prorektor ds. nauki"), "Szanowny Panie"),
    (person("Jakub", position="Rzecznik prasowy Starosty"), "Szanowny Panie"),
    (person("Wojciech", position="Członek Zarządu Powiatu"), "Szanowny Panie"),
    (person("Karolina", position="Sekretarz Zarządu"), "Szanowna Pani"),
    # Directors, presidents, heads of units.
    (person("Paweł", position="Dyrektor"), "Szanowny Panie Dyrektorze"),
    (person("Renata", position="Dyrektor PCPR"), "Szanowna Pani Dyrektor"),
    (person("", "Nowak", "Dyrektorka Szkoły"), "Szanowna Pani Dyrektor"),
    (person("Adam", position="Prezes"), "Szanowny Panie Prezesie"),
    (person("Łukasz", position="prezes"), "Szanowny Panie Prezesie"),
    (person("Kuba", position="Prezes Zarządu"), "Szanowny Panie Prezesie"),
    (person("Beata", position="Prezes"), "Szanowna Pani Prezes"),
    (person("Dorota", position="Prezeska Zarządu"), "Szanowna Pani Prezes"),
    (person("Elżbieta", position="Kierownik GOPS"), "Szanowna Pani Kierownik"),
    (person("Anna", position="Kierowniczka CIS"), "Szanowna Pani Kierownik"),
    (person("Leszek", position="Kierownik Filii"), "Szanowny Panie Kierowniku"),
    (person("Ewa", position="Naczelnik Wydziału"), "Szanowna Pani Naczelnik"),
    (person("Kamil", position="Redaktor naczelny"), "Szanowny Panie Redaktorze"),
    (person("Marta", position="Redaktor naczelna"), "Szanowna Pani Redaktor"),
    (person("Ludmiła", position="Redaktorka"), "Szanowna Pani Redaktor"),
    (person("Bartosz", position="Dziennikarz"), "Szanowny Panie"),
    # Science: a function outranks a degree; by custom a dr hab. is addressed as a professor.
    (person("Jan", position="prof. dr hab."), "Szanowny Panie Profesorze"),
    (person("Danuta", position="prof. uczelni"), "Szanowna Pani Profesor"),
    (person("Rafał", position="dr hab., profesor instytutu"), "Szanowny Panie Profesorze"),
    (person("Piotr", position="dr hab. inż."), "Szanowny Panie Profesorze"),
    (person("Alicja", position="dr, asystentka"), "Szanowna Pani Doktor"),
    (person("Tomasz", position="dr n. med."), "Szanowny Panie Doktorze"),
    (person("Hanna", position="doktorantka"), "Szanowna Pani"),
    (person("Jolanta", position="Dziekan"), "Szanowna Pani Dziekan"),
    (person("Marek", position="prof. dr hab., Dziekan Wydziału"), "Szanowny Panie Dziekanie"),
    (person("Maria", position="Rektor"), "Szanowna Pani Rektor"),
    # Churches.
    (person("Jerzy", position="Proboszcz"), "Szanowny Księże Proboszczu"),
    (person("Stanisław", position="proboszcz parafii"), "Szanowny Księże Proboszczu"),
    (person("Andrzej", position="Wikariusz"), "Szanowny Księże"),
    (person("Marek", position="ks. prof."), "Szanowny Księże Profesorze"),
    (person("Marek", position="ks. dr, wikariusz"), "Szanowny Księże Doktorze"),
    (person("Józef", position="Ks. Dyrektor Caritas"), "Szanowny Księże Dyrektorze"),
    (person("Jan", position="Biskup pomocniczy"), "Szanowny Księże Biskupie"),
    (person("Teresa", position="Siostra przełożona"), "Szanowna Siostro Przełożona"),
    (person("Maria", position="s. dyrektor"), "Szanowna Siostro Dyrektor"),
    (person("Anna", position="siostra zakonna"), "Szanowna Siostro"),
    (person("Paweł", position="o. prof."), "Szanowny Ojcze Profesorze"),
    (person("Jolanta", position="Kurator parafii"), "Szanowna Pani"),
    # The gender column wins over the name; a feminine office decides only when nothing else does.
    (person("Kuba", position="Dyrektor", gender="f"), "Szanowna Pani Dyrektor"),
    (person("Anna", position="Wójt", gender="m"), "Szanowny Panie Wójcie"),
    (person("", "Nowak", "Wójt Gminy"), "Szanowni Państwo"),
    (person("", "Nowak", "Wójt Gminy", gender="m"), "Szanowny Panie Wójcie"),
    # Nobody named: the organisation's mailbox.
    (Contact("biuro@x.pl", organisation="Fundacja „Ostoja”"), "Szanowni Państwo"),
    (Contact("gmina@x.pl", organisation="Urząd Gminy", position="Wójt"), "Szanowni Państwo"),
]


@pytest.mark.parametrize(("contact", "expected"), CASES)
def test_salutation(contact: Contact, expected: str) -> None:
    assert salutation(contact) == expected


def test_there_are_at_least_fifty_cases() -> None:
    assert len(CASES) >= 50
    assert len({expected for _, expected in CASES}) >= 35


#: One case per row of the office table, both forms where the row has both, written out by
#: hand: (first name, position, expected salutation). Men are Jan, women Anna.
OFFICE_ROWS = [
    ("Jan", "Wójt Gminy Gródek", "Szanowny Panie Wójcie"),
    ("Anna", "Wójt Gminy Gródek", "Szanowna Pani Wójt"),
    ("Jan", "Burmistrz Hajnówki", "Szanowny Panie Burmistrzu"),
    ("Anna", "Burmistrz Hajnówki", "Szanowna Pani Burmistrz"),
    ("Anna", "Burmistrzyni Łap", "Szanowna Pani Burmistrz"),
    ("Jan", "Prezydent Miasta Suwałk", "Szanowny Panie Prezydencie"),
    ("Anna", "Prezydent Miasta Suwałk", "Szanowna Pani Prezydent"),
    ("Jan", "Starosta Sokólski", "Szanowny Panie Starosto"),
    ("Anna", "Starosta Sokólski", "Szanowna Pani Starosto"),
    ("Jan", "Marszałek Województwa", "Szanowny Panie Marszałku"),
    ("Anna", "Marszałek Województwa", "Szanowna Pani Marszałek"),
    ("Jan", "Wojewoda Podlaski", "Szanowny Panie Wojewodo"),
    # The vocative of the office, as with a woman who is starosta: "Pani Wojewodo".
    ("Anna", "Wojewoda Podlaski", "Szanowna Pani Wojewodo"),
    ("Jan", "Dyrektor ROPS", "Szanowny Panie Dyrektorze"),
    ("Anna", "Dyrektor ROPS", "Szanowna Pani Dyrektor"),
    ("Anna", "Dyrektorka Przedszkola", "Szanowna Pani Dyrektor"),
    ("Jan", "Prezes Spółdzielni", "Szanowny Panie Prezesie"),
    ("Anna", "Prezes Spółdzielni", "Szanowna Pani Prezes"),
    ("Anna", "Prezeska Fundacji", "Szanowna Pani Prezes"),
    ("Jan", "Kierownik OPS", "Szanowny Panie Kierowniku"),
    ("Anna", "Kierownik OPS", "Szanowna Pani Kierownik"),
    ("Anna", "Kierowniczka Klubu Integracji Społecznej", "Szanowna Pani Kierownik"),
    ("Jan", "Naczelnik Wydziału Polityki Społecznej", "Szanowny Panie Naczelniku"),
    ("Anna", "Naczelnik Wydziału Polityki Społecznej", "Szanowna Pani Naczelnik"),
    ("Anna", "Naczelniczka Wydziału", "Szanowna Pani Naczelnik"),
    ("Jan", "Dziekan Wydziału Ekonomii", "Szanowny Panie Dziekanie"),
    ("Anna", "Dziekan Wydziału Ekonomii", "Szanowna Pani Dziekan"),
    ("Jan", "Rektor Uniwersytetu", "Szanowny Panie Rektorze"),
    ("Anna", "Rektor Uniwersytetu", "Szanowna Pani Rektor"),
    ("Jan", "Redaktor naczelny", "Szanowny Panie Redaktorze"),
    ("Anna", "Redaktor naczelna", "Szanowna Pani Redaktor"),
    ("Anna", "Redaktorka działu miejskiego", "Szanowna Pani Redaktor"),
    ("Jan", "Sekretarz Miasta", "Szanowny Panie Sekretarzu"),
    ("Anna", "Sekretarz Województwa", "Szanowna Pani Sekretarz"),
    ("Jan", "Skarbnik Powiatu", "Szanowny Panie Skarbniku"),
    ("Anna", "Skarbnik Gminy", "Szanowna Pani Skarbnik"),
    ("Jan", "Sołtys wsi Bohoniki", "Szanowny Panie Sołtysie"),
    ("Anna", "Sołtys wsi Bohoniki", "Szanowna Pani Sołtys"),
    ("Anna", "Sołtyska wsi Bohoniki", "Szanowna Pani Sołtys"),
    ("Jan", "Poseł na Sejm RP", "Szanowny Panie Pośle"),
    ("Anna", "Poseł na Sejm RP", "Szanowna Pani Poseł"),
    ("Anna", "Posłanka na Sejm RP", "Szanowna Pani Poseł"),
    ("Jan", "Senator RP", "Szanowny Panie Senatorze"),
    ("Anna", "Senator RP", "Szanowna Pani Senator"),
    ("Anna", "Senatorka RP", "Szanowna Pani Senator"),
    ("Jan", "Komendant Miejski Policji", "Szanowny Panie Komendancie"),
    ("Anna", "Komendant Miejski Policji", "Szanowna Pani Komendant"),
    ("Jan", "Pastor zboru", "Szanowny Panie Pastorze"),
    ("Jan", "Proboszcz parafii św. Rocha", "Szanowny Księże Proboszczu"),
    ("Jan", "Wikariusz parafii", "Szanowny Księże"),
    ("Jan", "Kapelan szpitala", "Szanowny Księże Kapelanie"),
    ("Jan", "Biskup diecezjalny", "Szanowny Księże Biskupie"),
    ("Jan", "Arcybiskup Metropolita Białostocki", "Szanowny Księże Arcybiskupie"),
    ("Anna", "Przełożona zgromadzenia", "Szanowna Siostro Przełożona"),
    ("Anna", "Siostra przełożona domu", "Szanowna Siostro Przełożona"),
]


@pytest.mark.parametrize(("first", "position", "expected"), OFFICE_ROWS)
def test_every_office_row_in_both_forms(first: str, position: str, expected: str) -> None:
    assert salutation(person(first, position=position)) == expected


def test_every_row_of_the_office_table_has_a_case() -> None:
    """A new row of the table needs its own hand-written case above."""
    reached = {read_position(position).office for _, position, _ in OFFICE_ROWS}
    missing = [office.starts for office in OFFICES if office not in reached]
    assert missing == []


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("Wielce Szanowny Panie Marszałku", "Wielce Szanowny Panie Marszałku"),
        ("  Droga Pani Ewo,  ", "Droga Pani Ewo"),  # a trailing comma is the template's
        ("", "Szanowny Panie Wójcie"),
        ("   ", "Szanowny Panie Wójcie"),
    ],
)
def test_a_per_contact_override_always_wins(override: str, expected: str) -> None:
    contact = Contact("a@x.pl", "Jan", "Nowak", position="Wójt", gender="m", salutation=override)
    assert salutation(contact) == expected


def test_the_override_comes_from_a_column_of_the_contact_list(tmp_path: Path) -> None:
    from listonosz.contacts.merge import SourceList, merge_lists

    path = tmp_path / "jst.csv"
    path.write_text(
        "Imię;Nazwisko;E-mail;Stanowisko;Zwrot grzecznościowy\n"
        "Jan;Nowak;jan@ug.example.pl;Wójt;Wielce Szanowny Panie Wójcie\n"
        "Anna;Kowalska;anna@ug.example.pl;Dyrektor;\n",
        encoding="utf-8",
    )
    jan, anna = sorted(merge_lists([SourceList(path, "jst")]).contacts, key=lambda c: c.first_name)[
        ::-1
    ]
    assert salutation(jan) == "Wielce Szanowny Panie Wójcie"
    assert salutation(anna) == "Szanowna Pani Dyrektor"


def test_read_position_finds_office_degree_and_honorific() -> None:
    position = read_position("ks. prof. dr hab., Dziekan Wydziału Teologii")
    assert position.honorific == "ks"
    assert position.office is not None and position.office.male == "Dziekanie"
    assert position.academic is not None and position.academic.male == "Profesorze"
    assert read_position("").title is None
    assert read_position("Zastępca Wójta").title is None


@pytest.mark.parametrize(
    ("first_name", "expected"),
    [
        ("Anna-Maria", "f"),
        ("Jan-Paweł", "m"),
        ("Dyzma", "m"),
        ("Misza", "m"),
        ("Ruth", "f"),
        ("Beatrycze", "f"),
        ("Zawisza", "m"),
        ("Kinga", "f"),
    ],
)
def test_infer_gender_exceptions(first_name: str, expected: str) -> None:
    assert infer_gender(first_name) == expected
