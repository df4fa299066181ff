"""Writing CSV that is safe to open in a spreadsheet: no formulas, no line breaks in cells.

The formula guard (OWASP's advice) puts an apostrophe before a cell that a spreadsheet would
run as a formula: ``=HYPERLINK(…)`` is written ``'=HYPERLINK(…)``. It cannot simply leave
addresses alone: ``-2+3+cmd|' /C calc'!A0@example.pl`` is a valid address and a formula. So
the guard is made reversible instead, and every reader of ours undoes it
(:func:`unguard`): a cell that starts with apostrophes followed by a formula character gets
one more apostrophe when written and loses one when read. The other apostrophes stay, so
``'=x`` (a value that really starts with an apostrophe) is written ``''=x`` and read back as
``'=x``: what we write reads back as exactly the value we had.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from listonosz.contacts.model import Contact
from listonosz.paths import private_dir, private_opener

#: A cell starting with one of these is run as a formula by Excel or LibreOffice.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A cell the guard changed: apostrophes, then a formula character.
_GUARDED = re.compile(r"'+[=+\-@\t\r]")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")

#: The merged audience file: one row per person.
# fmt: off
CONTACT_COLUMNS = (
    "email", "first_name", "last_name", "organisation", "position", "gender", "groups",
    "legal_basis", "phone", "county", "municipality", "salutation", "sources",
)
# fmt: on


def neutralise(value: object) -> str:
    """A cell's text with line breaks made spaces and a leading formula character quoted.

    ``=HYPERLINK(…)`` becomes ``'=HYPERLINK(…)``: shown as text, never run. A cell that
    already starts with apostrophes before a formula character gets one more, so that
    :func:`unguard` gives it back as it was.
    """
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) or (text[:1] == "'" and _GUARDED.match(text)):
        text = "'" + text
    return _LINE_BREAKS.sub(" ", text)


def unguard(text: str) -> str:
    """Undo the formula guard of :func:`neutralise`: ``'-x@example.pl`` → ``-x@example.pl``.

    Only an apostrophe before (apostrophes and) a formula character is taken away: elsewhere
    an apostrophe is text (``O'Brien``, ``'s-Hertogenbosch``). Spreadsheets never keep such
    an apostrophe in a cell's value (it only marks text typed in), so undoing it on every
    list we read, not only on our own files, loses nothing.
    """
    if text[:1] == "'" and _GUARDED.match(text):
        return text[1:]
    return text


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    delimiter: str = ";",
    encoding: str = "utf-8-sig",
) -> int:
    """Write neutralised rows under a header; returns how many rows were written.

    The defaults (UTF-8 with BOM, semicolons) open correctly in Polish Excel. Missing parent
    folders are created.
    """
    private_dir(path.parent)
    count = 0
    # Contacts and reports hold addresses: the file is readable by its owner only.
    with open(
        path, "w", encoding=encoding, errors="replace", newline="", opener=private_opener
    ) as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow([neutralise(name) for name in header])
        for row in rows:
            writer.writerow([neutralise(value) for value in row])
            count += 1
    return count


def contact_row(contact: Contact) -> list[str]:
    """One person as a row of :data:`CONTACT_COLUMNS` (groups and sources joined with ``;``)."""
    values = (getattr(contact, name) for name in CONTACT_COLUMNS)
    return [";".join(value) if isinstance(value, tuple) else value for value in values]


def write_contacts(contacts: Iterable[Contact], path: Path, **options: str) -> int:
    """Write the merged audience, one row per person."""
    return write_csv(path, CONTACT_COLUMNS, map(contact_row, contacts), **options)
