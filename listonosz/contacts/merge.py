"""Merging contact lists into one audience: one person per address, groups as a set.

Each list is read into tables (:mod:`~listonosz.contacts.read`) and cleaned
(:mod:`~listonosz.contacts.clean`); the usable rows of all of them are then merged by address
as arrays. For each person the richest row (the most non-empty fields; the first of equally
rich ones) gives the fields and the other rows fill its gaps, in the order read; a value is
kept as first written (case aside) and remembers the file and row it came from there; values
the rows disagree on are reported as conflicts.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from listonosz.contacts.clean import ROW_COLUMNS, Addresses, clean_table
from listonosz.contacts.emails import EmailChecker
from listonosz.contacts.legal import CONSENT, CONSENT_FLAG, REFUSED_FLAG, basis_of
from listonosz.contacts.model import PERSON_FIELDS, Conflict, Contact, MergeResult, Notice
from listonosz.contacts.read import SourceList, read_tables

__all__ = ["MergeResult", "SourceList", "gc_paused", "merge_lists"]


def merge_lists(lists: Iterable[SourceList], *, smtputf8: bool = False) -> MergeResult:
    """Read every list, reject unusable rows, and merge people by normalised address.

    A file that cannot be read at all raises :class:`ContactFileError` (naming the file), so
    a campaign never goes out to part of its audience. ``smtputf8`` accepts addresses with a
    non-ASCII local part, for a transport that supports SMTPUTF8.
    """
    result = MergeResult([])
    usable: list[dict[str, np.ndarray]] = []
    with gc_paused():
        read = []  # (source, its tables, notices about sheets skipped: after the others)
        for source in lists:
            skipped: list[Notice] = []
            read.append((source, read_tables(source, skipped), skipped))
        every = [table for _, tables, _ in read for table in tables]
        addresses = Addresses.check(every, EmailChecker(smtputf8))
        codes = iter(addresses.codes)  # each table's
        for source, tables, skipped in read:
            usable += [clean_table(t, source, addresses, next(codes), result) for t in tables]
            result.warnings += skipped
        emails = addresses.emails
        del read, every, addresses  # the cells as read: no longer needed
        present = [name for name in ROW_COLUMNS if any(name in part for part in usable)]
        rows = {name: _joined(usable, name) for name in present}  # a field no list has: none
        del usable[:]
        found = rows and len(rows["person"])
        result.contacts = _people(rows, emails, result.conflicts) if found else []
    result.conflicts.sort(key=lambda conflict: conflict.email)  # a person's stay in order
    return result


def _joined(parts: list[dict[str, np.ndarray]], name: str) -> np.ndarray:
    """Column ``name`` of every table's usable rows; blank where a table lacks it."""
    blank = np.full(max(len(part["person"]) for part in parts), "", dtype=object)
    return np.concatenate([part.get(name, blank[: len(part["person"])]) for part in parts])


def _people(
    rows: dict[str, np.ndarray], addresses: list[str], conflicts: list[Conflict]
) -> list[Contact]:
    """The rows of every list (in the order read) merged into one Contact per person, sorted
    by address (``addresses[person]``); what the rows disagree on goes to ``conflicts``."""
    person = rows["person"]
    by_person = np.argsort(person, kind="stable")  # a person's rows together, in order
    person = person[by_person]
    starts = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    counts = np.diff(np.r_[starts, len(person)])
    emails = [addresses[index] for index in person[starts].tolist()]
    blank = np.full(len(person), "", dtype=object)
    columns = {name: rows.get(name, blank) for name in PERSON_FIELDS}
    kept = {name: column[by_person[starts]] for name, column in columns.items() if name in rows}
    sources = rows["source"]
    row_sources = list(zip(sources[by_person[starts]].tolist()))  # ("file:row",) each
    origins: list[tuple[int, ...]] = [()] * len(starts)  # () when all is from one row
    several = np.flatnonzero(counts > 1)
    if len(several):
        rows_of = by_person[np.repeat(counts > 1, counts)]  # their rows, person by person
        values = np.column_stack([columns[name][rows_of] for name in PERSON_FIELDS])
        merged, origin, differing = _richest(values, counts[several])
        for slot, name in enumerate(PERSON_FIELDS):
            if name in kept:  # a field no list has stays blank
                kept[name][several] = merged[:, slot]
        their_sources = sources[rows_of].tolist()
        bounds = np.r_[0, np.cumsum(counts[several])].tolist()
        shared: dict[tuple[int, ...], tuple[int, ...]] = {}  # each distinct one once
        for index, a, b, where in zip(several.tolist(), bounds, bounds[1:], origin.tolist(),
                                      strict=False):  # fmt: skip
            row_sources[index] = tuple(their_sources[a:b])
            origins[index] = shared.setdefault(tuple(where), tuple(where))
        for local, slot, kept_row, row in differing:
            conflicts.append(Conflict(emails[several[local]], PERSON_FIELDS[slot],
                                      values[kept_row, slot], their_sources[kept_row],
                                      values[row, slot], their_sources[row]))  # fmt: skip
    flags = np.bitwise_or.reduceat(rows["flags"][by_person], starts)
    for index in np.flatnonzero((flags & CONSENT_FLAG > 0) & (flags & REFUSED_FLAG > 0)).tolist():
        basis = basis_of(int(flags[index])) or "none"
        refused, given = "a row refusing consent", "a row giving consent"
        conflicts.append(Conflict(emails[index], "legal_basis", basis, refused, CONSENT, given))
    bases = np.array([basis_of(f) for f in range(8)], dtype=object)[flags].tolist()
    groups = _union(rows["groups"][by_person], starts)
    blanks = [""] * len(starts)
    fields = [kept.pop(name).tolist() if name in kept else blanks for name in PERSON_FIELDS]
    return list(map(Contact, emails, *fields[:5], groups, row_sources, *fields[5:], bases, origins))


