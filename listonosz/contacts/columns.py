"""Recognising contact-list headers, Polish or English, whatever their case and diacritics, and
finding the header row under the titles and notes above it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from listonosz.contacts.errors import ContactFileError
from listonosz.contacts.text import fold

#: Canonical field → header spellings staff actually use (compared after :func:`header_key`).
# fmt: off
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "email": (
        "email", "e-mail", "adres e-mail", "adres email", "mail", "email address", "e-mail address",
        "poczta", "adres poczty elektronicznej", "poczta elektroniczna",
    ),
    "first_name": ("first name", "firstname", "imie", "imię", "given name", "name"),
    "last_name": ("last name", "lastname", "surname", "nazwisko", "family name"),
    "full_name": (
        "imię i nazwisko", "imie nazwisko", "imię nazwisko", "nazwisko i imię", "full name",
        "name and surname", "osoba kontaktowa", "osoba",
    ),
    "organisation": (
        "organisation", "organization", "organizacja", "instytucja", "firma", "podmiot",
        "jednostka", "company", "institution", "nazwa instytucji", "nazwa organizacji",
    ),
    "position": ("position", "stanowisko", "funkcja", "job title", "title", "role"),
    "gender": ("gender", "plec", "płeć", "sex"),
    "group": (
        "grupa", "grupy", "groups", "grupa interesariuszy", "grupa docelowa", "kategoria", "group",
        "stakeholder group",
    ),
    "salutation": (
        "zwrot", "zwrot grzecznościowy", "forma grzecznościowa", "forma zwrotu", "salutation",
        "greeting",
    ),
    "county": ("powiat", "county", "district"),
    "municipality": ("gmina", "municipality", "commune"),
    "phone": (
        "telefon", "tel", "tel.", "nr telefonu", "numer telefonu", "telefon kontaktowy", "komórka",
        "phone", "phone number", "mobile",
    ),
    "consent": (
        "zgoda", "zgoda na newsletter", "zgoda na kontakt", "zgoda rodo", "zgoda marketingowa",
        "consent", "newsletter consent",
    ),
    "legal_basis": (
        "podstawa prawna", "podstawa przetwarzania", "podstawa", "legal basis", "lawful basis",
    ),
}
# fmt: on

#: Every field a column can be mapped to.
FIELDS: tuple[str, ...] = tuple(HEADER_ALIASES)

header_key = fold
_ALIAS_TO_FIELD = {header_key(a): name for name, aliases in HEADER_ALIASES.items() for a in aliases}
#: How far down a sheet we look for the header row (titles and notes often sit above it).
HEADER_SEARCH_ROWS = 10


class ColumnMappingError(ValueError):
    """An explicit column mapping names a field we do not know or a header the file lacks."""


def map_headers(headers: list[str], explicit: Mapping[str, str] | None = None) -> dict[int, str]:
    """Column index → canonical field, for the headers we recognise (first one wins).
    ``explicit`` maps a field to its header (compared like aliases): it wins over the aliases,
    and a header it names that is missing raises :class:`ColumnMappingError`."""
    mapping: dict[int, str] = {}
    keys = [header_key(header or "") for header in headers]
    for name, header in (explicit or {}).items():
        if name not in HEADER_ALIASES:
            why = f"unknown field {name!r} in the column mapping; known: {', '.join(FIELDS)}"
        elif header_key(header) not in keys:
            why = f"the column mapping names {header!r} for {name}, but the header is {headers!r}"
        else:
            mapping[keys.index(header_key(header))] = name
            continue
        raise ColumnMappingError(why)
    taken = set(mapping.values())
    for index, key in enumerate(keys):
        field = _ALIAS_TO_FIELD.get(key)
        if field and field not in taken and index not in mapping:
            mapping[index] = field
            taken.add(field)
    return dict(sorted(mapping.items()))


class Located(NamedTuple):
    """Where the header is among the first rows, and what its columns mean."""

    row: int  # its place among the rows looked at
    columns: dict[int, str]


def locate_header(
    label: str, first_rows: list[list[str]], explicit: Mapping[str, str] | None
) -> Located | None:
    """The first of ``first_rows`` with an e-mail column (and, with an explicit mapping, every
    header it names), or None; bad mappings raise."""
    problem: str | None = None
    for index, row in enumerate(first_rows[:HEADER_SEARCH_ROWS]):
        if not any(cell.strip() for cell in row):
            continue
        try:
            columns = map_headers(row, explicit)
        except ColumnMappingError as exc:
            problem = problem or str(exc)
            continue
        if "email" in columns.values():
            return Located(index, columns)
    if problem and explicit:
        raise ContactFileError(f"{label}: {problem}")
    return None


def no_email_column(label: str, first_rows: list[list[str]]) -> ContactFileError:
    """The error for a table none of whose first rows has an e-mail column. The header is shown
    only when it names other columns we know: a row that does not is no header, and not echoed."""
    header = next((row for row in first_rows if any(c.strip() for c in row)), [])
    expected = "expected one of E-mail, Adres e-mail, Email …, or map it with `columns:`"
    if map_headers(header):
        return ContactFileError(f"{label}: no e-mail column; the header is {header!r} ({expected})")
    why = f"none of its first rows is a header we know (is it a contact list? {expected})"
    return ContactFileError(f"{label}: no e-mail column, and {why}")
