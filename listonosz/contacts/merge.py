"""Merging contact lists into one audience: one person per address, groups as a set.

For each person the richest record (the most non-empty fields) gives the fields, gaps are
filled from the others, every value remembers the file and row it came from, and values the
lists disagree on are reported as conflicts.
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from listonosz.contacts.emails import EmailChecker
from listonosz.contacts.legal import CONSENT, PUBLIC_TASK
from listonosz.contacts.model import PERSON_FIELDS, Conflict, Contact, Notice, Reject, Suppressed
from listonosz.contacts.read import ReadOptions, read_sheets
from listonosz.contacts.records import (
    CONSENT_FLAG,
    PUBLIC_FLAG,
    REFUSED_FLAG,
    Caches,
    Record,
    SheetReader,
    SourceSummary,
)

__all__ = ["MergeResult", "SourceList", "SourceSummary", "merge_lists"]


@dataclass(frozen=True, slots=True)
class SourceList:
    """A contact file, the stakeholder group its people belong to, and how to read it.

    ``group`` may be empty when the file has a group column. ``encoding``, ``delimiter`` and
    ``sheet`` override detection (``sheet``: read only that sheet). ``columns`` maps a field
    (``email``, ``first_name`` …) to the header holding it. ``legal_basis`` (``consent`` or
    ``public_task``) applies to rows that do not say.
    """

    path: Path
    group: str = ""
    label: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    columns: Mapping[str, str] | None = None
    legal_basis: str = ""

    @property
    def read_options(self) -> ReadOptions:
        return ReadOptions(self.encoding, self.delimiter, self.sheet, self.columns)


@dataclass
class MergeResult:
    """The merged audience, and everything left out or worth a second look."""

    contacts: list[Contact]
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)
    rows_read: Counter[str] = field(default_factory=Counter)
    conflicts: list[Conflict] = field(default_factory=list)
    sources: list[SourceSummary] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)

    def per_group(self) -> Counter[str]:
        """How many people of the audience are in each stakeholder group."""
        return Counter(group for contact in self.contacts for group in contact.groups)


class _Person:
    """A person on more than one row while the merge runs (most people are on one)."""

    __slots__ = ("alternatives", "basis", "groups", "origins", "score", "sources", "values")

    def __init__(
        self, values: list[str], groups: tuple[str, ...], sources: list[str], basis: int
    ) -> None:
        self.values = values
        self.origins = [0 if value else -1 for value in values]
        self.score = len(values) - values.count("")
        self.groups = groups
        self.sources = sources
        self.basis = basis
        self.alternatives: list[tuple[int, str, int]] = []

    @classmethod
    def of(cls, entry: Contact | Record) -> _Person:
        """The person so far, from their one Contact or record."""
        if type(entry) is tuple:
            _, label, number, values, groups, basis = entry
            return cls(list(values), groups, [f"{label}:{number}"], basis)
        contact: Contact = entry  # type: ignore[assignment]
        values = [getattr(contact, name) for name in PERSON_FIELDS]
        flags = _FLAGS_OF_BASIS[contact.legal_basis]
        return cls(values, contact.groups, list(contact.sources), flags)

    def add(self, record: Record) -> None:
        _, label, number, values, groups, basis = record
        index = len(self.sources)
        self.sources.append(f"{label}:{number}")
        self.basis |= basis
        for group in groups:
            if group not in self.groups:
                self.groups = (*self.groups, group)
        score = len(values) - values.count("")
        richer = score > self.score
        if richer:
            self.score = score
        kept, origins = self.values, self.origins
        for slot, value in enumerate(values):
            if not value:
                continue
            old = kept[slot]
            if not old:
                kept[slot], origins[slot] = value, index
            elif old != value and old.casefold() != value.casefold():
                if richer:
                    self.alternatives.append((slot, old, origins[slot]))
                    kept[slot], origins[slot] = value, index
                else:
                    self.alternatives.append((slot, value, index))


class _Merger:
    """Accumulates records by address, then builds the sorted audience."""

    def __init__(self) -> None:
        # A person on one row so far is already a Contact (most people are on one list), so
        # building it overlaps with reading when the lists are read by worker processes.
        self.people: dict[str, Contact | Record | _Person] = {}
        self.result = MergeResult([])

    def add_records(self, records: Iterable[Record]) -> None:
        people, basis_of = self.people, _BASIS_OF_FLAGS
        for record in records:
            email, label, number, values, groups, flags = record
            entry = people.get(email)
            if entry is None:
                if flags not in _ONE_BASIS:  # e.g. a refusal: a Contact cannot carry it
                    people[email] = record
                else:
                    people[email] = Contact(
                        email,
                        values[0],
                        values[1],
                        values[2],
                        values[3],
                        values[4],  # type: ignore[arg-type]
                        groups,
                        (f"{label}:{number}",),
                        values[5],
                        values[6],
                        values[7],
                        basis_of[flags],  # type: ignore[arg-type]
                    )
                continue
            if type(entry) is not _Person:
                entry = people[email] = _Person.of(entry)  # type: ignore[arg-type]
            entry.add(record)  # type: ignore[union-attr]

    def finish(self) -> MergeResult:
        result, people = self.result, self.people
        entries = sorted(people.items())
        people.clear()
        contacts = result.contacts
        shared: dict[tuple[int, ...], tuple[int, ...]] = {}  # the few distinct origins, once
        for email, entry in entries:
            if type(entry) is Contact:
                contacts.append(entry)  # type: ignore[arg-type]
                continue
            person = entry if type(entry) is _Person else _Person.of(entry)  # type: ignore[arg-type]
            values, flags = person.values, person.basis
            sources, origins = tuple(person.sources), tuple(person.origins)
            if len(sources) == 1:
                origins = ()
            if person.alternatives:
                self._conflicts(email, person, sources)
            if flags & CONSENT_FLAG and flags & REFUSED_FLAG:
                result.conflicts.append(
                    Conflict(
                        email,
                        "legal_basis",
                        _BASIS_OF_FLAGS[flags] or "none",
                        "a row refusing consent",
                        CONSENT,
                        "a row giving consent",
                    )
                )
            contacts.append(
                Contact(
                    email,
                    values[0],
                    values[1],
                    values[2],
                    values[3],
                    values[4],  # type: ignore[arg-type]
                    tuple(sorted(person.groups)),
                    sources,
                    values[5],
                    values[6],
                    values[7],
                    _BASIS_OF_FLAGS[flags],  # type: ignore[arg-type]
                    shared.setdefault(origins, origins),
                )
            )
        return result

    def _conflicts(self, email: str, person: _Person, sources: tuple[str, ...]) -> None:
        seen: set[tuple[int, str]] = set()
        for slot, value, index in person.alternatives:
            kept = person.values[slot]
            key = (slot, value.casefold())
            if value.casefold() == kept.casefold() or key in seen:
                continue
            seen.add(key)
            self.result.conflicts.append(
                Conflict(
                    email,
                    PERSON_FIELDS[slot],
                    kept,
                    sources[person.origins[slot]],
                    value,
                    sources[index],
                )
            )


def _legal_basis(flags: int) -> str:
    if flags & CONSENT_FLAG and not flags & REFUSED_FLAG:
        return CONSENT
    if flags & PUBLIC_FLAG:
        return PUBLIC_TASK
    return ""


#: The legal basis of every combination of flags, and the flags a lone basis stands for.
_BASIS_OF_FLAGS = [_legal_basis(flags) for flags in range(8)]
_FLAGS_OF_BASIS = {CONSENT: CONSENT_FLAG, PUBLIC_TASK: PUBLIC_FLAG, "": 0}
_ONE_BASIS = frozenset(_FLAGS_OF_BASIS.values())


@dataclass
class SheetRecords:
    """Everything one sheet gave, in one piece (what a worker process sends back)."""

    summary: SourceSummary
    records: list[Record]
    rejects: list[Reject]
    notices: list[Notice]


def read_source(
    source: SourceList, emails: EmailChecker, caches: Caches | None = None
) -> list[SheetRecords]:
    """Read one list whole into records (what each worker of a parallel merge does)."""
    caches = caches or Caches()
    label = source.label or str(source.path)
    notices: list[Notice] = []
    done: list[SheetRecords] = []
    for sheet in read_sheets(source.path, label, source.read_options, notices):
        rejects: list[Reject] = []
        reader = SheetReader(
            sheet, source.group, source.legal_basis, emails, caches, rejects, notices
        )
        records = list(reader.records())
        done.append(SheetRecords(reader.summary, records, rejects, notices))
        notices = []
    if notices and done:  # notices about skipped sheets come after the last sheet is read
        done[-1].notices.extend(notices)
    return done


def merge_lists(
    lists: Iterable[SourceList], *, smtputf8: bool = False, workers: int = 1
) -> MergeResult:
    """Read every list, reject unusable rows, and merge people by normalised address.

    A file that cannot be read at all raises :class:`ContactFileError` (naming the file), so
    a campaign never goes out to part of its audience. ``smtputf8`` accepts addresses with a
    non-ASCII local part, for a transport that supports SMTPUTF8. ``workers`` > 1 reads the
    lists in that many processes (worth it from about a hundred thousand rows); the result
    is the same.
    """
    merger = _Merger()
    result = merger.result
    with _gc_paused():
        if workers > 1:
            _read_in_parallel(list(lists), smtputf8, workers, merger)
        else:
            emails, caches = EmailChecker(smtputf8), Caches()
            for source in lists:
                label = source.label or str(source.path)
                for sheet in read_sheets(source.path, label, source.read_options, result.warnings):
                    reader = SheetReader(
                        sheet,
                        source.group,
                        source.legal_basis,
                        emails,
                        caches,
                        result.rejects,
                        result.warnings,
                    )
                    merger.add_records(reader.records())
                    result.sources.append(reader.summary)
                    result.rows_read[label] += reader.summary.rows
        return merger.finish()


def _read_in_parallel(
    lists: list[SourceList], smtputf8: bool, workers: int, merger: _Merger
) -> None:
    import multiprocessing

    result = merger.result
    # spawn, not fork: the caller may be a threaded process (a Prefect worker).
    context = multiprocessing.get_context("spawn")
    processes = min(workers, len(lists))
    with context.Pool(processes, _start_worker, (smtputf8,)) as pool:
        for source, sheets in zip(lists, pool.imap(_read_source_job, lists), strict=True):
            label = source.label or str(source.path)
            for sheet in sheets:
                merger.add_records(sheet.records)
                sheet.records.clear()
                result.rejects.extend(sheet.rejects)
                result.warnings.extend(sheet.notices)
                result.sources.append(sheet.summary)
                result.rows_read[label] += sheet.summary.rows


#: In a worker process of a parallel merge: what it learnt about domains and values so far.
_worker: tuple[EmailChecker, Caches] | None = None


def _start_worker(smtputf8: bool) -> None:
    global _worker
    _worker = (EmailChecker(smtputf8), Caches())


def _read_source_job(source: SourceList) -> list[SheetRecords]:
    assert _worker is not None
    with _gc_paused():
        return read_source(source, *_worker)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a million small objects are made (none are cycles):
    each collection would walk all of them, making the merge several times slower."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
