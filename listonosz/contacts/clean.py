"""From the cells of every table read to clean rows, and the rows we cannot use to rejects.

The rows of all tables are one DataFrame, each column cleaned one distinct value at a time
(``pandas.factorize``): a million rows hold a few thousand names, and each address is checked
once. Text loses the formula guard of our own files (:func:`~listonosz.contacts.csvout.unguard`)
and invisible formatting characters (with a warning); a value longer than
:data:`MAX_FIELD_CHARS` is a damaged cell and costs the row its place. Rejects and warnings
come in the order of rows, each naming the row as a spreadsheet shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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

#: The longest text field a row may have, in characters after cleaning; longer is a damaged
#: cell. (Poland's longest institution names are about half of it.)
MAX_FIELD_CHARS = 200
_SHOWN = 60  # characters of an overlong value a reject shows
_NO_GROUP = "no stakeholder group: the row names none and the list has no default"

T = TypeVar("T")


def _cleaner(fix: Callable[[str], str]) -> Callable[[str], tuple[str, str]]:
    """A cell → (its text cleaned and fixed, the invisible characters it had)."""
    return lambda raw: (fix(clean_visible(unguard(raw))), invisible_in(raw))


_NAME, _GENDER = _cleaner(fix_name_case), lambda raw: (parse_gender(raw), invisible_in(raw))
_CLEANERS = {"first_name": _NAME, "last_name": _NAME, "gender": _GENDER}


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
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(column)
        key = key * len(uniques) + codes
    codes, _ = pd.factorize(key)
    first = np.unique(codes, return_index=True)[1].tolist()  # each combination's first row
    return codes, [function(*(column[i] for column in columns)) for i in first]


def _taken(codes: np.ndarray, values: Iterable[object], dtype: type = object) -> np.ndarray:
    """Each row's value (``values`` are by code)."""
    taken: np.ndarray = np.fromiter(values, dtype=dtype)[codes]
    return taken


def _addresses(cells: np.ndarray, checker: EmailChecker) -> tuple[np.ndarray, ...]:
    """For each address cell: the cell with the formula guard undone, the person (a place among
    the usable addresses, sorted; -1: none) and email-validator's warning or reason; and those
    addresses. Each distinct cell is checked once."""
    codes, written = pd.factorize(cells)
    written = np.array([unguard(c) if c[:1] == "'" else c for c in written.tolist()], object)
    address, note = checker.verdicts(written.tolist())
    people = pc.dictionary_encode(pa.array(address, pa.string()))  # None: nobody
    order = pc.sort_indices(people.dictionary).to_numpy()
    rank = np.full(len(order) + 1, -1)  # the last is for nobody
    rank[order] = np.arange(len(order))
    person = rank[pc.fill_null(people.indices, len(order)).to_numpy()]
    emails = np.array(people.dictionary.take(order).to_pylist(), dtype=object)
    del people
    pa.default_memory_pool().release_unused()  # Arrow's buffers go back to the system now
    return written[codes], person[codes], np.array(note, dtype=object)[codes], emails