def _richest(
    values: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int, int]]]:
    """People on several rows (``values``: their fields, a person's ``counts`` rows together,
    in order) merged: each one's fields, the row each came from (counted from the person's
    first, -1: none), and (person, field, the kept value's row, a row disagreeing) for each
    value that differs, ignoring case, from the one kept (once each, in the order of rows).
    Most people are written alike on every row: theirs are their first row's."""
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    kept = values[starts]
    origin = np.where(kept != "", 0, -1)
    same = (values == np.repeat(kept, counts, axis=0)).all(axis=1)
    unlike = np.flatnonzero(~np.logical_and.reduceat(same, starts))
    if not len(unlike):
        return kept, origin, []
    rows_of = np.flatnonzero(np.repeat(np.isin(np.arange(len(counts)), unlike), counts))
    kept[unlike], origin[unlike], differing = _unlike(values[rows_of], counts[unlike])
    at, rows = unlike.tolist(), rows_of.tolist()
    return kept, origin, [(at[p], s, rows[k], rows[r]) for p, s, k, r in differing]


def _unlike(
    values: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int, int]]]:
    """:func:`_richest` for people whose rows differ."""
    rows, width = values.shape
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    position = np.arange(rows)
    folded = np.column_stack([_folded(values[:, slot]) for slot in range(width)])
    filled = folded >= 0
    score = filled.sum(axis=1)
    best = np.maximum.reduceat(score, starts)
    richest = np.minimum.reduceat(
        np.where(score == np.repeat(best, counts), position, rows), starts
    )
    kept = np.full((len(counts), width), "", dtype=object)
    origin = np.full((len(counts), width), -1)
    at = np.zeros((len(counts), width), dtype=np.int64)
    differs = np.zeros((rows, width), dtype=bool)
    for slot in np.flatnonzero(filled.any(axis=0)).tolist():  # a field nobody has stays empty
        first = np.minimum.reduceat(np.where(filled[:, slot], position, rows), starts)
        chosen = np.where(filled[richest, slot], richest, first)
        found = chosen < rows
        key = np.where(found, folded[np.minimum(chosen, rows - 1), slot], -2)
        same = folded[:, slot] == np.repeat(key, counts)
        at[:, slot] = np.minimum.reduceat(np.where(same, position, rows), starts)
        kept[found, slot] = values[at[found, slot], slot]
        origin[found, slot] = at[found, slot] - starts[found]
        differs[:, slot] = filled[:, slot] & ~same
    other, field = np.nonzero(differs)  # in the order of rows, then fields
    person = np.repeat(np.arange(len(counts)), counts)[other]
    seen = pd.DataFrame({"p": person, "s": field, "f": folded[other, field]}).duplicated()
    other, field, person = (part[~seen.to_numpy()] for part in (other, field, person))
    return kept, origin, list(zip(person.tolist(), field.tolist(), at[person, field].tolist(),
                                  other.tolist(), strict=True))  # fmt: skip


def _folded(column: np.ndarray) -> np.ndarray:
    """A code for each value, the same for values equal ignoring case; -1 for ``""``."""
    codes, uniques = pd.factorize(column)
    folded, _ = pd.factorize(np.array([u.casefold() or None for u in uniques], dtype=object))
    return folded[codes]


def _union(groups: np.ndarray, starts: np.ndarray) -> list[tuple[str, ...]]:
    """Each person's groups (the rows of one together, from ``starts``): all of them, sorted."""
    codes, sets = pd.factorize(groups)
    names = sorted({name for groups in sets for name in groups})
    bits = np.array([sum(1 << names.index(name) for name in set(g)) for g in sets], dtype=object)
    masks = np.bitwise_or.reduceat(bits[codes], starts).tolist()
    union = {m: tuple(n for bit, n in enumerate(names) if m >> bit & 1) for m in set(masks)}
    return [union[mask] for mask in masks]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a million small objects are made (none are cycles):
    each collection would walk all of them, making the merge several times slower.

    Afterwards the objects go straight to the oldest generation, where they would end up
    anyway, instead of being walked by the next young collection (half a second for a
    million-row merge) and again on their way there: ``gc.freeze()`` then ``gc.unfreeze()``
    move every tracked object there without walking any. Not done if the caller has frozen
    objects of its own (``gc.unfreeze`` would release them).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()
