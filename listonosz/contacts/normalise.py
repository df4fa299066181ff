"""Cleaning the text of one contact row: whitespace, Unicode form, shouting names, gender."""

from __future__ import annotations

import re

from listonosz.contacts.emails import EmailChecker
from listonosz.contacts.text import clean_text, clean_visible

_GENDER_WORDS = dict.fromkeys(("k", "kobieta", "f", "female", "pani"), "f")
_GENDER_WORDS.update(dict.fromkeys(("m", "mezczyzna", "mężczyzna", "male", "pan"), "m"))
_WORD = re.compile(r"[^\W\d_]+")


def fix_name_case(value: str) -> str:
    """Turn ``KOWALSKA-NOWAK`` or ``jan`` into ``Kowalska-Nowak`` and ``Jan``; keep mixed case."""
    if not value or (not value.isupper() and not value.islower()):
        return value
    return _WORD.sub(lambda word: word.group(0).capitalize(), value.lower())


def parse_gender(value: str) -> str:
    """``K``/``M``/``kobieta``/``female``… → ``f``/``m``; anything else → ``""``."""
    return _GENDER_WORDS.get(clean_visible(value).lower(), "")


def split_full_name(value: str) -> tuple[str, str]:
    """``Jan Maria Kowalski`` → (``Jan Maria``, ``Kowalski``): the last word is the surname."""
    words = clean_visible(value).split(" ")
    if len(words) < 2:
        return "", words[0]
    return " ".join(words[:-1]), words[-1]


_DEFAULT_CHECKER = EmailChecker()


def normalise_email(value: str) -> str:
    """The form of an address we store and send to (lower case, punycode); a
    :class:`ValueError` with the reason when it cannot be used."""
    return _DEFAULT_CHECKER.normalise(clean_text(value))
