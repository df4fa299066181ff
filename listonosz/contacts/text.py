"""Comparing and cleaning short texts: the helpers every other contacts module shares."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
#: C0/C1 controls that are not spaces (NEL, U+0085, is one: :func:`clean_text` makes it a space).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
#: Text that :func:`clean_text` would leave exactly as it is (printable ASCII, single spaces).
_ALREADY_CLEAN = re.compile(r"(?:[!-~]+(?: [!-~]+)*)?\Z")

#: Invisible formatting characters, with no place in text a recipient reads: bidirectional
#: controls (U+202E makes ``gpj.exe`` look like ``exe.jpg``), zero-width spaces and joiners,
#: word joiners, invisible operators, a BOM where files were glued, the soft hyphen.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD), (0x061C, 0x061C), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x2069), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB),
)  # fmt: skip
INVISIBLE = "".join(chr(c) for low, high in _INVISIBLE_RANGES for c in range(low, high + 1))
_INVISIBLE = re.compile(f"[{re.escape(INVISIBLE)}]")
_DELETE_INVISIBLE = dict.fromkeys(map(ord, INVISIBLE))


def fold(text: str) -> str:
    """Lower-case, strip diacritics (ł too), and drop spaces, dashes, dots, underscores and
    invisible characters (a BOM glued to the first header)."""
    text = text.translate(_DELETE_INVISIBLE)
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
    """:func:`clean_text`, and no :data:`INVISIBLE` formatting characters: what a recipient
    sees (their name, organisation …) is all there is."""
    if not value.isascii():
        value = value.translate(_DELETE_INVISIBLE)
    return clean_text(value)


def invisible_in(value: str) -> str:
    """The invisible formatting characters in ``value``, named (``U+202E RIGHT-TO-LEFT
    OVERRIDE, …``, each once, in order); ``""`` when there are none."""
    if value.isascii():
        return ""
    found = dict.fromkeys(_INVISIBLE.findall(value))
    return ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip() for ch in found)
