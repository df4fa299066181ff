"""A contact list to merge, reading it a chunk at a time, and what merging the lists gave.

Shared by the merge in one process (:mod:`listonosz.contacts.merge`) and the one spread over
several (:mod:`listonosz.contacts.parallel`).
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from listonosz.contacts.emails import EmailChecker
from listonosz.contacts.model import Conflict, Contact, Notice, Reject, Suppressed
from listonosz.contacts.read import ReadOptions, read_sheets
from listonosz.contacts.records import Caches, Record, SheetReader, SourceSummary


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


@dataclass
class SheetOutcome:
    """What reading one sheet reported: its summary, rejects and notices."""

    summary: SourceSummary
    rejects: list[Reject]
    notices: list[Notice]


def read_source(
    source: SourceList,
    emails: EmailChecker,
    caches: Caches,
    take: Callable[[list[Record]], object],
) -> list[SheetOutcome]:
    """Read one list, handing its records to ``take`` a chunk at a time; what each sheet
    reported."""
    label = source.label or str(source.path)
    notices: list[Notice] = []
    outcomes: list[SheetOutcome] = []
    for sheet in read_sheets(source.path, label, source.read_options, notices):
        rejects: list[Reject] = []
        reader = SheetReader(
            sheet, source.group, source.legal_basis, emails, caches, rejects, notices
        )
        for chunk in reader.chunks():
            take(chunk)
        outcomes.append(SheetOutcome(reader.summary, rejects, notices))
        notices = []
    if notices and outcomes:  # notices about skipped sheets come after the last sheet is read
        outcomes[-1].notices.extend(notices)
    return outcomes


def add_outcomes(result: MergeResult, label: str, outcomes: list[SheetOutcome]) -> None:
    """Report what reading one list gave, in the order of its sheets."""
    for outcome in outcomes:
        result.rejects.extend(outcome.rejects)
        result.warnings.extend(outcome.notices)
        result.sources.append(outcome.summary)
        result.rows_read[label] += outcome.summary.rows


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
