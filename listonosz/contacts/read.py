"""Opening a contact file as tables of text: CSV/TSV through pandas' C parser, ``.xlsx`` and
``.ods`` through calamine (``pandas.read_excel(engine="calamine")``).

The kind is told by the file's first bytes, not its name. A CSV file's encoding and delimiter
are detected first (or given); the header is the first of the first rows with an e-mail
column. A sheet without one is skipped with a notice when another sheet has one.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import itertools
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from listonosz.contacts.columns import HEADER_SEARCH_ROWS, locate_header, no_email_column
from listonosz.contacts.encoding import canonical_encoding, detect_encoding
from listonosz.contacts.errors import ContactFileError
from listonosz.contacts.model import Notice

CSV_DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAMPLE_CHARS = 64 * 1024
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 .xls and other old Office files
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


@dataclass(frozen=True, slots=True)
class SourceList:
    """A contact file, the stakeholder group of its people (none: the file has a group column)
    and how to read it: ``encoding``, ``delimiter`` and ``sheet`` (read only that one) override
    detection; ``columns`` maps a field to its header; ``legal_basis`` is for rows that do not
    say."""

    path: Path
    group: str = ""
    label: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    columns: Mapping[str, str] | None = None
    legal_basis: str = ""

    @property
    def name(self) -> str:
        """What reports call the file: its label, or its path."""
        return self.label or str(self.path)


@dataclass
class Table:
    """A CSV file or one sheet, its header found: ``cells`` are its data rows as text (``""``
    when blank), indexed by the row number a spreadsheet shows; ``columns``: index → field."""

    label: str
    header: list[str]
    columns: dict[int, str]
    cells: pd.DataFrame
    details: str = ""  # how it was read (encoding, delimiter), for the report

    @property
    def headers(self) -> dict[str, str]:
        """Field → its header as written in the file."""
        return {name: self.header[index].strip() for index, name in self.columns.items()}

    @property
    def fields(self) -> pd.DataFrame:
        """The recognised columns, named by their field."""
        return self.cells[list(self.columns)].set_axis(list(self.columns.values()), axis=1)


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
        why = "an old Excel 97-2003 (.xls) file; open it and save it as .xlsx or CSV"
        raise ContactFileError(f"{label}: {why}")
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
    if (suffix := path.suffix).lower() in (".xlsx", ".xlsm", ".ods"):
        why = (
            f"the file is not a ZIP archive as {suffix} files are (damaged, or not really {suffix})"
        )
        raise ContactFileError(f"{label}: cannot open as a spreadsheet: {why}")
    return "csv"


def read_tables(source: SourceList, notices: list[Notice] | None = None) -> list[Table]:
    """Every usable table of a contact list; notices (skipped sheets) go to ``notices``."""
    kind = file_kind(source.path, source.name)
    if kind == "csv":
        return [_read_csv(source)]
    return _read_workbook(source, kind, [] if notices is None else notices)


def _read_csv(source: SourceList) -> Table:
    label = source.name
    try:
        configured = canonical_encoding(source.encoding) if source.encoding else None
    except ValueError as exc:
        raise ContactFileError(f"{label}: {exc}") from None
    # Scanned even when configured: a damaged file is stopped before anything parses it.
    detected = detect_encoding(source.path, label, configured)
    encoding = detected.encoding
    with source.path.open(encoding=encoding, errors="replace", newline="") as handle:
        sample = handle.read(SAMPLE_CHARS)
    if not sample.strip():
        raise ContactFileError(f"{label}: the file is empty")
    delimiter = source.delimiter or sniff_delimiter(sample, source.columns)
    if delimiter not in CSV_DELIMITERS:
        raise ContactFileError(f"{label}: unsupported delimiter {delimiter!r}")
    first_rows = _first_rows(sample, delimiter)
    located = locate_header(label, first_rows, source.columns)
    if located is None:
        raise no_email_column(label, first_rows)
    header = first_rows[located.row]
    try:  # every record, blank ones too, so that the index counts records as a spreadsheet does
        width = range(len(header))  # cells past the header's are nobody's: left out
        cells = pd.read_csv(source.path, sep=delimiter, encoding=encoding, engine="c",
                            header=None, names=width, usecols=width, dtype=object,
                            na_filter=False, skip_blank_lines=False)  # fmt: skip
    except pd.errors.ParserError as exc:
        unclosed = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        why = f"row {int(unclosed[1]) + 1}: a quoted cell never ends" if unclosed else str(exc)
        raise ContactFileError(f"{label}: cannot read the CSV ({why})") from None
    except UnicodeDecodeError as exc:
        why = f"not valid {encoding} ({exc.reason} at byte {exc.start} of a block)"
        fix = "set the right encoding for this list or leave it to detection"
        raise ContactFileError(f"{label}: {why}; {fix}") from None
    cells.index += 1
    details = f"CSV, {encoding} ({detected.reason}), delimiter {_DELIMITER_NAMES[delimiter]}"
    return Table(label, header, located.columns, cells.iloc[located.row + 1 :], details)


def sniff_delimiter(sample: str, columns: Mapping[str, str] | None = None) -> str:
    """The delimiter whose reading of the sample gives a header with an e-mail column and the
    most recognised columns, then the most rows as wide as the header; ``,`` if all tie."""
    best, best_score = ",", (-1,)  # type: tuple[str, tuple[int, ...]]
    for delimiter in CSV_DELIMITERS:
        rows = _first_rows(sample, delimiter)
        try:
            located = locate_header("", rows, columns)
        except ContactFileError:  # a mapping that fits another delimiter's reading
            located = None
        header = rows[located.row] if located else (rows[0] if rows else [])
        body = rows[located.row + 1 :] if located else rows[1:]
        consistent = sum(1 for row in body if len(row) == len(header))
        known = len(located.columns) if located else 0
        score = (located is not None, known, len(header) > 1, consistent, len(header))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _first_rows(sample: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    # A sample cut inside a quoted field ends in an error; the rows before it are enough.
    with contextlib.suppress(csv.Error):
        rows.extend(itertools.islice(reader, HEADER_SEARCH_ROWS + 10))
    return rows


def _read_workbook(source: SourceList, kind: str, notices: list[Notice]) -> list[Table]:
    label, wanted = source.name, source.sheet
    what = "Excel workbook" if kind == "xlsx" else "OpenDocument spreadsheet"
    try:
        sheets = pd.read_excel(source.path, sheet_name=None, engine="calamine", header=None,
                               dtype=object)  # fmt: skip
    except Exception as exc:  # calamine raises many kinds for a damaged file
        raise ContactFileError(f"{label}: cannot open as an {what} ({exc})") from None
    if wanted is not None and wanted not in sheets:
        raise ContactFileError(
            f"{label}: no sheet named {wanted!r}; the sheets are {', '.join(sheets)}"
        )
    tables: list[Table] = []
    skipped: list[tuple[str, list[list[str]]]] = []
    found_rows = False
    for name, raw in sheets.items():
        if wanted is not None and name != wanted:
            continue
        label_of_sheet = f"{label}[{name}]"
        cells = raw.fillna("").map(_text).set_axis(range(1, len(raw) + 1))
        first_rows = [_trimmed(row) for row in cells.head(HEADER_SEARCH_ROWS).to_numpy().tolist()]
        if not any(first_rows):
            continue
        found_rows = True
        located = locate_header(label_of_sheet, first_rows, source.columns)
        if located is None:
            skipped.append((label_of_sheet, first_rows))
            continue
        header = first_rows[located.row]
        tables.append(Table(label_of_sheet, header, located.columns,
                            cells.iloc[located.row + 1 :], what))  # fmt: skip
    if not found_rows:
        raise ContactFileError(f"{label}: the workbook is empty")
    if not tables:
        raise no_email_column(*skipped[0])
    for label_of_sheet, first_rows in skipped:
        header = next((row for row in first_rows if row), [])
        message = f"sheet skipped: no e-mail column (header {header!r})"
        notices.append(Notice(label_of_sheet, 0, "", "", message))
    return tables


def _trimmed(row: list[str]) -> list[str]:
    """A sheet's row without its trailing blank cells (a sheet is as wide as its widest row)."""
    return row[: max((i + 1 for i, cell in enumerate(row) if cell.strip()), default=0)]


def _text(value: object) -> str:
    """A cell as staff see it: whole numbers without ``.0``, dates as ISO dates."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, dt.date) else str(value)
