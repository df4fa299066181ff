"""Cleaning the text of one contact row: whitespace, Unicode form, shouting names, addresses."""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # C0/C1 controls that are not spaces
_GENDER_WORDS = {
    "k": "f",
    "kobieta": "f",
    "f": "f",
    "female": "f",
    "pani": "f",
    "m": "m",
    "mezczyzna": "m",
    "mężczyzna": "m",
    "male": "m",
    "pan": "m",
}


def clean_text(value: str) -> str:
    """NFC, no control characters (CR/LF included), single spaces, trimmed."""
    value = _CONTROL.sub("", unicodedata.normalize("NFC", value))
    return _SPACES.sub(" ", value).strip()


def fix_name_case(value: str) -> str:
    """Turn ``KOWALSKA-NOWAK`` or ``jan`` into ``Kowalska-Nowak`` and ``Jan``; keep mixed case."""
    if not value or (not value.isupper() and not value.islower()):
        return value
    return re.sub(r"[^\W\d_]+", lambda word: word.group(0).capitalize(), value.lower())


def parse_gender(value: str) -> str:
    """``K``/``M``/``kobieta``/``female``… → ``f``/``m``; anything else → ``""``."""
    return _GENDER_WORDS.get(clean_text(value).lower(), "")


def normalise_email(value: str) -> str:
    """Validate an address and return the form we store and send to (lower case).

    Raises :class:`ValueError` with the reason when the address cannot be used.
    """
    candidate = clean_text(value)
    if not candidate:
        raise ValueError("the e-mail address is empty")
    try:
        valid = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return (valid.ascii_email or valid.normalized).lower()
