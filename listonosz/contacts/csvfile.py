"""Reading a CSV/TSV contact file as a stream: encoding and delimiter detected or given."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
from collections.abc import Iterator
from pathlib import Path

from listonosz.contacts.encoding import canonical_encoding, detect_encoding
from listonosz.contacts.errors import ContactFileError
from listonosz.contacts.sheet import (
    CHUNK_ROWS,
    HEADER_SEARCH_ROWS,
    ReadOptions,
    RowChunk,
    Sheet,
    locate_header,
)
from listonosz.contacts.sheet import no_email_column as _no_email_column

CSV_DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAMPLE_CHARS = 64 * 1024


def read_csv(path: Path, label: str, options: ReadOptions) -> Sheet:
    """Open a CSV file, find its header, and stream its rows (numbered as a spreadsheet)."""
    configured = None
    if options.encoding:
        try:
            configured = canonical_encoding(options.encoding)
        except ValueError as exc:
            raise ContactFileError(f"{label}: {exc}") from None
    # Read the whole file once first, whether or not the encoding is configured: it stops a
    # damaged file before anything reads a line of it (see detect_encoding).
    detected = detect_encoding(path, label, configured)
    encoding, how = detected.encoding, f"{detected.encoding} ({detected.reason})"
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        sample = handle.read(SAMPLE_CHARS)
    if not sample.strip():
        raise ContactFileError(f"{label}: the file is empty")
    delimiter = options.delimiter or sniff_delimiter(sample, options)
    if delimiter not in CSV_DELIMITERS:
        raise ContactFileError(f"{label}: unsupported delimiter {delimiter!r}")
    first_rows = _first_rows(sample, delimiter)
    located = locate_header(label, first_rows, options.columns)
    if located is None:
        raise _no_email_column(label, first_rows)
    header = first_rows[located.index]
    details = f"CSV, {how}, delimiter {_DELIMITER_NAMES[delimiter]}"
    chunks = _chunks(path, label, encoding, delimiter, skip=located.index + 1)
    return Sheet(label, header, located.columns, chunks, details)


def sniff_delimiter(sample: str, options: ReadOptions | None = None) -> str:
    """The delimiter whose reading of the sample gives a header with an e-mail column and the
    most recognised columns, then the most rows as wide as the header; ``,`` if all tie."""
    best = ","
    best_score: tuple[int, ...] = (-1,)
    for delimiter in CSV_DELIMITERS:
        rows = _first_rows(sample, delimiter)
        try:
            located = locate_header("", rows, options.columns if options else None)
        except ContactFileError:  # a mapping that fits another delimiter's reading
            located = None
        header = rows[located.index] if located else (rows[0] if rows else [])
        body = rows[located.index + 1 :] if located else rows[1:]
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


def _chunks(path: Path, label: str, encoding: str, delimiter: str, skip: int) -> Iterator[RowChunk]:
    """The records after the first ``skip``, a chunk at a time (numbered by record, so a quoted
    field with line breaks does not shift the numbers)."""
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        number = skip + 1
        try:
            for _ in itertools.islice(reader, skip):
                pass
            while rows := list(itertools.islice(reader, CHUNK_ROWS)):
                yield number, rows
                number += len(rows)
        except csv.Error as exc:
            raise ContactFileError(
                f"{label}: line {reader.line_num}: cannot read the CSV ({exc})"
            ) from None
        except UnicodeDecodeError as exc:
            raise ContactFileError(
                f"{label}: not valid {encoding} (byte {exc.start} of a block near line "
                f"{reader.line_num}); set the right encoding for this list or leave it to "
                "detection"
            ) from None
