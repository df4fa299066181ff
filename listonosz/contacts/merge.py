"""Merging contact lists into one audience: one person per address, groups as a set.

The lists' usable rows (:mod:`~listonosz.contacts.clean`) are merged by address as a
DataFrame: a person's richest row (most non-empty fields; the first of equals) gives the
fields and the others fill its gaps, in the order read; a value is kept as first written
(case aside), with its file and row; values the rows disagree on are conflicts.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from listonosz.contacts.clean import clean
from listonosz.contacts.emails import EmailChecker
from listonosz.contacts.legal import CONSENT, CONSENT_FLAG, REFUSED_FLAG, basis_of
from listonosz.contacts.model import PERSON_FIELDS, Conflict, Contact, MergeResult, Notice
from listonosz.contacts.read import SourceList, read_tables

__all__ = ["MergeResult", "SourceList", "gc_paused", "merge_lists"]


def merge_lists(lists: Iterable[SourceList], *, smtputf8: bool = False) -> MergeResult:
    """Read every list, reject unusable rows, and merge people by normalised address. A file
    that cannot be read at all raises :class:`ContactFileError` (naming it): a campaign never
    goes to part of its audience. ``smtputf8`` accepts non-ASCII local parts."""
    result = MergeResult([])
    with gc_paused():
        read = []  # (source, its tables, notices about sheets skipped: after the others)
        for source in lists:
            skipped: list[Notice] = []
            read.append((source, read_tables(source, skipped), skipped))
        rows, emails = clean(read, EmailChecker(smtputf8), result) if read else (None, [])
        del read  # the cells as read: no longer needed
        if rows is not None and len(rows):
            result.contacts = _people(rows, emails, result.conflicts)
    result.conflicts.sort(key=lambda conflict: conflict.email)  # a person's stay in order
    return result


def _people(rows: pd.DataFrame, emails: list[str], conflicts: list[Conflict]) -> list[Contact]:
    """The usable rows (by person, each one's in the order read) merged into one Contact per
    person, sorted by address (``emails[person]``); what they disagree on goes to ``conflicts``."""
    person = rows["person"].to_numpy()
    first = np.r_[True, person[1:] != person[:-1]]
    starts = np.flatnonzero(first)
    rows["at"] = np.cumsum(first) - 1  # the person's place in the audience
    emails = [emails[index] for index in person[starts].tolist()]
    fields = [name for name in PERSON_FIELDS if name in rows]  # a field no list has: blank
    values = {name: rows[name].to_numpy()[starts] for name in fields}  # the first row's
    origins: list[tuple[int, ...]] = [()] * len(starts)  # (): every value from the first row
    source, ends = rows["source"].to_numpy(), np.r_[starts[1:], len(rows)]
    several = rows[rows["person"].duplicated(keep=False)]
    unlike = several.drop_duplicates(["person", *fields])  # a row like one before adds nothing
    unlike = unlike[unlike["person"].duplicated(keep=False)]  # people whose rows differ
    if len(unlike):
        kept, others = _kept(unlike, fields)
        at = kept["at"].to_numpy()
        for name, part in kept.groupby("field", sort=False):
            values[str(name)][part["at"].to_numpy()] = part["value"].to_numpy()
        people = np.unique(unlike["at"].to_numpy())
        where = np.full((len(people), len(PERSON_FIELDS)), -1)
        slot = kept["field"].map(PERSON_FIELDS.index).to_numpy()
        where[np.searchsorted(people, at), slot] = kept["row"].to_numpy() - starts[at]
        for index, origin in zip(people.tolist(), where.tolist(), strict=True):
            origins[index] = tuple(origin)
        conflicts += map(Conflict, [emails[i] for i in others["at"].tolist()], others["field"],
                         others["value_kept"], source[others["row_kept"]], others["value"],
                         source[others["row"]])  # fmt: skip
    flags = np.bitwise_or.reduceat(rows["flags"].to_numpy(), starts)
    for index in np.flatnonzero((flags & CONSENT_FLAG > 0) & (flags & REFUSED_FLAG > 0)).tolist():
        basis = basis_of(int(flags[index])) or "none"
        refused, given = "a row refusing consent", "a row giving consent"
        conflicts.append(Conflict(emails[index], "legal_basis", basis, refused, CONSENT, given))
    bases = np.array([basis_of(f) for f in range(8)], dtype=object)[flags].tolist()
    groups = _union(rows["groups"].to_numpy(), starts)
    sources = list(zip(source[starts].tolist()))  # ("file:row",): most people's
    for index in np.flatnonzero(ends - starts > 1).tolist():
        sources[index] = tuple(source[starts[index] : ends[index]].tolist())
    blank = [""] * len(starts)
    by_field = [values[name].tolist() if name in values else blank for name in PERSON_FIELDS]
    return list(map(Contact, emails, *by_field[:5], groups, sources, *by_field[5:], bases, origins))


def _kept(rows: pd.DataFrame, fields: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For the people whose rows differ (``rows``, theirs, in order): the value kept of each
    field (``at``, ``field``, ``row``, ``value``), and each value that differs from it, case
    aside (once each, in the order of rows then fields), with the kept one (``*_kept``)."""
    cells = rows[["at", *fields]].reset_index(names="row").melt(["row", "at"], var_name="field")
    cells = cells[cells["value"] != ""].sort_values("row", kind="stable")  # by row, then field
    cells["folded"] = _folded(cells["value"].to_numpy())
    written = cells.drop_duplicates(["at", "field", "folded"])  # each value as first written
    richest = (rows[fields] != "").sum(axis=1).groupby(rows["at"]).idxmax()  # first of equals
    on_richest = cells[cells["row"].to_numpy() == richest.loc[cells["at"]].to_numpy()]
    chosen = pd.concat([on_richest, written]).drop_duplicates(["at", "field"])  # else the first
    marked = written.merge(chosen[["at", "field", "folded"]], "left", indicator=True)
    kept = marked[marked["_merge"] == "both"]
    others = marked[marked["_merge"] == "left_only"]
    return kept, others.merge(kept, "inner", on=["at", "field"], suffixes=("", "_kept"))


def _folded(column: np.ndarray) -> np.ndarray:
    """A code for each value, the same for values equal ignoring case."""
    codes, uniques = pd.factorize(column)
    folded, _ = pd.factorize(np.array([u.casefold() for u in uniques], dtype=object))
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
    """No cyclic garbage collection while a million small objects (no cycles) are made: each
    collection would walk them all. Then ``gc.freeze()`` and ``gc.unfreeze()`` move them to the
    oldest generation without walking them (unless the caller has frozen objects of its own)."""
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
