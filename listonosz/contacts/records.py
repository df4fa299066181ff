"""Turning the rows of one sheet into clean records, and the rows we cannot use into rejects.

A record is ``(email, source label, row number, values, groups, legal-basis flags)``, with
``values`` aligned with :data:`~listonosz.contacts.model.PERSON_FIELDS`. This is the hot loop
of a merge (a million rows), so it is written for speed: values repeat a lot (first names,
organisations, positions) and each distinct one is cleaned once.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from listonosz.contacts.emails import EmailChecker
from listonosz.contacts.groups import parse_groups
from listonosz.contacts.legal import CONSENT, PUBLIC_TASK, parse_consent, parse_legal_basis
from listonosz.contacts.model import PERSON_FIELDS, Notice, Reject
from listonosz.contacts.normalise import fix_name_case, parse_gender, split_full_name
from listonosz.contacts.sheet import Sheet
from listonosz.contacts.text import clean_text

Record = tuple[str, str, int, tuple[str, ...], tuple[str, ...], int]
CHUNK_ROWS = 2048
_FIRST, _SECOND = operator.itemgetter(0), operator.itemgetter(1)

#: Legal-basis evidence of one record, as bit flags.
CONSENT_FLAG, PUBLIC_FLAG, REFUSED_FLAG = 1, 2, 4
BASIS_FLAGS = {CONSENT: CONSENT_FLAG, PUBLIC_TASK: PUBLIC_FLAG}

_FIELD_SLOT = {name: slot for slot, name in enumerate(PERSON_FIELDS)}
_CACHE_LIMIT = 100_000


@dataclass
class SourceSummary:
    """What one file (or one sheet) gave: rows, rejects, and how it was read."""

    label: str
    details: str
    rows: int = 0
    rejected: int = 0


def _clean_name(raw: str) -> str:
    return fix_name_case(clean_text(raw))


_CLEANERS: dict[str, Callable[[str], str]] = {
    "first_name": _clean_name,
    "last_name": _clean_name,
    "gender": parse_gender,
}


class Caches:
    """Cleaned values by raw value, per field, shared by every sheet of a merge."""

    def __init__(self) -> None:
        self.fields: dict[str, dict[str, str]] = {name: {"": ""} for name in PERSON_FIELDS}


class SheetReader:
    """Reads one sheet into records; rejects and notices go to the lists it is given."""

    def __init__(
        self,
        sheet: Sheet,
        group: str,
        legal_basis: str,
        emails: EmailChecker,
        caches: Caches,
        rejects: list[Reject],
        notices: list[Notice],
    ) -> None:
        self.sheet = sheet
        self.groups = (group,) if group else ()
        self.basis = BASIS_FLAGS.get(legal_basis, 0)
        self.emails = emails
        self.caches = caches
        self.rejects = rejects
        self.notices = notices
        self.summary = SourceSummary(sheet.label, sheet.details)
        self.headers = sheet.headers
        index = {name: i for i, name in sheet.columns.items()}
        self.email_i = index["email"]
        self.width = max(index.values()) + 1
        self.plan = [
            (i, _FIELD_SLOT[name], caches.fields[name], _CLEANERS.get(name, clean_text))
            for i, name in sheet.columns.items()
            if name in _FIELD_SLOT
        ]
        self.full_i = index.get("full_name", -1)
        self.group_i = index.get("group", -1)
        self.consent_i = index.get("consent", -1)
        self.basis_i = index.get("legal_basis", -1)
        self.extras = max(self.full_i, self.group_i, self.consent_i, self.basis_i) >= 0
        if not self.groups:
            self.extras = True  # every row must name its group

    def records(self) -> Iterator[Record]:
        """Every usable row as a record; the summary's counts are final once exhausted.

        Rows are taken a chunk at a time and cleaned a column at a time: looking up a whole
        column of values in a cache is much cheaper than a row at a time.
        """
        rows = iter(self.sheet.rows)
        while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
            yield from self._chunk(chunk)

    def _chunk(self, chunk: list[tuple[int, list[str]]]) -> Iterator[Record]:
        label, headers, summary = self.sheet.label, self.headers, self.summary
        numbers = list(map(_FIRST, chunk))
        rows = list(map(_SECOND, chunk))
        if min(map(len, rows)) < self.width:  # short rows: pad them so every column exists
            pad = [""] * self.width
            rows = [row if len(row) >= self.width else row + pad[len(row) :] for row in rows]
        raw_emails = list(map(operator.itemgetter(self.email_i), rows))
        verdicts = list(map(self.emails.verdict, raw_emails))
        columns: list[Iterable[str]] = [itertools.repeat("")] * len(PERSON_FIELDS)
        for i, slot, cache, clean in self.plan:
            raw = list(map(operator.itemgetter(i), rows))
            cleaned = list(map(cache.get, raw))
            if None in cleaned:
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                    cache[""] = ""
                for j, value in enumerate(cleaned):
                    if value is None:
                        cleaned[j] = cache[raw[j]] = clean(raw[j])
            columns[slot] = cleaned
        groups, basis, extras = self.groups, self.basis, self.extras
        email_header = headers["email"]
        for number, (email, note), values, raw, row in zip(
            numbers,
            verdicts,
            zip(*columns, strict=False),  # columns a sheet lacks repeat "" for ever
            raw_emails,
            rows,
            strict=False,
        ):
            if email is None:
                if not raw.strip() and not any(cell.strip() for cell in row):
                    continue  # a blank row
                summary.rows += 1
                summary.rejected += 1
                self.rejects.append(Reject(label, number, email_header, raw, note or ""))
                continue
            summary.rows += 1
            if note:
                self.notices.append(Notice(label, number, email_header, raw, note))
            if extras:
                values, row_groups, row_basis = self._extras(row, number, values)
                if not row_groups:
                    summary.rejected += 1
                    reason = "no stakeholder group: the row names none and the list has no default"
                    self.rejects.append(Reject(label, number, headers.get("group", ""), "", reason))
                    continue
                yield email, label, number, values, row_groups, row_basis
            else:
                yield email, label, number, values, groups, basis

    def _extras(
        self, row: list[str], number: int, values: tuple[str, ...]
    ) -> tuple[tuple[str, ...], tuple[str, ...], int]:
        """A full-name column, a group column, consent and legal-basis columns of one row."""
        groups, basis = self.groups, self.basis
        full_i, group_i = self.full_i, self.group_i
        if full_i >= 0 and not values[0] and not values[1] and row[full_i].strip():
            first, last = split_full_name(row[full_i])
            values = (fix_name_case(first), fix_name_case(last), *values[2:])
        if group_i >= 0 and row[group_i].strip():
            groups = self._groups(row[group_i], number) or groups
        if self.consent_i >= 0 or self.basis_i >= 0:
            basis = self._basis(row, self.consent_i, self.basis_i, number)
        return values, groups, basis

    def _groups(self, cell: str, number: int) -> tuple[str, ...]:
        known, unknown = parse_groups(cell)
        if unknown:
            names = ", ".join(repr(name) for name in unknown)
            self.notices.append(
                Notice(
                    self.sheet.label,
                    number,
                    self.headers["group"],
                    cell,
                    f"unknown stakeholder group {names}; the list's group, if any, is used",
                )
            )
        return known

    def _basis(self, values: list[str], consent_i: int, basis_i: int, number: int) -> int:
        n, default = len(values), self.basis
        if 0 <= basis_i < n and values[basis_i].strip():
            parsed = parse_legal_basis(values[basis_i])
            if parsed is not None:
                return BASIS_FLAGS[parsed]
            self._notice(
                number,
                "legal_basis",
                values[basis_i],
                "cannot tell the legal basis (expected zgoda/consent or zadanie publiczne/"
                "public task); the list's default is used",
            )
        if 0 <= consent_i < n and values[consent_i].strip():
            consent = parse_consent(values[consent_i])
            if consent is True:
                return default | CONSENT_FLAG
            if consent is False:
                return (default & PUBLIC_FLAG) | REFUSED_FLAG
            self._notice(
                number,
                "consent",
                values[consent_i],
                "cannot tell whether this is consent (expected tak/nie); "
                "the list's default is used",
            )
        return default

    def _notice(self, number: int, field: str, value: str, message: str) -> None:
        self.notices.append(Notice(self.sheet.label, number, self.headers[field], value, message))
