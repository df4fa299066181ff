"""One table of a contact file (a CSV file, or one sheet of a workbook), header located."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from listonosz.contacts.columns import ColumnMappingError, map_headers
from listonosz.contacts.errors import ContactFileError

#: How far down a sheet we look for the header row (titles and notes often sit above it).
HEADER_SEARCH_ROWS = 10
#: How many rows a chunk holds: rows are read and cleaned a chunk at a time.
CHUNK_ROWS = 4096

#: Consecutive data rows: the number of the first (as a spreadsheet shows it), and the rows.
RowChunk = tuple[int, list[list[str]]]


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read one file; every field left at ``None`` is detected."""

    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    columns: Mapping[str, str] | None = None


@dataclass
class Sheet:
    """A table whose header is found: its columns and its data rows, in numbered chunks."""

    label: str
    header: list[str]
    columns: dict[int, str]  # column index → canonical field
    chunks: Iterator[RowChunk]
    details: str = ""  # how it was read (encoding, delimiter), for the report

    @property
    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """The data rows one at a time, with their numbers."""
        for first, rows in self.chunks:
            yield from enumerate(rows, start=first)

    @property
    def headers(self) -> dict[str, str]:
        """Canonical field → the header as written in the file."""
        return {name: self.header[index].strip() for index, name in self.columns.items()}


def chunked(rows: Iterable[tuple[int, list[str]]]) -> Iterator[RowChunk]:
    """Numbered rows in chunks of up to :data:`CHUNK_ROWS` consecutive ones."""
    chunk: list[list[str]] = []
    first = 0
    for number, row in rows:
        if chunk and (number != first + len(chunk) or len(chunk) == CHUNK_ROWS):
            yield first, chunk
            chunk = []
        if not chunk:
            first = number
        chunk.append(row)
    if chunk:
        yield first, chunk


@dataclass
class Located:
    """Where the header is among the first rows, and what its columns mean."""

    index: int  # position of the header in the rows looked at
    columns: dict[int, str] = field(default_factory=dict)

    @property
    def has_email(self) -> bool:
        return "email" in self.columns.values()


def locate_header(
    label: str, first_rows: list[list[str]], explicit: Mapping[str, str] | None
) -> Located | None:
    """The first of ``first_rows`` with an e-mail column, or None; bad mappings raise.

    With an explicit mapping, the header is the first row that holds every header it names.
    """
    problem: str | None = None
    for index, row in enumerate(first_rows[:HEADER_SEARCH_ROWS]):
        if not any(cell.strip() for cell in row):
            continue
        try:
            columns = map_headers(row, explicit)
        except ColumnMappingError as exc:
            problem = problem or str(exc)
            continue
        if "email" in columns.values():
            return Located(index, columns)
    if problem and explicit:
        raise ContactFileError(f"{label}: {problem}")
    return None


def no_email_column(label: str, first_rows: list[list[str]]) -> ContactFileError:
    """The error for a table none of whose first rows is a header with an e-mail column.

    The header is shown only when it names other columns we know (Imię, Nazwisko …): a row
    that does not is no header, maybe not even a contact list, and is not echoed.
    """
    header = next((row for row in first_rows if any(c.strip() for c in row)), [])
    expected = "expected one of E-mail, Adres e-mail, Email …, or map it with `columns:`"
    if map_headers(header):
        return ContactFileError(f"{label}: no e-mail column; the header is {header!r} ({expected})")
    return ContactFileError(
        f"{label}: no e-mail column, and none of its first rows is a header we know "
        f"(is it a contact list? {expected})"
    )