def clean(
    read: list[tuple[SourceList, list[Table], list[Notice]]],
    checker: EmailChecker,
    result: MergeResult,
) -> tuple[pd.DataFrame, list[str]]:
    """The usable rows of every table read (the person, the fields any table has, groups,
    legal-basis flags and ``file:row``; by person, each one's in the order read) and the usable
    addresses, sorted (a person is a place among them). Rejects, warnings (each source's notices
    from reading after its tables') and each table's summary go to ``result``. A blank row is
    neither used nor rejected nor counted."""
    tables = [(source, table) for source, in_file, _ in read for table in in_file]
    named = list(dict.fromkeys(name for _, table in tables for name in table.fields))
    sizes = [len(table.cells) for _, table in tables]
    frame = pd.concat([table.fields.reindex(columns=named, fill_value="") for _, table in tables],
                      ignore_index=True)  # fmt: skip
    t = np.repeat(np.arange(len(tables)), sizes)  # each row's table
    starts = np.r_[0, np.cumsum(sizes)]
    numbers = np.concatenate([table.cells.index.to_numpy() for _, table in tables])
    blank = np.full(len(frame), "", dtype=object)
    column = {name: frame[name].to_numpy() if name in frame else blank for name in FIELDS}
    del frame
    found: list[tuple[int, int, Reject | Notice]] = []  # (row, order within it, what)

    def add(i: int, order: int, name: str, value: str, reason: str) -> None:
        """A reject (``order`` < 0) or a warning about row ``i``'s cell of ``name``."""
        table = tables[t[i]][1]
        where = (table.label, int(numbers[i]), table.headers.get(name, ""), value, reason)
        found.append((i, order, Reject(*where) if order < 0 else Notice(*where)))

    written, person, note, emails = _addresses(column["email"], checker)
    valid = person >= 0
    counted = valid.copy()  # every row but the blank ones
    for k, (_, table) in enumerate(tables):
        bad = np.flatnonzero(~valid[starts[k] : starts[k + 1]])
        cells = table.cells.iloc[bad].map(str.strip) != ""
        counted[starts[k] + bad] = cells.any(axis=1).to_numpy(dtype=bool)
    for i in np.flatnonzero(counted & ~valid | valid & pd.notna(note)).tolist():
        add(i, 0 if valid[i] else -1, "email", written[i], note[i] or "")

    values, long, invisible = {}, {}, {}
    for name in PERSON_FIELDS:
        at, done = _distinct(_CLEANERS.get(name, _cleaner(str)), column[name])
        values[name] = _taken(at, (value for value, _ in done))
        long[name] = _taken(at, (len(value) > MAX_FIELD_CHARS for value, _ in done), bool)
        invisible[name] = at, [what for _, what in done]
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

    defaults = [(source.group,) if source.group else () for source, _ in tables]
    at, chosen = _distinct(lambda cell, k: _groups(cell, defaults[k]), column["group"], t)
    groups = _taken(at, (known for known, _ in chosen))
    keep = valid & _taken(at, (bool(known) for known, _ in chosen), bool)
    for i in np.flatnonzero(valid & _taken(at, (bool(w) for _, w in chosen), bool)).tolist():
        add(i, 2, "group", column["group"][i], chosen[at[i]][1])
    for i in np.flatnonzero(valid & ~keep).tolist():
        add(i, -1, "group", "", _NO_GROUP)
    basis = [BASIS_FLAGS.get(source.legal_basis, 0) for source, _ in tables]
    at, bases = _distinct(lambda cell, consent, k: row_basis(cell, consent, basis[k]),
                          column["legal_basis"], column["consent"], t)  # fmt: skip
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
        at, what = invisible[name]
        for i in np.flatnonzero(keep & _taken(at, map(bool, what), bool)).tolist():
            add(i, order, name, values[name][i], _removed(what[at[i]]))

    rejected = np.bincount(t[np.array([i for i, o, _ in found if o < 0], dtype=int)],
                           minlength=len(tables))  # fmt: skip
    k = 0
    for source, in_file, skipped in read:
        for table in in_file:
            count = int(counted[starts[k] : starts[k + 1]].sum())
            result.sources.append(
                SourceSummary(table.label, table.details, count, int(rejected[k]))
            )
            result.rows_read[source.name] += count
            k += 1
            if not count:  # after the table's own warnings
                message = "a header and no rows: nobody is added from this list"
                found.append((starts[k] - 1, 90, Notice(table.label, 0, "", "", message)))
        found += [(starts[k] - 1, 91, notice) for notice in skipped]  # after the source's
    found.sort(key=lambda item: item[:2])
    result.rejects += [item for _, _, item in found if isinstance(item, Reject)]
    result.warnings += [item for _, _, item in found if isinstance(item, Notice)]
    if "full_name" in named:
        named += ["first_name", "last_name"]
    usable = {name: values[name] for name in PERSON_FIELDS if name in named}  # others: blank
    kept = np.flatnonzero(keep)
    kept = kept[np.argsort(person[kept], kind="stable")]  # a person's rows together, in order
    usable = {name: column[kept] for name, column in
              {"person": person, **usable, "groups": groups, "flags": flags}.items()}  # fmt: skip
    labels = np.array([table.label for _, table in tables], dtype=object)[t[kept]]
    places = zip(labels.tolist(), numbers[kept].tolist(), strict=True)
    usable["source"] = np.array([f"{label}:{n}" for label, n in places], dtype=object)
    series = {name: pd.Series(part, dtype=part.dtype, copy=False) for name, part in usable.items()}
    return pd.DataFrame(series, copy=False), emails.tolist()
