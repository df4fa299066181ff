"""Comparing and cleaning short texts: the helpers every other contacts module shares."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # C0/C1 controls that are not spaces
#: Text that :func:`clean_text` would leave exactly as it is (printable ASCII, single spaces).
_ALREADY_CLEAN = re.compile(r"(?:[!-~]+(?: [!-~]+)*)?\Z")


def fold(text: str) -> str:
    """Lower-case, strip diacritics (ł too), and drop spaces, dashes, dots and underscores."""
    text = unicodedata.normalize("NFKD", text.strip().lower()).replace("ł", "l")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[\s_\-.]+", "", text)


def clean_text(value: str) -> str:
    """NFC, no control characters (CR/LF included), single spaces, trimmed."""
    if _ALREADY_CLEAN.match(value):
        return value
    value = _CONTROL.sub("", unicodedata.normalize("NFC", value))
    return _SPACES.sub(" ", value).strip()
