"""Reading workbooks: Excel ``.xlsx`` (streamed) and OpenDocument ``.ods``, every sheet or one.

A sheet without an e-mail column is skipped with a notice when another sheet has one; a
workbook where no sheet has one, or with no rows at all, is an error.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from listonosz.contacts.errors import ContactFileError
from listonosz.contacts.model import Notice
from listonosz.contacts.sheet import (
    HEADER_SEARCH_ROWS,
    ReadOptions,
    Sheet,
    chunked,
    locate_header,
    no_email_column,
)

#: ODS files are parsed whole (odfpy has no streaming reader); past this, ask for CSV/XLSX.
ODS_MAX_CONTENT_BYTES = 64 * 1024 * 1024

RawSheet = tuple[str, Iterator[list[object]]]


def read_workbook(
    path: Path, label: str, kind: str, options: ReadOptions, notices: list[Notice]
) -> Iterator[Sheet]:
    """Yield each usable sheet of an ``xlsx`` or ``ods`` workbook (``kind``)."""
    raw = _xlsx_sheets(path, label) if kind == "xlsx" else _ods_sheets(path, label)
    found_rows = found_email = False
    skipped: list[tuple[str, list[list[str]]]] = []
    names: list[str] = []
    for name, rows in raw:
        names.append(name)
        if options.sheet is not None and name != options.sheet:
            continue
        sheet_label = f"{label}[{name}]"
        numbered = ((n, [_text(v) for v in values]) for n, values in enumerate(rows, start=1))
        first = _take(numbered, HEADER_SEARCH_ROWS)
        if not any(any(cell.strip() for cell in values) for _, values in first):
            continue
        found_rows = True
        first_rows = [values for _, values in first]
        located = locate_header(sheet_label, first_rows, options.columns)
        if located is None:
            skipped.append((sheet_label, first_rows))
            continue
        found_email = True
        data = _chain(first[located.index + 1 :], numbered)
        what = "Excel workbook" if kind == "xlsx" else "OpenDocument spreadsheet"
        yield Sheet(sheet_label, first_rows[located.index], located.columns, chunked(data), what)
    if options.sheet is not None and options.sheet not in names:
        raise ContactFileError(
            f"{label}: no sheet named {options.sheet!r}; the sheets are {', '.join(names)}"
        )
    if not found_rows:
        raise ContactFileError(f"{label}: the workbook is empty")
    if not found_email:
        raise no_email_column(*skipped[0])
    for sheet_label, first_rows in skipped:
        header = next((row for row in first_rows if any(c.strip() for c in row)), [])
        notices.append(
            Notice(sheet_label, 0, "", "", f"sheet skipped: no e-mail column (header {header!r})")
        )


def _take(rows: Iterator[tuple[int, list[str]]], count: int) -> list[tuple[int, list[str]]]:
    taken = []
    for item in rows:
        taken.append(item)
        if len(taken) == count:
            break
    return taken


def _chain(
    first: list[tuple[int, list[str]]], rest: Iterator[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    yield from first
    yield from rest


def _text(value: object) -> str:
    """A cell as staff see it: whole numbers without ``.0``, dates as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _xlsx_sheets(path: Path, label: str) -> Iterator[RawSheet]:
    from openpyxl import load_workbook  # imported here: only Excel files need it

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ContactFileError(f"{label}: cannot open as an Excel workbook ({exc})") from None
    try:
        for sheet in workbook.worksheets:
            yield sheet.title, (list(values) for values in sheet.iter_rows(values_only=True))
    finally:
        workbook.close()


def _ods_sheets(path: Path, label: str) -> Iterator[RawSheet]:
    from odf import teletype  # imported here: only OpenDocument files need odfpy
    from odf.opendocument import load
    from odf.table import Table, TableRow
    from odf.text import P

    try:
        with zipfile.ZipFile(path) as archive:
            size = archive.getinfo("content.xml").file_size
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ContactFileError(
            f"{label}: cannot open as an OpenDocument spreadsheet ({exc})"
        ) from None
    if size > ODS_MAX_CONTENT_BYTES:
        raise ContactFileError(
            f"{label}: too large to read as .ods ({size // 2**20} MB of XML); "
            "save it as .xlsx or CSV, which are read as a stream"
        )
    try:
        document = load(str(path))
    except Exception as exc:  # odfpy raises many kinds for a damaged file
        raise ContactFileError(
            f"{label}: cannot open as an OpenDocument spreadsheet ({exc})"
        ) from None

    # odfpy's elements are untyped (Any).
    def cells(row: Any) -> list[object]:
        values: list[object] = []
        pending_empty = 0
        for cell in row.childNodes:
            if cell.qname[1] not in ("table-cell", "covered-table-cell"):
                continue
            repeat = int(cell.getAttribute("numbercolumnsrepeated") or 1)
            text = "\n".join(teletype.extractText(p) for p in cell.getElementsByType(P))
            if text:
                values.extend([""] * pending_empty + [text] * repeat)
                pending_empty = 0
            else:
                pending_empty += repeat  # trailing empties (often ~1000 of them) are dropped
        return values

    def rows(table: Any) -> Iterable[list[object]]:
        pending_empty = 0
        for row in table.getElementsByType(TableRow):
            repeat = int(row.getAttribute("numberrowsrepeated") or 1)
            values = cells(row)
            if not values:
                pending_empty += repeat  # a million trailing empty rows cost nothing
                continue
            for _ in range(pending_empty):
                yield []
            pending_empty = 0
            for _ in range(repeat):
                yield list(values)

    for table in document.spreadsheet.getElementsByType(Table):
        yield table.getAttribute("name"), iter(rows(table))
