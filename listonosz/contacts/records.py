"""Turning the rows of one sheet into clean records, and the rows we cannot use into rejects.

A record is a usable row as the fields of a one-row :class:`Contact`, in order, followed by
the row's legal-basis flags (``make_contact(*record)`` makes the Contact). This is the hot loop
of a merge (a million rows), so a chunk of rows is handled a column at a time with built-ins
that loop in C (``map``, ``zip``, ``compress``), each distinct value of a column (first names,
organisations …) is cleaned once (and interned: equal values are then one string, quick to
compare and to pack), and only the rows that need a second look (a rejected address, a warning,
extra columns) are visited one at a time.

Every text field is cleaned with :func:`~listonosz.contacts.text.clean_visible` after the
formula guard of our own CSV files is undone (:func:`~listonosz.contacts.csvout.unguard`):
invisible formatting characters (bidirectional controls, zero-width characters, stray BOMs)
are removed, with a warning per cell, and a value longer than :data:`MAX_FIELD_CHARS` costs
the row its place (a reject), as it is no name, organisation or position but a damaged cell.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from listonosz.contacts.csvout import unguard
from listonosz.contacts.emails import EmailChecker
from listonosz.contacts.groups import parse_groups
from listonosz.contacts.legal import CONSENT, PUBLIC_TASK, parse_consent, parse_legal_basis
from listonosz.contacts.model import PERSON_FIELDS, Contact, Notice, Reject
from listonosz.contacts.normalise import fix_name_case, parse_gender, split_full_name
from listonosz.contacts.sheet import Sheet
from listonosz.contacts.text import clean_visible, invisible_in

#: Contact's fields in order (email, five PERSON_FIELDS, groups, sources, the other four,
#: legal basis, origins), then the row's legal-basis flags.
Record = tuple[
    str, str, str, str, str, str, tuple[str, ...], tuple[str, ...], str, str, str, str, str,
    tuple[int, ...], int,
]  # fmt: skip

#: The first items of a record (tests check SheetReader makes them in this order).
CONTACT_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Contact))
#: Where the person's values are in a record.
VALUE_INDEX: tuple[int, ...] = tuple(CONTACT_FIELDS.index(name) for name in PERSON_FIELDS)
#: Where the groups, the sources and the legal-basis flags are: literals, so that a type
#: checker knows what each one holds (a test checks them against CONTACT_FIELDS).
GROUPS: Final = 6
SOURCES: Final = 7
FLAGS: Final = 14

#: Legal-basis evidence of one record, as bit flags.
CONSENT_FLAG, PUBLIC_FLAG, REFUSED_FLAG = 1, 2, 4
BASIS_FLAGS: dict[str, int] = {CONSENT: CONSENT_FLAG, PUBLIC_TASK: PUBLIC_FLAG}


def legal_basis(flags: int) -> str:
    """The legal basis the evidence gives: consent unless refused, else public task if any."""
    if flags & CONSENT_FLAG and not flags & REFUSED_FLAG:
        return CONSENT
    if flags & PUBLIC_FLAG:
        return PUBLIC_TASK
    return ""


#: The legal basis of every combination of flags.
BASIS_OF_FLAGS: tuple[str, ...] = tuple(legal_basis(flags) for flags in range(8))

_FIRST, _SECOND = operator.itemgetter(0), operator.itemgetter(1)
_CACHE_LIMIT = 100_000
#: The longest name, organisation, position or other text field a row may have, in
#: characters after cleaning: longer is a damaged cell, and would reach To names, subjects
#: and bodies. (Poland's longest institution names are about half of it.)
MAX_FIELD_CHARS = 200
#: How many characters of an overlong value a reject shows.
_SHOWN = 60


@dataclass
class SourceSummary:
    """What one file (or one sheet) gave: rows, rejects, and how it was read."""

    label: str
    details: str
    rows: int = 0
    rejected: int = 0


def _clean_field(raw: str) -> str:
    return clean_visible(unguard(raw))


def _clean_name(raw: str) -> str:
    return fix_name_case(clean_visible(unguard(raw)))


_CLEANERS: dict[str, Callable[[str], str]] = {
    "first_name": _clean_name,
    "last_name": _clean_name,
    "gender": parse_gender,
}


class Caches:
    """Cleaned values by raw value, per field, shared by every sheet of a merge; and the raw
    values that need a second look: those that had invisible characters (which ones, for the
    warnings) and those too long once cleaned (their length), so that clean rows cost nothing
    more."""

    def __init__(self) -> None:
        self.fields: dict[str, dict[str, str]] = {name: {"": ""} for name in PERSON_FIELDS}
        self.removed: dict[str, dict[str, str]] = {name: {} for name in PERSON_FIELDS}
        self.overlong: dict[str, dict[str, int]] = {name: {} for name in PERSON_FIELDS}


#: How to read one of PERSON_FIELDS: the column it is in, its cache, its cleaner, the
#: invisible characters found in its raw values, and its raw values too long once cleaned.
_FieldReader = tuple[int, dict[str, str], Callable[[str], str], dict[str, str], dict[str, int]]


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
        self.groups: tuple[str, ...] = (sys.intern(group),) if group else ()
        self.basis = BASIS_FLAGS.get(legal_basis, 0)
        self.emails = emails
        self.rejects = rejects
        self.notices = notices
        self.summary = SourceSummary(sheet.label, sheet.details)
        self.headers = sheet.headers
        self.prefix = f"{sheet.label}:"  # of a row's source, ``file:row``
        index = {name: i for i, name in sheet.columns.items()}
        self.email_i = index["email"]
        self.width = max(index.values()) + 1
        self.readers: list[_FieldReader | None] = [
            (index[name], caches.fields[name], _CLEANERS.get(name, _clean_field),
             caches.removed[name], caches.overlong[name])
            if name in index
            else None
            for name in PERSON_FIELDS
        ]  # fmt: skip
        self.full_i = index.get("full_name", -1)
        self.group_i = index.get("group", -1)
        self.consent_i = index.get("consent", -1)
        self.basis_i = index.get("legal_basis", -1)
        self.extras = max(self.full_i, self.group_i, self.consent_i, self.basis_i) >= 0
        self.split: set[int] = set()  # the rows of a chunk whose names come from a full name
        if not self.groups:
            self.extras = True  # every row must name its group

    def chunks(self) -> Iterator[list[Record]]:
        """The usable rows, a chunk at a time; the summary's counts are final once exhausted."""
        for first, rows in self.sheet.chunks:
            yield self._records(first, rows)
        if not self.summary.rows:
            self.notices.append(
                Notice(
                    self.sheet.label,
                    0,
                    "",
                    "",
                    "a header and no rows: nobody is added from this list",
                )
            )

    def _records(self, first: int, rows: list[list[str]]) -> list[Record]:
        """The usable rows of a chunk as records, made a column at a time."""
        rows = self._padded(rows)
        numbers = range(first, first + len(rows))
        self.split.clear()
        columns = list(zip(*rows, strict=False))  # as many as the shortest row has: enough
        raw_emails = columns[self.email_i]
        if "\n'" in "\n" + "\n".join(raw_emails):  # one of our own files (rarely anything else)
            raw_emails = tuple(map(unguard, raw_emails))
        verdicts = list(map(self.emails.verdict, raw_emails))
        emails, notes = list(map(_FIRST, verdicts)), list(map(_SECOND, verdicts))
        values = [self._column(columns, len(rows), reader) for reader in self.readers]
        groups: Iterable[tuple[str, ...]]
        flags: Iterable[int]
        keep: list[bool] | None
        if self.extras:
            keep, groups, flags = self._extras(numbers, rows, raw_emails, emails, notes, values)
            bases: Iterable[str] = map(BASIS_OF_FLAGS.__getitem__, flags)
        else:
            keep = self._check_addresses(numbers, rows, raw_emails, emails, notes)
            groups, flags = itertools.repeat(self.groups), itertools.repeat(self.basis)
            bases = itertools.repeat(BASIS_OF_FLAGS[self.basis])
        keep = self._check_lengths(numbers, columns, emails, values, keep)
        self._warn_invisible(numbers, columns, emails, values, keep)
        sources = zip(map(self.prefix.__add__, map(str, numbers)))  # ("file:row",) each
        (first_name, last_name, organisation, position, gender, phone, county, municipality,
         salutation) = values  # fmt: skip
        records = zip(  # Contact's fields in order, then the flags
            emails, first_name, last_name, organisation, position, gender, groups, sources,
            phone, county, municipality, salutation, bases, itertools.repeat(()), flags,
            strict=False,  # the constant columns repeat for ever
        )  # fmt: skip
        return list(records if keep is None else itertools.compress(records, keep))

    def _padded(self, rows: list[list[str]]) -> list[list[str]]:
        """The rows, short ones padded so that every column we read exists."""
        width = self.width
        if min(map(len, rows)) >= width:
            return rows
        pad = [""] * width
        return [row if len(row) >= width else row + pad[len(row) :] for row in rows]

    @staticmethod
    def _column(
        columns: list[tuple[str, ...]], count: int, reader: _FieldReader | None
    ) -> list[str]:
        """One field of each of ``count`` rows, cleaned (each distinct raw value once)."""
        if reader is None:
            return [""] * count
        index, cache, clean, removed, overlong = reader
        raw = columns[index]
        cleaned = list(map(cache.get, raw))
        if None in cleaned:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
                cache[""] = ""
                removed.clear()
                overlong.clear()
            for j, value in enumerate(cleaned):
                if value is None:
                    value = cleaned[j] = cache[raw[j]] = sys.intern(clean(raw[j]))
                    if len(value) > MAX_FIELD_CHARS:
                        overlong[raw[j]] = len(value)
                    if what := invisible_in(raw[j]):
                        removed[raw[j]] = what
        # Every None was filled in above.
        return cleaned  # type: ignore[return-value]

    def _check_lengths(
        self,
        numbers: range,
        columns: list[tuple[str, ...]],
        emails: list[str | None],
        values: list[list[str]],
        keep: list[bool] | None,
    ) -> list[bool] | None:
        """Reject the rows still in with a text field longer than :data:`MAX_FIELD_CHARS`
        (in the order of rows); which rows go on (None: all of them)."""
        found: dict[int, str] = {}  # row index → the first field too long
        for field, reader, column in zip(PERSON_FIELDS, self.readers, values, strict=True):
            lengths: list[int | None]
            if self.full_i >= 0 and field in ("first_name", "last_name"):
                lengths = list(map(len, column))  # maybe split from a full name, row by row
            elif reader is not None and reader[4]:
                lengths = list(map(reader[4].get, columns[reader[0]]))
            else:
                continue
            for i, length in enumerate(lengths):
                if length and length > MAX_FIELD_CHARS and emails[i] is not None:
                    found.setdefault(i, field)
        for i in sorted(found):
            if keep is None:
                keep = [True] * len(emails)
            elif not keep[i]:
                continue
            keep[i] = False
            field = found[i]
            value = values[PERSON_FIELDS.index(field)][i]
            header = self.headers["full_name"] if i in self.split else self.headers[field]
            shown = f"{value[:_SHOWN]}… ({len(value)} characters)"
            reason = (
                f"{field} is {len(value)} characters long; at most {MAX_FIELD_CHARS} are "
                "accepted (a damaged cell?)"
            )
            self.summary.rejected += 1
            self.rejects.append(Reject(self.sheet.label, numbers[i], header, shown, reason))
        return keep

    def _warn_invisible(
        self,
        numbers: range,
        columns: list[tuple[str, ...]],
        emails: list[str | None],
        values: list[list[str]],
        keep: list[bool] | None,
    ) -> None:
        """A notice for each cell of a row that goes on that had invisible characters."""
        for field, reader, cleaned in zip(PERSON_FIELDS, self.readers, values, strict=True):
            if reader is None or not reader[3]:
                continue
            found = list(map(reader[3].get, columns[reader[0]]))
            if found.count(None) == len(found):
                continue
            for i, what in enumerate(found):
                if what and emails[i] is not None and (keep is None or keep[i]):
                    self._notice(numbers[i], field, cleaned[i], _removed(what))

    def _check_addresses(
        self,
        numbers: range,
        rows: list[list[str]],
        raw_emails: Sequence[str],
        emails: list[str | None],
        notes: list[str | None],
    ) -> list[bool] | None:
        """Report the rows whose address is rejected or warned about; which rows go on (None:
        all of them)."""
        if notes.count(None) == len(notes):  # every address usable, and no warning
            self.summary.rows += len(notes)
            return None
        self.summary.rows += notes.count(None)
        for i in itertools.compress(
            range(len(notes)), map(operator.is_not, notes, itertools.repeat(None))
        ):
            self._address(numbers[i], rows[i], raw_emails[i], emails[i], notes[i])
        if None not in emails:
            return None
        return list(map(operator.is_not, emails, itertools.repeat(None)))

    def _address(
        self, number: int, row: list[str], raw: str, email: str | None, note: str | None
    ) -> bool:
        """Count a row and report what is wrong with its address; whether the row goes on."""
        summary = self.summary
        if email is None:
            if not raw.strip() and not any(cell.strip() for cell in row):
                return False  # a blank row
            summary.rows += 1
            summary.rejected += 1
            self.rejects.append(
                Reject(self.sheet.label, number, self.headers["email"], raw, note or "")
            )
            return False
        summary.rows += 1
        if note:
            self.notices.append(Notice(self.sheet.label, number, self.headers["email"], raw, note))
        return True

    def _extras(
        self,
        numbers: range,
        rows: list[list[str]],
        raw_emails: Sequence[str],
        emails: list[str | None],
        notes: list[str | None],
        values: list[list[str]],
    ) -> tuple[list[bool], list[tuple[str, ...]], list[int]]:
        """Row by row: the address, then a full-name column, a group column, consent and
        legal-basis columns. Returns which rows go on, and each row's groups and flags."""
        first_names, last_names = values[0], values[1]
        full_i, group_i = self.full_i, self.group_i
        with_basis = self.consent_i >= 0 or self.basis_i >= 0
        count = len(rows)
        keep, groups, flags = [False] * count, [self.groups] * count, [self.basis] * count
        for i, number in enumerate(numbers):
            row = rows[i]
            if not self._address(number, row, raw_emails[i], emails[i], notes[i]):
                continue
            if full_i >= 0 and not first_names[i] and not last_names[i] and row[full_i].strip():
                first, last = split_full_name(unguard(row[full_i]))
                first_names[i], last_names[i] = fix_name_case(first), fix_name_case(last)
                self.split.add(i)
                if what := invisible_in(row[full_i]):
                    self._notice(number, "full_name", f"{first} {last}".strip(), _removed(what))
            if group_i >= 0 and row[group_i].strip():
                groups[i] = self._groups(row[group_i], number) or self.groups
            if with_basis:
                flags[i] = self._basis(row, self.consent_i, self.basis_i, number)
            if not groups[i]:
                self.summary.rejected += 1
                reason = "no stakeholder group: the row names none and the list has no default"
                self.rejects.append(
                    Reject(self.sheet.label, number, self.headers.get("group", ""), "", reason)
                )
                continue
            keep[i] = True
        return keep, groups, flags

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


def _removed(what: str) -> str:
    return f"removed invisible formatting characters: {what}"
