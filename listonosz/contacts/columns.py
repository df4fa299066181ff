"""Recognising contact-list headers, Polish or English, whatever their case and diacritics."""

from __future__ import annotations

import re
import unicodedata

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
    ),
    "first_name": ("first name", "firstname", "imie", "imię", "given name", "name"),
    "last_name": ("last name", "lastname", "surname", "nazwisko", "family name"),
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
    ),
    "position": ("position", "stanowisko", "funkcja", "job title", "title", "role"),
    "gender": ("gender", "plec", "płeć", "sex"),
}


def header_key(text: str) -> str:
    """Lower-case, strip diacritics (ł too), and drop spaces, dashes and underscores."""
    text = unicodedata.normalize("NFKD", text.strip().lower()).replace("ł", "l")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[\s_\-.]+", "", text)


_ALIAS_TO_FIELD = {
    header_key(alias): name for name, aliases in HEADER_ALIASES.items() for alias in aliases
}


def map_headers(headers: list[str]) -> dict[int, str]:
    """Column index → canonical field, for the headers we recognise (first one wins)."""
    mapping: dict[int, str] = {}
    for index, header in enumerate(headers):
        name = _ALIAS_TO_FIELD.get(header_key(header or ""))
        if name and name not in mapping.values():
            mapping[index] = name
    return mapping
