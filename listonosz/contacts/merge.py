"""Merging contact lists into one audience: one person per address, groups as a set.

For each person the richest record (the most non-empty fields) gives the fields, gaps are
filled from the others, every value remembers the file and row it came from, and values the
lists disagree on are reported as conflicts (see :mod:`listonosz.contacts.people`).

A large merge can run in several processes (``workers``; see :mod:`listonosz.contacts.parallel`):
the same reading and the same merging, spread over them.
"""

from __future__ import annotations

from collections.abc import Iterable

from listonosz.contacts.emails import EmailChecker
from listonosz.contacts.parallel import merge_in_parallel
from listonosz.contacts.people import BY_EMAIL, People, sorted_contacts
from listonosz.contacts.records import Caches, SourceSummary
from listonosz.contacts.sources import (
    MergeResult,
    SourceList,
    add_outcomes,
    gc_paused,
    read_source,
)

__all__ = ["MergeResult", "SourceList", "SourceSummary", "gc_paused", "merge_lists"]


def merge_lists(
    lists: Iterable[SourceList], *, smtputf8: bool = False, workers: int = 1
) -> MergeResult:
    """Read every list, reject unusable rows, and merge people by normalised address.

    A file that cannot be read at all raises :class:`ContactFileError` (naming the file), so
    a campaign never goes out to part of its audience. ``smtputf8`` accepts addresses with a
    non-ASCII local part, for a transport that supports SMTPUTF8. ``workers`` > 1 spreads the
    work over that many processes (worth it from a few hundred thousand rows); the result is
    the same.
    """
    with gc_paused():
        if workers > 1:
            return merge_in_parallel(list(lists), smtputf8, workers)
        result = MergeResult([])
        emails, caches, people = EmailChecker(smtputf8), Caches(), People()
        for source in lists:
            outcomes = read_source(source, emails, caches, people.add)
            add_outcomes(result, source.label or str(source.path), outcomes)
        result.contacts = sorted_contacts(*people.merged(result.conflicts))
        result.conflicts.sort(key=BY_EMAIL)  # stable: a person's conflicts stay in order
        return result
