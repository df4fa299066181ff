"""From the cells of one table to clean rows, and the rows we cannot use to rejects.

A column is cleaned one distinct value at a time (``pandas.factorize``), and the results taken
back to every row: a million rows hold a few thousand names, organisations and positions, and
each address is checked once however often it is written.

Every text field is cleaned with :func:`~listonosz.contacts.text.clean_visible` after the
formula guard of our own CSV files is undone (:func:`~listonosz.contacts.csvout.unguard`):
invisible formatting characters (bidirectional controls, zero-width characters, stray BOMs)
are removed, with a warning per cell, and a value longer than :data:`MAX_FIELD_CHARS` costs
the row its place (a reject), as it is no name, organisation or position but a damaged cell.
Rejects and warnings are in the order of rows, each naming the row as a spreadsheet shows it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from listonosz.contacts.csvout import unguard
from listonosz.contacts.emails import EmailChecker
from listonosz.contacts.groups import parse_groups
from listonosz.contacts.legal import BASIS_FLAGS, row_basis
from listonosz.contacts.model import PERSON_FIELDS, Notice, Reject, SourceSummary
from listonosz.contacts.normalise import fix_name_case, parse_gender, split_full_name
from listonosz.contacts.read import Table
from listonosz.contacts.text import clean_visible, invisible_in

#: The longest name, organisation, position or other text field a row may have, in
#: characters after cleaning: longer is a damaged cell, and would reach To names, subjects
#: and bodies. (Poland's longest institution names are about half of it.)
MAX_FIELD_CHARS = 200
#: How many characters of an overlong value a reject shows.
_SHOWN = 60
#: The columns of :attr:`Cleaned.rows`.
ROW_COLUMNS = ("email", *PERSON_FIELDS, "groups", "flags", "source")

T = TypeVar("T")


@dataclass
class Cleaned:
    """What one table gave: its usable rows (:data:`ROW_COLUMNS`: the address, the person's
    fields, groups, legal-basis flags and ``file:row``), its summary, rejects and notices."""

    summary: SourceSummary
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    rejects: list[Reject] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


def _clean_field(raw: str) -> tuple[str, str]:
    return clean_visible(unguard(raw)), invisible_in(raw)


def _clean_name(raw: str) -> tuple[str, str]:
    return fix_name_case(clean_visible(unguard(raw))), invisible_in(raw)


_CLEANERS: dict[str, Callable[[str], tuple[str, str]]] = {
    "first_name": _clean_name,
    "last_name": _clean_name,
    "gender": lambda raw: (parse_gender(raw), invisible_in(raw)),
}


def _split(raw: str) -> tuple[str, str, str, str] | None:
    """A full-name cell → (first name, last name, as shown in a warning, invisible characters)."""
    if not raw.strip():
        return None
    first, last = split_full_name(unguard(raw))
    return fix_name_case(first), fix_name_case(last), f"{first} {last}".strip(), invisible_in(raw)


def _group_cell(cell: str, default: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """A "Grupa" cell → (its groups, or the list's; a warning about names we do not know)."""
    if not cell.strip():
        return default, ""
    known, unknown = parse_groups(cell)
    if not unknown:
        return known or default, ""
    names = ", ".join(repr(name) for name in unknown)
    return known or default, f"unknown stakeholder group {names}; the list's group, if any, is used"


def _removed(what: str) -> str:
    return f"removed invisible formatting characters: {what}"


def _distinct(function: Callable[..., T], *columns: np.ndarray) -> tuple[np.ndarray, list[T]]:
    """A code for each row, and ``function(*cells)`` for each code: called once for each
    distinct combination of cells, however many rows share it."""
    if len(columns) == 1:
        codes, uniques = pd.factorize(columns[0])
        return codes, list(map(function, uniques))
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(column)
        key = key * len(uniques) + codes
    codes, uniques = pd.factorize(key)
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # the first row of each code
    return codes, [function(*(column[i] for column in columns)) for i in first]


def _taken(codes: np.ndarray, values: Sequence[object]) -> np.ndarray:
    """Each row's value: ``values`` are by code."""
    taken: np.ndarray = np.fromiter(values, dtype=object, count=len(values))[codes]
    return taken


def _flags(codes: np.ndarray, results: Iterable[object]) -> np.ndarray:
    """Whether each row's result (one for each code) is true."""
    flags: np.ndarray = np.fromiter(map(bool, results), dtype=bool)[codes]
    return flags


def clean_table(table: Table, group: str, legal_basis: str, emails: EmailChecker) -> Cleaned:
    """The usable rows of ``table`` for a list of ``group`` whose default basis is
    ``legal_basis``; the others as rejects (a blank row is neither)."""
    label, headers, cells = table.label, table.headers, table.cells
    column = {name: cells[index].to_numpy() for index, name in table.columns.items()}
    numbers, count = cells.index.to_numpy(), len(cells)
    out = Cleaned(SourceSummary(label, table.details))
    found: list[tuple[int, int, Any]] = []  # (row, order within the row, a Reject or Notice)

    def notice(i: int, order: int, name: str, value: str, message: str) -> None:
        found.append((i, order, Notice(label, int(numbers[i]), headers[name], value, message)))

    def reject(i: int, name: str, value: str, reason: str) -> None:
        found.append((i, -1, Reject(label, int(numbers[i]), headers.get(name, ""), value, reason)))

    # The address: a row is counted unless blank, and goes on only with a usable address.
    codes, raw = _distinct(unguard, column["email"])
    checked = list(map(emails.verdict, raw))
    address = _taken(codes, [found for found, _ in checked])
    valid = pd.notna(address)
    bad = np.flatnonzero(~valid)
    blank = np.ones(len(bad), dtype=bool)
    for index in range(cells.shape[1]):
        blank &= cells.iloc[bad, index].str.strip().eq("").to_numpy(dtype=bool)
    for i in bad[~blank].tolist():
        reject(i, "email", raw[codes[i]], checked[codes[i]][1] or "")
    out.summary.rows = int(valid.sum()) + int((~blank).sum())
    for i in np.flatnonzero(valid & _flags(codes, (note for _, note in checked))).tolist():
        notice(i, 0, "email", raw[codes[i]], checked[codes[i]][1] or "")

    values: dict[str, np.ndarray] = {}
    long = np.zeros((count, len(PERSON_FIELDS)), dtype=bool)  # too long, field by field
    dirty: dict[str, tuple[np.ndarray, list[tuple[str, str]]]] = {}  # invisible characters
    for k, name in enumerate(PERSON_FIELDS):
        if name not in column:
            values[name] = np.full(count, "", dtype=object)
            continue
        codes, done = _distinct(_CLEANERS.get(name, _clean_field), column[name])
        values[name] = _taken(codes, [value for value, _ in done])
        long[:, k] = _flags(codes, (len(value) > MAX_FIELD_CHARS for value, _ in done))
        if any(what for _, what in done):
            dirty[name] = (codes, done)
    split = np.zeros(count, dtype=bool)
    if "full_name" in column:  # names from a full-name column, for rows without first and last
        codes, parts = _distinct(_split, column["full_name"])
        split = valid & _flags(codes, parts) & (values["first_name"] == "")
        split &= values["last_name"] == ""
        for i in np.flatnonzero(split).tolist():
            first, last, shown, what = parts[codes[i]] or ("", "", "", "")
            values["first_name"][i], values["last_name"][i] = first, last
            long[i, :2] = len(first) > MAX_FIELD_CHARS, len(last) > MAX_FIELD_CHARS
            if what:
                notice(i, 1, "full_name", shown, _removed(what))

    default_groups = (group,) if group else ()
    has_group = np.full(count, bool(group))
    if "group" in column:
        codes, parsed = _distinct(lambda cell: _group_cell(cell, default_groups), column["group"])
        groups = _taken(codes, [chosen for chosen, _ in parsed])
        has_group = _flags(codes, (chosen for chosen, _ in parsed))
        for i in np.flatnonzero(valid & _flags(codes, (message for _, message in parsed))).tolist():
            notice(i, 2, "group", column["group"][i], parsed[codes[i]][1])
    else:
        groups = np.fromiter(itertools.repeat(default_groups, count), dtype=object, count=count)
    default = BASIS_FLAGS.get(legal_basis, 0)
    flags = np.full(count, default)
    if "legal_basis" in column or "consent" in column:
        blanks = np.full(count, "", dtype=object)
        cells_of = column.get("legal_basis", blanks), column.get("consent", blanks)
        codes, bases = _distinct(lambda b, c: row_basis(b, c, default), *cells_of)
        flags = np.array([flag for flag, _ in bases], dtype=np.int64)[codes]
        unclear = _flags(codes, (unclear for _, unclear in bases))
        for i in np.flatnonzero(valid & unclear).tolist():
            for k, (name, value, message) in enumerate(bases[codes[i]][1]):
                notice(i, 3 + k, name, value, message)

    keep = valid & has_group
    for i in np.flatnonzero(valid & ~keep).tolist():
        reject(
            i, "group", "", "no stakeholder group: the row names none and the list has no default"
        )
    for i in np.flatnonzero(keep & long.any(axis=1)).tolist():
        name = PERSON_FIELDS[int(long[i].argmax())]
        value = values[name][i]
        header = "full_name" if split[i] and name in ("first_name", "last_name") else name
        reason = (
            f"{name} is {len(value)} characters long; at most {MAX_FIELD_CHARS} are "
            "accepted (a damaged cell?)"
        )
        reject(i, header, f"{value[:_SHOWN]}… ({len(value)} characters)", reason)
        keep[i] = False
    for name, (codes, done) in dirty.items():
        order = 5 + PERSON_FIELDS.index(name)
        for i in np.flatnonzero(keep & _flags(codes, (what for _, what in done))).tolist():
            notice(i, order, name, values[name][i], _removed(done[codes[i]][1]))

    found.sort(key=lambda item: item[:2])
    out.rejects = [item for _, order, item in found if order < 0]
    out.notices = [item for _, order, item in found if order >= 0]
    out.summary.rejected = len(out.rejects)
    if not out.summary.rows:
        out.notices.append(
            Notice(label, 0, "", "", "a header and no rows: nobody is added from this list")
        )
    rows = {"email": address[keep], **{name: values[name][keep] for name in PERSON_FIELDS}}
    rows |= {"groups": groups[keep], "flags": flags[keep]}
    rows["source"] = [f"{label}:{number}" for number in numbers[keep]]
    out.rows = pd.DataFrame(rows, columns=ROW_COLUMNS, dtype=object)  # no copy to Arrow strings
    return out
