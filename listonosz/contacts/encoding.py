"""Telling how a text file is encoded: UTF-8 (with or without BOM), UTF-16 with BOM, cp1250
or ISO-8859-2; and refusing, early, a file no contact list can be.

UTF-16 with a BOM is what Excel's "Unicode text" export writes (tab-separated): the BOM says
so, and the NUL bytes of its ASCII letters are then no sign of a binary file.

cp1250 (what Polish Windows and Excel write) and ISO-8859-2 agree on most Polish letters but
not on ą Ą ś Ś ź Ź: each puts them on bytes that, read the other way, become symbols or
control characters. So we count, over the whole file, the bytes that are Polish letters in
one encoding and nonsense in the other, and take the encoding with more letters.

The same pass refuses a file with a line longer than :data:`MAX_LINE_BYTES`: a damaged file
(a tail of NUL bytes, one giant cell) is stopped after reading that much of it, in memory
that does not grow with the file, instead of being read whole into one line of text.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from listonosz.contacts.errors import ContactFileError

CHUNK = 1 << 20
#: The longest line (bytes between two line breaks) a contact file may have: a thousand
#: times a long row, and bounded memory for whatever reads the file line by line.
MAX_LINE_BYTES = 1 << 20
ENCODINGS = SUPPORTED = ("utf-8", "utf-8-sig", "utf-16", "cp1250", "iso-8859-2")

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
    aliases = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "utf-16": "utf-16", "cp1250": "cp1250"}
    aliases["iso8859-2"] = "iso-8859-2"
    if found not in aliases:
        raise ValueError(f"unsupported encoding {name!r}; use one of {', '.join(SUPPORTED)}")
    return aliases[found]


def detect_encoding(path: Path, label: str, configured: str | None = None) -> Detected:
    """Read the whole file once, in chunks, and decide how to decode it (or, given a
    ``configured`` encoding, only check the file).

    Raises :class:`ContactFileError` for a binary file (NUL bytes), an empty one, or one with
    a line longer than :data:`MAX_LINE_BYTES` (as soon as it is seen).
    """
    scanner = _Scanner(label, configured)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            scanner.feed(chunk)
    return scanner.result()


class _Scanner:
    """Counts, chunk by chunk, the evidence :func:`detect_encoding` decides on, and checks
    the length of lines."""

    def __init__(self, label: str, configured: str | None = None) -> None:
        self.label = label
        self.configured = configured
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.utf8_ok = True
        self.utf16 = configured == "utf-16"
        self.first = b""
        self.cp1250_letters = self.iso_letters = self.iso_controls = self.undefined = 0
        self.lines = 1  # the number of the line being read
        self.line_bytes = 0  # bytes of it in the chunks before

    def feed(self, chunk: bytes) -> None:
        if not self.first:
            self.first = chunk
            self._first_chunk(chunk)
        self._check_lines(chunk)
        if self.utf16 or self.configured:
            return  # nothing to find out; the reading will tell if it is not so
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

    def _first_chunk(self, chunk: bytes) -> None:
        if chunk.startswith(codecs.BOM_UTF32_LE) or chunk.startswith(codecs.BOM_UTF32_BE):
            raise ContactFileError(
                f"{self.label}: UTF-32 text, which we do not read; save it as CSV UTF-8"
            )
        if self.configured is None and chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self.utf16, self.utf8_ok = True, False
        if not self.utf16 and b"\x00" in chunk[:8192]:
            raise ContactFileError(
                f"{self.label}: looks like a binary file, not CSV text "
                "(save it from the spreadsheet as CSV or .xlsx)"
            )

    def _check_lines(self, chunk: bytes) -> None:
        """Stop at a line longer than :data:`MAX_LINE_BYTES` (a line break is LF or CR)."""
        first = chunk.find(b"\n")
        cr = chunk.find(b"\r", 0, first if first >= 0 else len(chunk))
        if cr >= 0:
            first = cr
        if first < 0:  # the line goes on
            self.line_bytes += len(chunk)
        elif self.line_bytes + first <= MAX_LINE_BYTES:
            self.line_bytes = len(chunk) - 1 - max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
            self.lines += chunk.count(b"\n")
            return
        else:
            self.line_bytes += first
        if self.line_bytes > MAX_LINE_BYTES:
            raise ContactFileError(
                f"{self.label}: line {self.lines} is longer than {MAX_LINE_BYTES >> 20} MiB "
                "without a line break: the file is damaged or not a contact list "
                "(a tail of NUL bytes, one giant cell …); nothing is read from it"
            )

    def result(self) -> Detected:
        if not self.first.strip():
            raise ContactFileError(f"{self.label}: the file is empty")
        if self.utf16:
            return Detected("utf-16", "UTF-16 with BOM")
        if self.configured is not None:
            return Detected(self.configured, "as configured")
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
