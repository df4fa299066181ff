"""Writing CSV that is safe to open in a spreadsheet: no formulas, no line breaks in cells."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from listonosz.contacts.model import Contact
from listonosz.paths import private_dir, private_opener

#: A cell starting with one of these is run as a formula by Excel or LibreOffice.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")

#: The merged audience file: one row per person.
CONTACT_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "organisation",
    "position",
    "gender",
    "groups",
    "legal_basis",
    "phone",
    "county",
    "municipality",
    "salutation",
    "sources",
)


def neutralise(value: object) -> str:
    """A cell's text with line breaks made spaces and a leading formula character quoted.

    ``=HYPERLINK(…)`` becomes ``'=HYPERLINK(…)``: shown as text, never run (OWASP advice).
    """
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return _LINE_BREAKS.sub(" ", text)


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
    return [
        contact.email,
        contact.first_name,
        contact.last_name,
        contact.organisation,
        contact.position,
        contact.gender,
        ";".join(contact.groups),
        contact.legal_basis,
        contact.phone,
        contact.county,
        contact.municipality,
        contact.salutation,
        ";".join(contact.sources),
    ]


def write_contacts(contacts: Iterable[Contact], path: Path, **options: str) -> int:
    """Write the merged audience, one row per person."""
    return write_csv(path, CONTACT_COLUMNS, map(contact_row, contacts), **options)
