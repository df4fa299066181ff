"""Comparing and cleaning short texts: the helpers every other contacts module shares."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
#: C0/C1 controls that are not spaces (NEL, U+0085, is one: :func:`clean_text` makes it a space).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
#: Text that :func:`clean_text` would leave exactly as it is (printable ASCII, single spaces).
_ALREADY_CLEAN = re.compile(r"(?:[!-~]+(?: [!-~]+)*)?\Z")

#: Invisible formatting characters, with no place in text a recipient reads: the soft hyphen,
#: bidirectional controls (U+202E makes ``gpj.exe`` look like ``exe.jpg``), zero-width spaces
#: and joiners, word joiners, invisible operators, a BOM where files were glued.
_INVISIBLE = re.compile(
    r"[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]"
)


def fold(text: str) -> str:
    """Lower-case, strip diacritics (ł too), and drop spaces, dashes, dots, underscores and
    invisible characters (a BOM glued to the first header)."""
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFKD", text.strip().lower()).replace("ł", "l")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[\s_\-.]+", "", text)


def clean_text(value: str) -> str:
    """NFC, no control characters, line breaks of any kind (CR, LF, NEL, U+2028 …) made single
    spaces, trimmed."""
    if _ALREADY_CLEAN.match(value):
        return value
    value = _CONTROL.sub("", unicodedata.normalize("NFC", value))
    return _SPACES.sub(" ", value).strip()


def clean_visible(value: str) -> str:
    """:func:`clean_text`, and no invisible formatting characters: what a recipient
    sees (their name, organisation …) is all there is."""
    return clean_text(value if value.isascii() else _INVISIBLE.sub("", value))


def invisible_in(value: str) -> str:
    """The invisible formatting characters in ``value``, named (``U+202E RIGHT-TO-LEFT
    OVERRIDE, …``, each once, in order); ``""`` when there are none."""
    if value.isascii():
        return ""
    found = dict.fromkeys(_INVISIBLE.findall(value))
    return ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip() for ch in found)
