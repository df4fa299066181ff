"""Opening a contact file of any kind we support: CSV/TSV text, Excel ``.xlsx``, ``.ods``.

The kind is told by the file's first bytes, not its name, so a CSV saved as ``.xls`` or a
binary file named ``.csv`` gets a clear message instead of garbage.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from listonosz.contacts.csvfile import CSV_DELIMITERS, read_csv
from listonosz.contacts.encoding import ENCODINGS, decode
from listonosz.contacts.errors import ContactFileError
from listonosz.contacts.model import Notice
from listonosz.contacts.sheet import ReadOptions, Sheet
from listonosz.contacts.workbook import read_workbook

__all__ = [
    "CSV_DELIMITERS",
    "ENCODINGS",
    "ContactFileError",
    "ReadOptions",
    "Row",
    "decode",
    "file_kind",
    "read_rows",
    "read_sheets",
]

_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 .xls and other old Office files
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: where it came from and its recognised fields (canonical name → text)."""

    source: str
    number: int
    fields: dict[str, str]
    headers: dict[str, str]  # canonical name → the header as written in the file


def file_kind(path: Path, label: str) -> str:
    """``csv``, ``xlsx`` or ``ods``, from the file's content; unusable files raise."""
    if not path.is_file():
        raise ContactFileError(f"{label}: no such file")
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise ContactFileError(f"{label}: cannot read the file ({exc.strerror})") from None
    if head.startswith(_OLE2):
        raise ContactFileError(
            f"{label}: an old Excel 97-2003 (.xls) file; open it and save it as .xlsx or CSV"
        )
    if head.startswith(_ZIP):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                mimetype = archive.read("mimetype") if "mimetype" in names else b""
        except (zipfile.BadZipFile, OSError) as exc:
            raise ContactFileError(f"{label}: a damaged ZIP archive ({exc})") from None
        if mimetype.strip() == _ODS_MIMETYPE:
            return "ods"
        if "xl/workbook.xml" in names:
            return "xlsx"
        raise ContactFileError(f"{label}: a ZIP archive, but not an .xlsx or .ods spreadsheet")
    if path.suffix.lower() in (".xlsx", ".xlsm", ".ods"):
        raise ContactFileError(
            f"{label}: cannot open as a spreadsheet: the file is not a ZIP archive "
            f"as {path.suffix} files are (damaged, or not really {path.suffix})"
        )
    return "csv"


def read_sheets(
    path: Path,
    label: str | None = None,
    options: ReadOptions | None = None,
    notices: list[Notice] | None = None,
) -> Iterator[Sheet]:
    """Every usable table of a contact file; notices (skipped sheets) go to ``notices``."""
    label = label or str(path)
    options = options or ReadOptions()
    kind = file_kind(path, label)
    if kind == "csv":
        yield read_csv(path, label, options)
    else:
        yield from read_workbook(path, label, kind, options, notices if notices is not None else [])


def read_rows(
    path: Path, label: str | None = None, options: ReadOptions | None = None
) -> Iterator[Row]:
    """Yield every non-blank data row of a contact file with its recognised fields."""
    for sheet in read_sheets(path, label, options):
        headers = sheet.headers
        for number, values in sheet.rows:
            if not any(value.strip() for value in values):
                continue
            fields = {
                name: values[index] if index < len(values) else ""
                for index, name in sheet.columns.items()
            }
            yield Row(sheet.label, number, fields, headers)
