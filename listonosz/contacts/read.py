"""Reading contact lists: CSV in any common encoding and delimiter, and Excel workbooks."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from listonosz.contacts.columns import map_headers
from listonosz.errors import ListonoszError

CSV_DELIMITERS = ",;\t|"
#: Tried in order; cp1250 is what Polish Excel writes, and it decodes any byte we may meet.
ENCODINGS = ("utf-8-sig", "cp1250")


class ContactFileError(ListonoszError, ValueError):
    """A contact file that cannot be read at all; the message names the file and the cause."""


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: where it came from and its recognised fields (canonical name → text)."""

    source: str
    number: int
    fields: dict[str, str]
    headers: dict[str, str]  # canonical name → the header as written in the file


def read_rows(path: Path, label: str | None = None) -> Iterator[Row]:
    """Yield every data row of a contact file; ``label`` names the file in errors and reports."""
    label = label or str(path)
    if not path.is_file():
        raise ContactFileError(f"{label}: no such file")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        yield from _read_xlsx(path, label)
    else:
        yield from _read_csv(path, label)


def decode(data: bytes, label: str) -> tuple[str, str]:
    """Decode file bytes with the first encoding that fits; returns (text, encoding)."""
    if b"\x00" in data[:4096]:
        raise ContactFileError(f"{label}: looks like a binary file, not CSV text")
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ContactFileError(f"{label}: cannot decode as {' or '.join(ENCODINGS)}")


def _read_csv(path: Path, label: str) -> Iterator[Row]:
    text, _encoding = decode(path.read_bytes(), label)
    if not text.strip():
        raise ContactFileError(f"{label}: the file is empty")
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=CSV_DELIMITERS)
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader)
    # Rows are numbered as a spreadsheet shows them (header = 1), so a quoted cell with a line
    # break inside does not shift the numbers of the rows after it.
    yield from _rows(label, header, enumerate(reader, start=2))


def _read_xlsx(path: Path, label: str) -> Iterator[Row]:
    from openpyxl import load_workbook  # imported here: only Excel files need it

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ContactFileError(f"{label}: cannot open as an Excel workbook ({exc})") from None
    try:
        for sheet in workbook.worksheets:
            rows = sheet.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                continue
            numbered = (
                (number, ["" if cell is None else str(cell) for cell in values])
                for number, values in enumerate(rows, start=2)
            )
            yield from _rows(f"{label}[{sheet.title}]", [str(h or "") for h in header], numbered)
    finally:
        workbook.close()


def _rows(
    label: str, header: list[str], numbered: Iterator[tuple[int, list[str]]]
) -> Iterator[Row]:
    columns = map_headers(header)
    if "email" not in columns.values():
        raise ContactFileError(
            f"{label}: no e-mail column; the header is {header!r} "
            "(expected one of E-mail, Adres e-mail, Email …)"
        )
    headers = {name: header[index].strip() for index, name in columns.items()}
    for number, values in numbered:
        if not any(value.strip() for value in values):
            continue
        fields = {
            name: values[index] if index < len(values) else "" for index, name in columns.items()
        }
        yield Row(label, number, fields, headers)
