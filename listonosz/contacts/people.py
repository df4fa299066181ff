"""Merging the records of each person into one: the richest row's values, gaps filled from
the others, where each value is from, the values left out (conflicts), groups as a set.

Records are those of :mod:`listonosz.contacts.records`; a merged person is a record too
(Contact's fields, then the legal-basis flags), so people on one row pass through as they are.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Iterator

from listonosz.contacts.construct import make_contact
from listonosz.contacts.legal import CONSENT
from listonosz.contacts.model import PERSON_FIELDS, Conflict, Contact
from listonosz.contacts.records import (
    BASIS_FLAGS,
    BASIS_OF_FLAGS,
    CONSENT_FLAG,
    FLAGS,
    GROUPS,
    REFUSED_FLAG,
    SOURCES,
    VALUE_INDEX,
    Record,
)

#: Flags a Contact's legal basis stands for exactly; a lone record with others (a refusal)
#: is merged as a person on several rows is.
_ONE_BASIS = frozenset((0, *BASIS_FLAGS.values()))
_values_of = operator.itemgetter(*VALUE_INDEX)
BY_EMAIL = operator.attrgetter("email")


class _Person:
    """A person on several rows (in the order read), merged: the richest row's values, gaps
    filled from the others, where each value is from, and the values left out."""

    __slots__ = ("alternatives", "origins", "score", "values")

    def __init__(self, records: list[Record]) -> None:
        first = _values_of(records[0])
        values = list(first)
        self.values: list[str] = values
        self.origins = [0 if value else -1 for value in values]
        self.score = len(values) - values.count("")
        self.alternatives: list[tuple[int, str, int]] = []
        for index, record in enumerate(records):
            other = _values_of(record)
            if other != first:  # most people are written alike on every list
                self._add(index, other)

    def _add(self, index: int, values: tuple[str, ...]) -> None:
        """The values of row ``index``: fill gaps, prefer a richer row, note disagreements."""
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

    def conflicts(self, email: str, sources: tuple[str, ...]) -> Iterator[Conflict]:
        """The values the lists disagree on, each once."""
        seen: set[tuple[int, str]] = set()
        for slot, value, index in self.alternatives:
            kept = self.values[slot]
            key = (slot, value.casefold())
            if value.casefold() == kept.casefold() or key in seen:
                continue
            seen.add(key)
            yield Conflict(
                email, PERSON_FIELDS[slot], kept, sources[self.origins[slot]], value, sources[index]
            )


def _merged(
    email: str,
    records: list[Record],
    conflicts: list[Conflict],
    shared: dict[tuple[int, ...], tuple[int, ...]],
) -> Record:
    """One person's records (or a lone one with a refusal) merged into one; their conflicts go
    to ``conflicts``; ``shared`` keeps one copy of each distinct ``origins``."""
    flags = 0
    sources: tuple[str, ...] = ()
    groups: set[str] = set()
    for record in records:
        flags |= record[FLAGS]
        sources += record[SOURCES]
        groups.update(record[GROUPS])
    values = _values_of(records[0])
    if all(map(values.__eq__, map(_values_of, records))):  # most people: written alike
        origins = tuple(map((-1, 0).__getitem__, map(bool, values)))  # all from the first
    else:
        person = _Person(records)
        values, origins = person.values, tuple(person.origins)
        conflicts.extend(person.conflicts(email, sources))
    if flags & CONSENT_FLAG and flags & REFUSED_FLAG:
        refused = "a row refusing consent"
        basis = BASIS_OF_FLAGS[flags] or "none"
        conflicts.append(
            Conflict(email, "legal_basis", basis, refused, CONSENT, "a row giving consent")
        )
    if len(sources) == 1:
        origins = ()
    return (
        email,
        *values[:5],
        tuple(sorted(groups)),
        sources,
        *values[5:],
        BASIS_OF_FLAGS[flags],
        shared.setdefault(origins, origins),  # the few distinct origins, once
        flags,
    )


class People:
    """Records by address, in the order read (a person's rows must come in list order, then
    row order: the first richest row wins); then everyone merged."""

    def __init__(self) -> None:
        # A person on one row so far is that record, on several a list of them.
        self.by_email: dict[str, Record | list[Record]] = {}

    def add(self, records: Iterable[Record]) -> None:
        people = self.by_email
        for record in records:
            entry = people.setdefault(record[0], record)
            if entry is not record:
                if type(entry) is list:
                    entry.append(record)
                else:  # a Record (`type(...) is` is quicker than isinstance, but does not narrow)
                    people[record[0]] = [entry, record]  # type: ignore[list-item]

    def merged(self, conflicts: list[Conflict]) -> tuple[list[Record], list[int]]:
        """Everyone, one merged record each, in the order first read (the order they lie in
        memory, much quicker to go through than sorted), and the order that sorts them by
        address. Conflicts go to ``conflicts``, in the order first read too."""
        rows: list[Record] = []
        shared: dict[tuple[int, ...], tuple[int, ...]] = {}
        for email, entry in self.by_email.items():
            if type(entry) is list:
                rows.append(_merged(email, entry, conflicts, shared))
            elif entry[FLAGS] in _ONE_BASIS:
                rows.append(entry)
            else:  # a Record, as above
                rows.append(_merged(email, [entry], conflicts, shared))  # type: ignore[list-item]
        emails = list(self.by_email)
        self.by_email.clear()
        return rows, sorted(range(len(emails)), key=emails.__getitem__)


def sorted_contacts(rows: list[Record], order: list[int]) -> list[Contact]:
    """The Contacts of :meth:`People.merged`, sorted by address."""
    made = list(itertools.starmap(make_contact, rows))
    return list(map(made.__getitem__, order))
