"""Polish forms: dates and times (Babel), counted nouns, and (re-exported) forms of address.

Date and time formatting is cached: a campaign formats the same few moments for every recipient.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_decimal

from listonosz.render.salutations import infer_gender, salutation

__all__ = [
    "LOCALE",
    "date_pl",
    "infer_gender",
    "on_weekday_pl",
    "plural_form",
    "plural_pl",
    "salutation",
    "time_pl",
    "weekday_pl",
]

LOCALE = "pl_PL"


@lru_cache(maxsize=256)
def date_pl(value: dt.date | dt.datetime) -> str:
    """``7 września 2016 r.``: day, month in the genitive, year, and the customary ``r.``."""
    return f"{format_date(value, 'd MMMM y', locale=LOCALE)} r."


@lru_cache(maxsize=256)
def time_pl(value: dt.datetime | dt.time) -> str:
    """``10:00``: the 24-hour clock, as Polish invitations write it."""
    return format_time(value, "HH:mm", locale=LOCALE)


@lru_cache(maxsize=256)
def weekday_pl(value: dt.date | dt.datetime) -> str:
    """``środa``: the day of the week, lower case as Polish writes it."""
    return format_date(value, "EEEE", locale=LOCALE)


@lru_cache(maxsize=1)
def _locale() -> Locale:
    return Locale.parse(LOCALE)


def plural_form(count: int, one: str, few: str, many: str) -> str:
    """The noun form Polish uses after ``count`` (CLDR rules from Babel): one, few or many.

    ``1 miejsce``, ``2 miejsca``, ``5 miejsc``, ``12 miejsc``, ``22 miejsca``.
    """
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError(f"a count must be a whole number, not {count!r}")
    category = _locale().plural_form(count)
    return {"one": one, "few": few}.get(category, many)


@lru_cache(maxsize=1024)
def plural_pl(count: int, one: str, few: str, many: str) -> str:
    """The count and its noun: ``1 miejsce``, ``3 miejsca``, ``1 200 miejsc`` (NBSP grouping)."""
    number = format_decimal(count, locale=LOCALE)
    return f"{number} {plural_form(count, one, few, many)}"


#: "on Wednesday": the preposition and the weekday in the accusative, Monday first.
_ON_WEEKDAY = (
    "w poniedziałek",
    "we wtorek",
    "w środę",
    "w czwartek",
    "w piątek",
    "w sobotę",
    "w niedzielę",
)


def on_weekday_pl(value: dt.date | dt.datetime) -> str:
    """``w środę``, ``we wtorek``: when something happens, as a sentence says it."""
    return _ON_WEEKDAY[value.weekday()]
