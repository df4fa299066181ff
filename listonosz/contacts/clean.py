"""From the cells of one table to clean rows, and the rows we cannot use to rejects.

A column is cleaned one distinct value at a time (``pandas.factorize``), and the results taken
back to every row: a million rows hold a few thousand names, organisations and positions, and
each address is checked once however often it is written. A column a list lacks is a blank one.

Every text field is cleaned with :func:`~listonosz.contacts.text.clean_visible` after the
formula guard of our own CSV files is undone (:func:`~listonosz.contacts.csvout.unguard`):
invisible formatting characters (bidirectional controls, zero-width characters, stray BOMs)
are removed, with a warning per cell, and a value longer than :data:`MAX_FIELD_CHARS` costs
the row its place (a reject), as it is no name, organisation or position but a damaged cell.
Rejects and warnings come in the order of rows, each naming the row as a spreadsheet shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from listonosz.contacts.columns import FIELDS
from listonosz.contacts.csvout import unguard
from listonosz.contacts.emails import EmailChecker
from listonosz.contacts.groups import parse_groups
from listonosz.contacts.legal import BASIS_FLAGS, row_basis
from listonosz.contacts.model import PERSON_FIELDS, MergeResult, Notice, Reject, SourceSummary
from listonosz.contacts.normalise import fix_name_case, parse_gender, split_full_name
from listonosz.contacts.read import SourceList, Table
from listonosz.contacts.text import clean_visible, invisible_in

#: The longest name, organisation, position or other text field a row may have, in
#: characters after cleaning: longer is a damaged cell, and would reach To names, subjects
#: and bodies. (Poland's longest institution names are about half of it.)
MAX_FIELD_CHARS = 200
#: How many characters of an overlong value a reject shows.
_SHOWN = 60
_NO_GROUP = "no stakeholder group: the row names none and the list has no default"

T = TypeVar("T")


def _cleaner(fix: Callable[[str], str]) -> Callable[[str], tuple[str, str]]:
    """A cell → (its text cleaned and fixed, the invisible characters it had)."""
    return lambda raw: (fix(clean_visible(unguard(raw))), invisible_in(raw))


_CLEANERS = {
    "first_name": _cleaner(fix_name_case),
    "last_name": _cleaner(fix_name_case),
    "gender": lambda raw: (parse_gender(raw), invisible_in(raw)),
}


def _split(raw: str) -> tuple[str, str, str, str] | None:
    """A full-name cell → (first name, last name, as shown in a warning, invisible characters)."""
    if not raw.strip():
        return None
    first, last = split_full_name(unguard(raw))
    return fix_name_case(first), fix_name_case(last), f"{first} {last}".strip(), invisible_in(raw)


def _groups(cell: str, default: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """A "Grupa" cell → (its groups, or the list's; a warning about names we do not know)."""
    known, unknown = parse_groups(cell)
    names = ", ".join(repr(name) for name in unknown)
    warning = f"unknown stakeholder group {names}; the list's group, if any, is used"
    return known or default, warning if unknown else ""


def _removed(what: str) -> str:
    return f"removed invisible formatting characters: {what}"


def _distinct(function: Callable[..., T], *columns: np.ndarray) -> tuple[np.ndarray, list[T]]:
    """A code for each row, and ``function(*cells)`` for each code: called once for each
    distinct combination of cells, however many rows share it."""
    if len(columns) == 1:
        codes, uniques = pd.factorize(columns[0])
        return codes, list(map(function, uniques))
    codes, combinations = pd.MultiIndex.from_arrays(columns).factorize()
    return codes, [function(*cells) for cells in combinations]


def _taken(codes: np.ndarray, values: Iterable[object], dtype: type = object) -> np.ndarray:
    """Each row's value (``values`` are by code)."""
    taken: np.ndarray = np.fromiter(values, dtype=dtype)[codes]
    return taken


@dataclass
class Addresses:
    """The address cells of all the tables, each distinct one checked once. By code: the cell
    with the formula guard undone, the person it is (their place among the usable addresses,
    sorted; -1: none) and email-validator's warning or reason. Each table's codes, and the
    usable addresses, sorted."""

    written: np.ndarray
    person: np.ndarray
    note: np.ndarray
    codes: list[np.ndarray]
    emails: list[str]

    @classmethod
    def check(cls, tables: list[Table], emails: EmailChecker) -> Addresses:
        cells = [table.fields["email"].to_numpy() for table in tables]
        codes, written = pd.factorize(np.concatenate(cells) if cells else np.array([], object))
        guarded = np.flatnonzero(pd.Series(written, dtype=object).str.startswith("'"))
        written[guarded] = [unguard(cell) for cell in written[guarded]]
        address, note = emails.verdicts(written.tolist())
        people = pc.dictionary_encode(pa.array(address, pa.string()))  # None: nobody
        order = pc.sort_indices(people.dictionary).to_numpy()
        rank = np.full(len(order) + 1, -1)  # the last is for nobody
        rank[order] = np.arange(len(order))
        person = rank[pc.fill_null(people.indices, len(order)).to_numpy()]
        ends = np.cumsum([len(column) for column in cells])[:-1]
        in_order = people.dictionary.take(order).to_pylist()
        del people
        pa.default_memory_pool().release_unused()  # Arrow's buffers go back to the system now
        notes = np.array(note, dtype=object)
        return cls(written, person, notes, np.split(codes, ends), in_order)


def clean_table(
    table: Table, source: SourceList, addresses: Addresses, codes: np.ndarray, result: MergeResult
) -> pd.DataFrame:
    """The usable rows of ``table`` of ``source`` (the person, the fields the table has, groups,
    legal-basis flags and ``file:row``) for the merge; its address cells are ``addresses``'
    ``codes``. Its rejects, warnings and summary go to ``result``. A blank row is neither used
    nor rejected nor counted."""
    fields, numbers, label, headers = table.fields, table.cells.index, table.label, table.headers
    blank = np.full(len(numbers), "", dtype=object)
    column = {name: fields[name].to_numpy() if name in fields else blank for name in FIELDS}
    found: list[tuple[int, int, Reject | Notice]] = []  # (row, order within it, what)

    def add(i: int, order: int, name: str, value: str, reason: str) -> None:
        """A reject (``order`` < 0) or a warning about row ``i``'s cell of ``name``."""
        kind = Reject if order < 0 else Notice
        found.append((i, order, kind(label, int(numbers[i]), headers.get(name, ""), value, reason)))

    written, note, person = addresses.written, addresses.note, addresses.person[codes]
    valid = person >= 0
    counted = valid.copy()  # every row but the blank ones
    bad = np.flatnonzero(~valid)
    counted[bad] = (table.cells.iloc[bad].map(str.strip) != "").any(axis=1).to_numpy(dtype=bool)
    for i in np.flatnonzero(counted & ~valid | valid & pd.notna(note[codes])).tolist():
        add(i, 0 if valid[i] else -1, "email", written[codes[i]], note[codes[i]] or "")

    values, long, invisible = {}, {}, {}
    for name in PERSON_FIELDS:
        done = _distinct(_CLEANERS.get(name, _cleaner(str)), column[name])
        values[name] = _taken(done[0], (value for value, _ in done[1]))
        long[name] = _taken(done[0], (len(value) > MAX_FIELD_CHARS for value, _ in done[1]), bool)
        invisible[name] = _taken(done[0], (what for _, what in done[1]))
    at, parts = _distinct(_split, column["full_name"])  # for rows without first and last
    unnamed = (values["first_name"] == "") & (values["last_name"] == "")
    split = valid & unnamed & _taken(at, map(bool, parts), bool)
    for i in np.flatnonzero(split).tolist():
        first, last, shown, what = parts[at[i]] or ("", "", "", "")
        values["first_name"][i], values["last_name"][i] = first, last
        long["first_name"][i], long["last_name"][i] = (
            len(first) > MAX_FIELD_CHARS, len(last) > MAX_FIELD_CHARS)  # fmt: skip
        if what:
            add(i, 1, "full_name", shown, _removed(what))

    default = (source.group,) if source.group else ()
    at, chosen = _distinct(lambda cell: _groups(cell, default), column["group"])
    groups = _taken(at, (known for known, _ in chosen))
    keep = valid & _taken(at, (bool(known) for known, _ in chosen), bool)
    for i in np.flatnonzero(valid & _taken(at, (bool(w) for _, w in chosen), bool)).tolist():
        add(i, 2, "group", column["group"][i], chosen[at[i]][1])
    for i in np.flatnonzero(valid & ~keep).tolist():
        add(i, -1, "group", "", _NO_GROUP)
    basis = BASIS_FLAGS.get(source.legal_basis, 0)
    at, bases = _distinct(lambda cell, consent: row_basis(cell, consent, basis),
                          column["legal_basis"], column["consent"])  # fmt: skip
    flags = np.array([flags for flags, _ in bases], dtype=np.int64)[at]
    for i in np.flatnonzero(valid & _taken(at, (bool(u) for _, u in bases), bool)).tolist():
        for order, (name, value, message) in enumerate(bases[at[i]][1], start=3):
            add(i, order, name, value, message)

    too_long = np.column_stack([long[name] for name in PERSON_FIELDS])
    for i in np.flatnonzero(keep & too_long.any(axis=1)).tolist():
        name = PERSON_FIELDS[int(too_long[i].argmax())]
        value = values[name][i]
        reason = f"{name} is {len(value)} characters long; at most {MAX_FIELD_CHARS} are "
        where = "full_name" if split[i] and name in ("first_name", "last_name") else name
        shown = f"{value[:_SHOWN]}… ({len(value)} characters)"
        add(i, -1, where, shown, reason + "accepted (a damaged cell?)")
    keep &= ~too_long.any(axis=1)
    for order, name in enumerate(PERSON_FIELDS, start=5):
        for i in np.flatnonzero(keep & (invisible[name] != "")).tolist():
            add(i, order, name, values[name][i], _removed(invisible[name][i]))

    found.sort(key=lambda item: item[:2])
    rejects = [item for _, _, item in found if isinstance(item, Reject)]
    result.rejects += rejects
    result.warnings += [item for _, _, item in found if isinstance(item, Notice)]
    rows = int(counted.sum())
    result.sources.append(SourceSummary(label, table.details, rows, len(rejects)))
    result.rows_read[source.name] += rows
    if not rows:
        result.warnings.append(
            Notice(label, 0, "", "", "a header and no rows: nobody is added from this list")
        )
    named_fields = {
        *fields.columns,
        *(("first_name", "last_name") if "full_name" in fields else ()),
    }
    usable = {name: values[name] for name in PERSON_FIELDS if name in named_fields}
    usable = {name: column[keep] for name, column in
              {"person": person, **usable, "groups": groups, "flags": flags}.items()}  # fmt: skip
    usable["source"] = np.array([f"{label}:{n}" for n in numbers[keep].tolist()], dtype=object)
    return pd.DataFrame(
        {name: pd.Series(column, dtype=column.dtype) for name, column in usable.items()}
    )
