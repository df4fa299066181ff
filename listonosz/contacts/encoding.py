"""Telling how a text file is encoded: UTF-8 (with or without BOM), UTF-16 with BOM (Excel's
"Unicode text"), cp1250 or ISO-8859-2; and refusing, early, a file no contact list can be.

cp1250 (Polish Windows and Excel) and ISO-8859-2 differ on ą Ą ś Ś ź Ź: each puts them on
bytes that, read the other way, are symbols or control characters. So we count those bytes
over the whole file and take the encoding with more letters. The same pass, in bounded memory,
stops a damaged file at a line longer than :data:`MAX_LINE_BYTES` (a tail of NUL bytes …).
"""

from __future__ import annotations

import codecs
import contextlib
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
_COUNTED = {"cp1250": _CP1250_LETTERS, "iso": _ISO_LETTERS, "controls": _ISO_CONTROLS,
            "undefined": _CP1250_UNDEFINED}  # fmt: skip


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
    found = "iso-8859-2" if found == "iso8859-2" else found  # Python's name → the usual one
    if found not in SUPPORTED:
        raise ValueError(f"unsupported encoding {name!r}; use one of {', '.join(SUPPORTED)}")
    return found


def detect_encoding(path: Path, label: str, configured: str | None = None) -> Detected:
    """Read the whole file once, in chunks, and decide how to decode it (given a ``configured``
    encoding, only check it). A binary file (NUL bytes), an empty one, or a line longer than
    :data:`MAX_LINE_BYTES` (as soon as it is seen) raise :class:`ContactFileError`."""
    utf8, utf8_ok, utf16 = codecs.getincrementaldecoder("utf-8")(), True, configured == "utf-16"
    first, lines, line_bytes = b"", 1, 0  # line_bytes: of the line being read, in chunks before
    counts = dict.fromkeys(("cp1250", "iso", "controls", "undefined"), 0)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            if not first:
                first = chunk
                if chunk.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
                    why = "UTF-32 text, which we do not read; save it as CSV UTF-8"
                    raise ContactFileError(f"{label}: {why}")
                if configured is None and chunk.startswith(
                    (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
                ):
                    utf16, utf8_ok = True, False
                if not utf16 and b"\x00" in chunk[:8192]:
                    why = "save it from the spreadsheet as CSV or .xlsx"
                    raise ContactFileError(
                        f"{label}: looks like a binary file, not CSV text ({why})"
                    )
            # A line break is LF or CR: the first one ends the line the chunks before began.
            breaks = [at for at in (chunk.find(b"\n"), chunk.find(b"\r")) if at >= 0]
            line_bytes += min(breaks) if breaks else len(chunk)
            if line_bytes > MAX_LINE_BYTES:
                raise ContactFileError(
                    f"{label}: line {lines} is longer than {MAX_LINE_BYTES >> 20} MiB without a "
                    "line break: the file is damaged or not a contact list (a tail of NUL bytes, "
                    "one giant cell …); nothing is read from it"
                )
            if breaks:
                line_bytes = len(chunk) - 1 - max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
                lines += chunk.count(b"\n")
            if utf16 or configured:
                continue  # nothing to find out; the reading will tell if it is not so
            if utf8_ok:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
            if not utf8_ok:
                high = chunk.translate(None, _ASCII)
                for name, letters in _COUNTED.items():
                    counts[name] += sum(map(high.count, letters))
    if not first.strip():
        raise ContactFileError(f"{label}: the file is empty")
    if utf16:
        return Detected("utf-16", "UTF-16 with BOM")
    if configured is not None:
        return Detected(configured, "as configured")
    with contextlib.suppress(UnicodeDecodeError):  # a character cut off at the end: not UTF-8
        if utf8_ok and not utf8.decode(b"", final=True):
            bom = first.startswith(codecs.BOM_UTF8)
            return (
                Detected("utf-8-sig", "UTF-8 with BOM") if bom else Detected("utf-8", "valid UTF-8")
            )
    if counts["undefined"] or counts["iso"] > counts["cp1250"] + counts["controls"]:
        return Detected(
            "iso-8859-2", f"not UTF-8; {counts['iso']} ą/ś/ź letters read as ISO-8859-2"
        )
    return Detected("cp1250", f"not UTF-8; {counts['cp1250']} ą/ś/ź letters read as cp1250")
