"""Writing CSV that is safe to open in a spreadsheet (pandas' writer): no formulas, no line
breaks in cells.

The formula guard (OWASP's advice) writes ``=HYPERLINK(…)`` as ``'=HYPERLINK(…)``. Addresses
need it too (``-2+3+cmd|' /C calc'!A0@example.pl`` is valid), so it is reversible and every
reader of ours undoes it (:func:`unguard`): a cell starting with apostrophes then a formula
character gets one more apostrophe written and loses one read; ``'=x`` is written ``''=x``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

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
    """A cell's text with line breaks made spaces and a leading formula character quoted
    (``=HYPERLINK(…)`` → ``'=HYPERLINK(…)``, shown as text, never run)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) or (text[:1] == "'" and _GUARDED.match(text)):
        text = "'" + text
    return _LINE_BREAKS.sub(" ", text)


def unguard(text: str) -> str:
    """Undo the formula guard of :func:`neutralise`: ``'-x@example.pl`` → ``-x@example.pl``.

    Elsewhere an apostrophe is text (``O'Brien``). A spreadsheet never keeps a leading
    apostrophe in a cell's value (it only marks text typed in), so undoing the guard on every
    list we read, not only on our own files, loses nothing.
    """
    return text[1:] if text[:1] == "'" and _GUARDED.match(text) else text


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    delimiter: str = ";",
    encoding: str = "utf-8-sig",
) -> int:
    """Write neutralised rows under a header, readable by its owner only (it holds addresses);
    returns how many rows. The defaults (UTF-8 with BOM, semicolons) open right in Polish
    Excel. Missing parent folders are made."""
    private_dir(path.parent)
    frame = pd.DataFrame(list(rows), columns=range(len(header)), dtype=object).map(neutralise)
    frame.columns = pd.Index([neutralise(name) for name in header], dtype=object)
    with open(
        path, "w", encoding=encoding, errors="replace", newline="", opener=private_opener
    ) as out:
        frame.to_csv(out, sep=delimiter, index=False, lineterminator="\r\n")
    return len(frame)


def contact_row(contact: Contact) -> list[str]:
    """One person as a row of :data:`CONTACT_COLUMNS` (groups and sources joined with ``;``)."""
    values = (getattr(contact, name) for name in CONTACT_COLUMNS)
    return [";".join(value) if isinstance(value, tuple) else value for value in values]


def write_contacts(contacts: Iterable[Contact], path: Path, **options: str) -> int:
    """Write the merged audience, one row per person."""
    return write_csv(path, CONTACT_COLUMNS, map(contact_row, contacts), **options)
