"""Merging contact lists into one audience: one person per address, groups as a set."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from listonosz.contacts.model import Contact, Reject
from listonosz.contacts.normalise import clean_text, fix_name_case, normalise_email, parse_gender
from listonosz.contacts.read import Row, read_rows

_TEXT_FIELDS = ("first_name", "last_name", "organisation", "position", "gender")


@dataclass(frozen=True, slots=True)
class SourceList:
    """A contact file and the stakeholder group everyone on it belongs to."""

    path: Path
    group: str
    label: str = ""


@dataclass
class MergeResult:
    """The merged audience, and everything left out or worth a second look."""

    contacts: list[Contact]
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows_read: Counter[str] = field(default_factory=Counter)

    def per_group(self) -> Counter[str]:
        """How many people of the audience are in each stakeholder group."""
        return Counter(group for contact in self.contacts for group in contact.groups)


@dataclass
class _Person:
    fields: dict[str, str]
    groups: set[str]
    sources: list[str]


def merge_lists(lists: Iterable[SourceList]) -> MergeResult:
    """Read every list, reject unusable rows, and merge people by normalised address."""
    people: dict[str, _Person] = {}
    rejects: list[Reject] = []
    warnings: list[str] = []
    rows_read: Counter[str] = Counter()
    for source in lists:
        label = source.label or str(source.path)
        for row in read_rows(source.path, label):
            rows_read[label] += 1
            email_cell = row.fields.get("email", "")
            try:
                email = normalise_email(email_cell)
            except ValueError as exc:
                column = row.headers["email"]
                rejects.append(Reject(row.source, row.number, column, email_cell, str(exc)))
                continue
            _add(people, email, _clean_fields(row), source.group, row, warnings)
    contacts = [
        Contact(
            email=email,
            first_name=person.fields.get("first_name", ""),
            last_name=person.fields.get("last_name", ""),
            organisation=person.fields.get("organisation", ""),
            position=person.fields.get("position", ""),
            gender=person.fields.get("gender", ""),  # type: ignore[arg-type]
            groups=tuple(sorted(person.groups)),
            sources=tuple(person.sources),
        )
        for email, person in sorted(people.items())
    ]
    return MergeResult(contacts, rejects, warnings, rows_read)


def _clean_fields(row: Row) -> dict[str, str]:
    fields = {name: clean_text(row.fields.get(name, "")) for name in _TEXT_FIELDS}
    fields["first_name"] = fix_name_case(fields["first_name"])
    fields["last_name"] = fix_name_case(fields["last_name"])
    fields["gender"] = parse_gender(fields["gender"])
    return fields


def _add(
    people: dict[str, _Person],
    email: str,
    fields: dict[str, str],
    group: str,
    row: Row,
    warnings: list[str],
) -> None:
    where = f"{row.source}:{row.number}"
    person = people.get(email)
    if person is None:
        people[email] = _Person({k: v for k, v in fields.items() if v}, {group}, [where])
        return
    person.groups.add(group)
    person.sources.append(where)
    for name, value in fields.items():
        if not value:
            continue
        kept = person.fields.get(name)
        if kept is None:
            person.fields[name] = value
        elif kept.casefold() != value.casefold():
            warnings.append(
                f"{where}: {email}: {name} {value!r} differs from {kept!r} "
                f"({person.sources[0]}); kept the first"
            )
