"""How to address a person in Polish: the vocative, with the office or title they hold.

The rules are data (the tables below), not code paths: a new office is a new row. Order of
evidence: a per-contact override, then the position (office, academic title, clergy), with the
gender from the column, else from the first name, else from a feminine form of the office.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from listonosz.contacts.model import Contact

PANSTWO = "Szanowni Państwo"

#: Men's first names that end in -a, so the ending alone would call them women.
MALE_NAMES_ENDING_IN_A = frozenset(
    {
        "kuba",
        "barnaba",
        "bonawentura",
        "kosma",
        "jarema",
        "zawisza",
        "dyzma",
        "sasza",
        "misza",
        "grisza",
        "kostia",
        "wania",
        "jura",
        "ilja",
        "nikita",
        "mykoła",
        "mikoła",
        "jona",
        "juda",
        "boryna",
        "mustafa",
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
        "ruth",
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


@dataclass(frozen=True, slots=True)
class Office:
    """An office or title and its forms after ``Panie``/``Księże`` (male) and ``Pani`` (female).

    ``starts`` is a regular expression matched at the start of one part of the position, so that
    "Zastępca Burmistrza" (a deputy) or "Rzecznik prasowy Starosty" never match the office.
    """

    starts: str
    male: str
    female: str
    #: "f" when the word itself is feminine (Prezeska), so it tells the gender.
    implies: str = ""
    #: "ks" (Księże …), "s" (Siostro …) when the office belongs to the clergy.
    honorific: str = ""


_JST = r"(gminy|miasta|powiatu|województwa)"

#: Offices whose holders are addressed by the office. First matching row wins.
OFFICES: tuple[Office, ...] = (
    Office(r"wójt", "Wójcie", "Wójt"),
    Office(r"burmistrz", "Burmistrzu", "Burmistrz"),
    Office(r"burmistrzyni", "", "Burmistrz", implies="f"),
    Office(r"prezydent", "Prezydencie", "Prezydent"),
    Office(r"starosta", "Starosto", "Starosto"),
    Office(r"marszałek", "Marszałku", "Marszałek"),
    Office(r"wojewoda", "Wojewodo", "Wojewodo"),
    Office(r"dyrektor", "Dyrektorze", "Dyrektor"),
    Office(r"dyrektorka", "", "Dyrektor", implies="f"),
    Office(r"prezes", "Prezesie", "Prezes"),
    Office(r"prezeska", "", "Prezes", implies="f"),
    Office(r"kierownik", "Kierowniku", "Kierownik"),
    Office(r"kierowniczka", "", "Kierownik", implies="f"),
    Office(r"naczelnik", "Naczelniku", "Naczelnik"),
    Office(r"naczelniczka", "", "Naczelnik", implies="f"),
    Office(r"dziekan", "Dziekanie", "Dziekan"),
    Office(r"rektor", "Rektorze", "Rektor"),
    Office(r"redaktor", "Redaktorze", "Redaktor"),
    Office(r"redaktorka", "", "Redaktor", implies="f"),
    Office(rf"sekretarz {_JST}", "Sekretarzu", "Sekretarz"),
    Office(rf"skarbnik {_JST}", "Skarbniku", "Skarbnik"),
    Office(r"sołtys", "Sołtysie", "Sołtys"),
    Office(r"sołtyska", "", "Sołtys", implies="f"),
    Office(r"poseł", "Pośle", "Poseł"),
    Office(r"posłanka", "", "Poseł", implies="f"),
    Office(r"senator", "Senatorze", "Senator"),
    Office(r"senatorka", "", "Senator", implies="f"),
    Office(r"komendant", "Komendancie", "Komendant"),
    Office(r"pastor", "Pastorze", "Pastor"),
    # The clergy: the office comes after "Księże" or "Siostro".
    Office(r"proboszcz", "Proboszczu", "", honorific="ks"),
    Office(r"wikariusz", "", "", honorific="ks"),
    Office(r"kapelan", "Kapelanie", "", honorific="ks"),
    Office(r"biskup", "Biskupie", "", honorific="ks"),
    Office(r"arcybiskup", "Arcybiskupie", "", honorific="ks"),
    Office(r"(siostra )?przełożona", "", "Przełożona", implies="f", honorific="s"),
)
_OFFICE_PATTERNS = tuple((re.compile(rf"{o.starts}(?![\w-])"), o) for o in OFFICES)

#: Academic titles, highest first. By custom a "dr hab." is addressed as a professor.
PROFESSOR = Office("", "Profesorze", "Profesor")
DOCTOR = Office("", "Doktorze", "Doktor")
_ACADEMIC_WORDS = {
    "prof.": PROFESSOR,
    "prof": PROFESSOR,
    "profesor": PROFESSOR,
    "profesorka": PROFESSOR,
    "dr": DOCTOR,
    "dr.": DOCTOR,
    "doktor": DOCTOR,
}
#: Words before the office that add nothing to the address.
_SKIPPED_WORDS = frozenset({"hab.", "hab", "inż.", "inż", "mgr", "lic.", "n.", "med.", "szt."})
#: Words naming the clergy before a name or office: "ks. prof.", "s. Maria", "o. dyrektor".
_HONORIFIC_WORDS = {
    "ks.": "ks",
    "ks": "ks",
    "ksiądz": "ks",
    "s.": "s",
    "siostra": "s",
    "o.": "o",
    "ojciec": "o",
}
_PART_SEPARATORS = re.compile(r"[,;/|()]+")


@dataclass(frozen=True, slots=True)
class Position:
    """What a position says about how to address its holder."""

    office: Office | None = None
    academic: Office | None = None
    honorific: str = ""

    @property
    def title(self) -> Office | None:
        """The office (a function outranks a degree), else the academic title.

        An office with no word of its own (a vicar: just "Księże") gives way to a degree.
        """
        if self.office is not None and (self.office.male or self.office.female):
            return self.office
        return self.academic or self.office


def read_position(position: str) -> Position:
    """The office, academic title and clergy honorific found in a free-text position."""
    office: Office | None = None
    academic: Office | None = None
    honorific = ""
    for part in _PART_SEPARATORS.split(position.casefold()):
        words = part.split()
        i = 0
        while i < len(words):
            word = words[i]
            if word in _HONORIFIC_WORDS:
                honorific = honorific or _HONORIFIC_WORDS[word]
            elif word in _ACADEMIC_WORDS:
                title = _ACADEMIC_WORDS[word]
                if word.startswith("dr") and words[i + 1 : i + 2] in (["hab."], ["hab"]):
                    title = PROFESSOR
                if academic is None or title is PROFESSOR:
                    academic = title
            elif word not in _SKIPPED_WORDS:
                break
            i += 1
        rest = " ".join(words[i:])
        if office is None and rest:
            office = next((o for pattern, o in _OFFICE_PATTERNS if pattern.match(rest)), None)
    if office is not None and office.honorific:
        honorific = honorific or office.honorific
    return Position(office, academic, honorific)


def infer_gender(first_name: str) -> str:
    """``f``/``m`` from a Polish first name, or ``""`` when there is no name to go by."""
    words = first_name.replace("-", " ").split()
    if not words:
        return ""
    name = words[0].casefold()
    if name in MALE_NAMES_ENDING_IN_A:
        return "m"
    if name in FEMALE_NAMES_NOT_ENDING_IN_A or name.endswith("a"):
        return "f"
    return "m"


def salutation(contact: Contact) -> str:
    """The opening of a letter to ``contact``, without the comma: ``Szanowny Panie Wójcie``.

    A non-empty ``salutation`` attribute on the contact (a per-contact override column) always
    wins. Nobody named (an organisation's mailbox) or no way to tell the gender: the neutral
    ``Szanowni Państwo``.
    """
    override = contact.salutation.strip().rstrip(",").strip()
    if override:
        return override
    if not contact.first_name and not contact.last_name:
        return PANSTWO
    position = read_position(contact.position)
    title = position.title
    gender = contact.gender or infer_gender(contact.first_name)
    if not gender and position.office is not None:
        gender = position.office.implies
    if position.honorific == "ks" and gender != "f":
        return _join("Szanowny Księże", title.male if title else "")
    if position.honorific == "s":
        return _join("Szanowna Siostro", title.female if title else "")
    if position.honorific == "o" and gender != "f":
        return _join("Szanowny Ojcze", title.male if title else "")
    if gender == "m":
        return _join("Szanowny Panie", title.male if title else "")
    if gender == "f":
        return _join("Szanowna Pani", title.female if title else "")
    return PANSTWO


def _join(opening: str, title: str) -> str:
    return f"{opening} {title}" if title else opening
