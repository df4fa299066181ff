"""Polish dates and times, and how a person is addressed."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from listonosz.contacts.model import Contact
from listonosz.render.polish import (
    date_pl,
    infer_gender,
    on_weekday_pl,
    plural_form,
    plural_pl,
    salutation,
    time_pl,
    weekday_pl,
)

WARSAW = ZoneInfo("Europe/Warsaw")
SEMINAR = dt.datetime(2016, 9, 7, 10, 0, tzinfo=WARSAW)


def test_seminar_date_time_and_weekday() -> None:
    assert date_pl(SEMINAR) == "7 września 2016 r."
    assert time_pl(SEMINAR) == "10:00"
    assert weekday_pl(SEMINAR) == "środa"


def test_a_plain_date_works_too() -> None:
    assert date_pl(dt.date(2016, 9, 7)) == "7 września 2016 r."
    assert weekday_pl(dt.date(2016, 9, 7)) == "środa"


def test_time_is_the_local_time_of_an_aware_datetime() -> None:
    # 10:00 in Warsaw is 08:00 UTC; the invitation must say 10:00
    assert SEMINAR.astimezone(dt.UTC).hour == 8
    assert time_pl(SEMINAR) == "10:00"
    assert time_pl(dt.datetime(2016, 1, 5, 9, 5, tzinfo=WARSAW)) == "09:05"
    assert time_pl(dt.time(14, 30)) == "14:30"


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2017, 1, 1), "1 stycznia 2017 r."),
        (dt.date(2016, 2, 29), "29 lutego 2016 r."),
        (dt.date(2016, 3, 15), "15 marca 2016 r."),
        (dt.date(2016, 4, 30), "30 kwietnia 2016 r."),
        (dt.date(2016, 5, 3), "3 maja 2016 r."),
        (dt.date(2016, 6, 1), "1 czerwca 2016 r."),
        (dt.date(2016, 7, 22), "22 lipca 2016 r."),
        (dt.date(2016, 8, 31), "31 sierpnia 2016 r."),
        (dt.date(2016, 10, 10), "10 października 2016 r."),
        (dt.date(2016, 11, 11), "11 listopada 2016 r."),
        (dt.date(2016, 12, 24), "24 grudnia 2016 r."),
    ],
)
def test_months_in_the_genitive(day: dt.date, expected: str) -> None:
    assert date_pl(day) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2016, 9, 5), "poniedziałek"),
        (dt.date(2016, 9, 6), "wtorek"),
        (dt.date(2016, 9, 8), "czwartek"),
        (dt.date(2016, 9, 9), "piątek"),
        (dt.date(2016, 9, 10), "sobota"),
        (dt.date(2016, 9, 11), "niedziela"),
    ],
)
def test_weekdays(day: dt.date, expected: str) -> None:
    assert weekday_pl(day) == expected


PANI, PAN, PANSTWO = "Szanowna Pani", "Szanowny Panie", "Szanowni Państwo"


@pytest.mark.parametrize(
    ("contact", "expected"),
    [
        # women's names ending in -a
        (Contact("a@x.pl", "Anna", "Kowalska"), PANI),
        (Contact("a@x.pl", "Grażyna", "Żukowska"), PANI),
        (Contact("a@x.pl", "Łucja", "Borowik"), PANI),
        (Contact("a@x.pl", "Teresa Anna", "Dąbrowska"), PANI),
        (Contact("a@x.pl", "MAŁGORZATA", "ŚWIDERSKA"), PANI),
        # men's names
        (Contact("a@x.pl", "Jan", "Kowalczyk"), PAN),
        (Contact("a@x.pl", "Paweł", "Ostaszewski"), PAN),
        (Contact("a@x.pl", "Józef", "Grądzki"), PAN),
        (Contact("a@x.pl", "Mirosław", "Ciechanowicz"), PAN),
        # men whose names end in -a
        (Contact("a@x.pl", "Kuba", "Sawicki"), PAN),
        (Contact("a@x.pl", "Barnaba", "Trochimczuk"), PAN),
        (Contact("a@x.pl", "Kosma", "Wasilewski"), PAN),
        (Contact("a@x.pl", "Jarema", "Borkowski"), PAN),
        (Contact("a@x.pl", "KUBA", "Nowak"), PAN),
        # women's names not ending in -a
        (Contact("a@x.pl", "Miriam", "Nowak"), PANI),
        (Contact("a@x.pl", "Beatrycze", "Kowalska"), PANI),
        # the gender column wins over the name
        (Contact("a@x.pl", "Kuba", "Sawicka", gender="f"), PANI),
        (Contact("a@x.pl", "Anna", "Nowak", gender="m"), PAN),
        (Contact("a@x.pl", "Jan", "Nowak", gender="f"), PANI),
        (Contact("a@x.pl", "Barnaba", "Nowak", gender="m"), PAN),
        (Contact("a@x.pl", "", "Nowak", gender="f"), PANI),
        # nobody named: the organisation's mailbox
        (Contact("biuro@x.pl", organisation="Fundacja „Ostoja”"), PANSTWO),
        (Contact("biuro@x.pl"), PANSTWO),
        # a surname alone says nothing about who reads it
        (Contact("a@x.pl", "", "Nowak"), PANSTWO),
    ],
)
def test_salutation(contact: Contact, expected: str) -> None:
    assert salutation(contact) == expected


@pytest.mark.parametrize(
    ("first_name", "expected"),
    [
        ("Anna", "f"),
        ("anna", "f"),
        ("  Ewa  ", "f"),
        ("Maria Magdalena", "f"),
        ("Jan", "m"),
        ("Łukasz", "m"),
        ("Kuba", "m"),
        ("barnaba", "m"),
        ("KOSMA", "m"),
        ("Jarema", "m"),
        ("Jan Maria", "m"),  # the first name decides
        ("Miriam", "f"),
        ("Noemi", "f"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_infer_gender(first_name: str, expected: str) -> None:
    assert infer_gender(first_name) == expected


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, "0 miejsc"),
        (1, "1 miejsce"),
        (2, "2 miejsca"),
        (4, "4 miejsca"),
        (5, "5 miejsc"),
        (11, "11 miejsc"),
        (12, "12 miejsc"),
        (14, "14 miejsc"),
        (21, "21 miejsc"),
        (22, "22 miejsca"),
        (25, "25 miejsc"),
        (102, "102 miejsca"),
        (112, "112 miejsc"),
        (1200, "1\u00a0200 miejsc"),  # grouped with a no-break space, as Polish prints it
    ],
)
def test_counted_nouns_take_the_polish_plural(count: int, expected: str) -> None:
    assert plural_pl(count, "miejsce", "miejsca", "miejsc") == expected


def test_plural_form_alone_and_only_for_whole_numbers() -> None:
    assert plural_form(3, "wystąpienie", "wystąpienia", "wystąpień") == "wystąpienia"
    assert plural_form(1, "wiadomość", "wiadomości", "wiadomości") == "wiadomość"
    with pytest.raises(TypeError):
        plural_form(1.5, "a", "b", "c")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        plural_form(True, "a", "b", "c")


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2016, 9, 5), "w poniedziałek"),
        (dt.date(2016, 9, 6), "we wtorek"),
        (dt.date(2016, 9, 7), "w środę"),
        (dt.date(2016, 9, 8), "w czwartek"),
        (dt.date(2016, 9, 9), "w piątek"),
        (dt.date(2016, 9, 10), "w sobotę"),
        (dt.date(2016, 9, 11), "w niedzielę"),
    ],
)
def test_on_a_weekday(day: dt.date, expected: str) -> None:
    assert on_weekday_pl(day) == expected
    assert on_weekday_pl(dt.datetime.combine(day, dt.time(10), tzinfo=WARSAW)) == expected
