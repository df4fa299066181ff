"""Telling how a text file is encoded: UTF-8 (with or without BOM), cp1250 or ISO-8859-2.

cp1250 (what Polish Windows and Excel write) and ISO-8859-2 agree on most Polish letters but
not on ą Ą ś Ś ź Ź: each puts them on bytes that, read the other way, become symbols or
control characters. So we count, over the whole file, the bytes that are Polish letters in
one encoding and nonsense in the other, and take the encoding with more letters.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from listonosz.contacts.errors import ContactFileError

CHUNK = 1 << 20
ENCODINGS = SUPPORTED = ("utf-8", "utf-8-sig", "cp1250", "iso-8859-2")

#: Bytes that are ą Ą ś Ś ź Ź in cp1250 and ¹ Ľ œ Œ Ÿ  … (symbols, C1 controls) in ISO-8859-2.
_CP1250_LETTERS = bytes([0xB9, 0xA5, 0x9C, 0x8C, 0x9F, 0x8F])
#: Bytes that are ą Ą ś Ś ź Ź in ISO-8859-2 and ± ˇ ¶ ¦ Ľ ¬ in cp1250.
_ISO_LETTERS = bytes([0xB1, 0xA1, 0xB6, 0xA6, 0xBC, 0xAC])
#: Bytes cp1250 leaves undefined: a file with them is not cp1250.
_CP1250_UNDEFINED = bytes([0x81, 0x83, 0x88, 0x90, 0x98])
#: Bytes that are C1 control characters in ISO-8859-2 and letters or punctuation in cp1250.
_ISO_CONTROLS = bytes(b for b in range(0x80, 0xA0) if b not in _CP1250_UNDEFINED)
#: Every byte counted above is past ASCII: dropping ASCII first makes counting much quicker.
_ASCII = bytes(range(0x80))


@dataclass(frozen=True, slots=True)
class Detected:
    """The encoding to read a file with, and why (for the report)."""

    encoding: str
    reason: str


def canonical_encoding(name: str) -> str:
    """``UTF8``, ``windows-1250``, ``latin2`` … → one of :data:`SUPPORTED` (or ValueError)."""
    try:
        found = codecs.lookup(name).name
    except LookupError:
        raise ValueError(f"unknown encoding {name!r}") from None
    aliases = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "cp1250": "cp1250"}
    aliases["iso8859-2"] = "iso-8859-2"
    if found not in aliases:
        raise ValueError(f"unsupported encoding {name!r}; use one of {', '.join(SUPPORTED)}")
    return aliases[found]


def detect_encoding(path: Path, label: str) -> Detected:
    """Read the whole file once, in chunks, and decide how to decode it.

    Raises :class:`ContactFileError` for a binary file (NUL bytes) or an empty one.
    """
    scanner = _Scanner(label)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            scanner.feed(chunk)
    return scanner.result()


def decode(data: bytes, label: str) -> tuple[str, str]:
    """Decode a whole file's bytes as :func:`detect_encoding` would; returns (text, encoding)."""
    scanner = _Scanner(label)
    scanner.feed(data)
    encoding = scanner.result().encoding
    return data.decode(encoding, errors="replace"), encoding


class _Scanner:
    """Counts, chunk by chunk, the evidence :func:`detect_encoding` decides on."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.utf8_ok = True
        self.first = b""
        self.cp1250_letters = self.iso_letters = self.iso_controls = self.undefined = 0

    def feed(self, chunk: bytes) -> None:
        if not self.first:
            self.first = chunk
            if b"\x00" in chunk[:8192]:
                raise ContactFileError(
                    f"{self.label}: looks like a binary file, not CSV text "
                    "(save it from the spreadsheet as CSV or .xlsx)"
                )
        if self.utf8_ok:
            try:
                self.utf8.decode(chunk)
            except UnicodeDecodeError:
                self.utf8_ok = False
        if not self.utf8_ok:
            high = chunk.translate(None, _ASCII)
            self.cp1250_letters += sum(map(high.count, _CP1250_LETTERS))
            self.iso_letters += sum(map(high.count, _ISO_LETTERS))
            self.iso_controls += sum(map(high.count, _ISO_CONTROLS))
            self.undefined += sum(map(high.count, _CP1250_UNDEFINED))

    def result(self) -> Detected:
        if not self.first.strip():
            raise ContactFileError(f"{self.label}: the file is empty")
        if self.utf8_ok:
            try:
                self.utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                self.utf8_ok = False
        if self.utf8_ok:
            if self.first.startswith(codecs.BOM_UTF8):
                return Detected("utf-8-sig", "UTF-8 with BOM")
            return Detected("utf-8", "valid UTF-8")
        if self.undefined or self.iso_letters > self.cp1250_letters + self.iso_controls:
            return Detected(
                "iso-8859-2",
                f"not UTF-8; {self.iso_letters} ą/ś/ź letters read as ISO-8859-2",
            )
        return Detected("cp1250", f"not UTF-8; {self.cp1250_letters} ą/ś/ź letters read as cp1250")
