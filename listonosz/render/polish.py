"""Polish forms: dates and times (Babel), and how to address a person."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date, format_time

from listonosz.contacts.model import Contact

LOCALE = "pl_PL"

#: Men's first names that end in -a, so the ending alone would call them women.
MALE_NAMES_ENDING_IN_A = frozenset(
    {
        "kuba",
        "barnaba",
        "bonawentura",
        "kosma",
        "jarema",
        "zawisza",
        "sasza",
        "nikita",
        "mykoła",
        "mikoła",
        "jona",
        "juda",
        "boryna",
    }
)
#: Women's first names that do not end in -a.
FEMALE_NAMES_NOT_ENDING_IN_A = frozenset(
    {
        "beatrycze",
        "miriam",
        "nicole",
        "noemi",
        "carmen",
        "rut",
        "abigail",
        "ingrid",
        "karin",
        "doris",
        "dolores",
        "agnes",
        "iris",
        "ines",
        "margot",
        "mercedes",
    }
)


def date_pl(value: dt.date | dt.datetime) -> str:
    """``7 września 2016 r.``: day, month in the genitive, year, and the customary ``r.``."""
    return f"{format_date(value, 'd MMMM y', locale=LOCALE)} r."


def time_pl(value: dt.datetime | dt.time) -> str:
    """``10:00``: the 24-hour clock, as Polish invitations write it."""
    return format_time(value, "HH:mm", locale=LOCALE)


def weekday_pl(value: dt.date | dt.datetime) -> str:
    """``środa``: the day of the week, lower case as Polish writes it."""
    return format_date(value, "EEEE", locale=LOCALE)


def infer_gender(first_name: str) -> str:
    """``f``/``m`` from a Polish first name, or ``""`` when there is no name to go by."""
    name = first_name.strip().split(" ")[0].casefold() if first_name.strip() else ""
    if not name:
        return ""
    if name in MALE_NAMES_ENDING_IN_A:
        return "m"
    if name in FEMALE_NAMES_NOT_ENDING_IN_A or name.endswith("a"):
        return "f"
    return "m"


def salutation(contact: Contact) -> str:
    """``Szanowna Pani`` / ``Szanowny Panie``, or ``Szanowni Państwo`` when no person is named."""
    if not contact.first_name and not contact.last_name:
        return "Szanowni Państwo"
    gender = contact.gender or infer_gender(contact.first_name)
    if gender == "f":
        return "Szanowna Pani"
    if gender == "m":
        return "Szanowny Panie"
    return "Szanowni Państwo"
