"""The stakeholder groups a regional social-policy centre invites, with their Polish labels."""

from __future__ import annotations

import re

from listonosz.contacts.text import fold

STAKEHOLDER_GROUPS: dict[str, str] = {
    "przedsiebiorstwa_spoleczne": "przedsiębiorstwa społeczne",
    "jst": "jednostki samorządu terytorialnego",
    "ngo": "organizacje pozarządowe",
    "koscioly": "kościoły i związki wyznaniowe",
    "owes": "ośrodki wsparcia ekonomii społecznej",
    "rynek_pracy": "instytucje rynku pracy i pomocy społecznej",
    "nauka": "nauka",
    "biznes": "biznes",
    "media": "media lokalne i regionalne",
}

#: Other names staff write in a "Grupa" column (compared after :func:`fold`).
GROUP_SYNONYMS: dict[str, tuple[str, ...]] = {
    "przedsiebiorstwa_spoleczne": ("przedsiębiorstwo społeczne", "PS", "ekonomia społeczna"),
    "jst": ("samorząd", "samorządy", "gmina", "gminy", "powiat", "powiaty", "urząd"),
    "ngo": ("organizacja pozarządowa", "organizacje", "NGOs", "fundacja", "stowarzyszenie"),
    "koscioly": ("kościół", "kościoły", "związki wyznaniowe", "parafia", "parafie"),
    "owes": ("ośrodek wsparcia ekonomii społecznej",),
    "rynek_pracy": ("rynek pracy", "instytucje rynku pracy", "pomoc społeczna", "PUP", "OPS"),
    "nauka": ("uczelnia", "uczelnie", "science", "nauka i edukacja"),
    "biznes": ("business", "przedsiębiorcy", "firmy"),
    "media": ("media lokalne", "media regionalne", "prasa"),
}

_GROUP_KEYS: dict[str, str] = {}
for _code, _label in STAKEHOLDER_GROUPS.items():
    for _name in (_code, _label, *GROUP_SYNONYMS.get(_code, ())):
        _GROUP_KEYS[fold(_name)] = _code

_SEPARATORS = re.compile(r"[;,/|+]")


def group_label(code: str) -> str:
    """The Polish label of a group code (the code itself for a group we do not know)."""
    return STAKEHOLDER_GROUPS.get(code, code)


def parse_groups(value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A "Grupa" cell → (known group codes, unknown names); ``;`` ``,`` ``/`` separate several."""
    parts = [part.strip() for part in _SEPARATORS.split(value) if part.strip()]
    codes = [_GROUP_KEYS.get(fold(part)) for part in parts]
    unknown = tuple(part for part, code in zip(parts, codes, strict=True) if code is None)
    return tuple(dict.fromkeys(code for code in codes if code)), unknown
