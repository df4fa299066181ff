"""Recognising contact-list headers, Polish or English, whatever their case and diacritics."""

from __future__ import annotations

from collections.abc import Mapping

from listonosz.contacts.text import fold

#: Canonical field → header spellings staff actually use (compared after :func:`header_key`).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "e-mail",
        "adres e-mail",
        "adres email",
        "mail",
        "email address",
        "e-mail address",
        "poczta",
        "adres poczty elektronicznej",
        "poczta elektroniczna",
    ),
    "first_name": ("first name", "firstname", "imie", "imię", "given name", "name"),
    "last_name": ("last name", "lastname", "surname", "nazwisko", "family name"),
    "full_name": (
        "imię i nazwisko",
        "imie nazwisko",
        "imię nazwisko",
        "nazwisko i imię",
        "full name",
        "name and surname",
        "osoba kontaktowa",
        "osoba",
    ),
    "organisation": (
        "organisation",
        "organization",
        "organizacja",
        "instytucja",
        "firma",
        "podmiot",
        "jednostka",
        "company",
        "institution",
        "nazwa instytucji",
        "nazwa organizacji",
    ),
    "position": ("position", "stanowisko", "funkcja", "job title", "title", "role"),
    "gender": ("gender", "plec", "płeć", "sex"),
    "group": (
        "grupa",
        "grupy",
        "groups",  # the merged audience file we write
        "grupa interesariuszy",
        "grupa docelowa",
        "kategoria",
        "group",
        "stakeholder group",
    ),
    "salutation": (
        "zwrot",
        "zwrot grzecznościowy",
        "forma grzecznościowa",
        "forma zwrotu",
        "salutation",
        "greeting",
    ),
    "county": ("powiat", "county", "district"),
    "municipality": ("gmina", "municipality", "commune"),
    "phone": (
        "telefon",
        "tel",
        "tel.",
        "nr telefonu",
        "numer telefonu",
        "telefon kontaktowy",
        "komórka",
        "phone",
        "phone number",
        "mobile",
    ),
    "consent": (
        "zgoda",
        "zgoda na newsletter",
        "zgoda na kontakt",
        "zgoda rodo",
        "zgoda marketingowa",
        "consent",
        "newsletter consent",
    ),
    "legal_basis": (
        "podstawa prawna",
        "podstawa przetwarzania",
        "podstawa",
        "legal basis",
        "lawful basis",
    ),
}

#: Every field a column can be mapped to.
FIELDS: tuple[str, ...] = tuple(HEADER_ALIASES)

header_key = fold

_ALIAS_TO_FIELD = {
    header_key(alias): name for name, aliases in HEADER_ALIASES.items() for alias in aliases
}


class ColumnMappingError(ValueError):
    """An explicit column mapping names a field we do not know or a header the file lacks."""


def map_headers(headers: list[str], explicit: Mapping[str, str] | None = None) -> dict[int, str]:
    """Column index → canonical field, for the headers we recognise (first one wins).

    ``explicit`` maps a field to the header that holds it (as written, compared like aliases);
    it wins over the aliases, and a header it names that is missing raises
    :class:`ColumnMappingError`.
    """
    mapping: dict[int, str] = {}
    keys = [header_key(header or "") for header in headers]
    for name, header in (explicit or {}).items():
        if name not in HEADER_ALIASES:
            raise ColumnMappingError(
                f"unknown field {name!r} in the column mapping; known: {', '.join(FIELDS)}"
            )
        try:
            mapping[keys.index(header_key(header))] = name
        except ValueError:
            raise ColumnMappingError(
                f"the column mapping names {header!r} for {name}, but the header is {headers!r}"
            ) from None
    taken = set(mapping.values())
    for index, key in enumerate(keys):
        field = _ALIAS_TO_FIELD.get(key)
        if field and field not in taken and index not in mapping:
            mapping[index] = field
            taken.add(field)
    return dict(sorted(mapping.items()))
