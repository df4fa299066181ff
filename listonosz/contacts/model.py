"""The person Listonosz writes to, and the record of a row it could not use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from listonosz.contacts.groups import group_label

Gender = Literal["f", "m", ""]


@dataclass(frozen=True, slots=True)
class Contact:
    """One person (or one organisation's mailbox), merged across every list they appear on."""

    email: str
    first_name: str = ""
    last_name: str = ""
    organisation: str = ""
    position: str = ""
    gender: Gender = ""
    groups: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def group_labels(self) -> list[str]:
        return [group_label(code) for code in self.groups]


@dataclass(frozen=True, slots=True)
class Reject:
    """A row left out of the audience, with where it is and why."""

    source: str
    row: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.row}: column {self.column!r} ({self.value!r}): {self.reason}"
