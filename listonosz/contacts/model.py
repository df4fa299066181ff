"""The person Listonosz writes to, and the records of what the merge left out or noticed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from listonosz.contacts.groups import group_label

Gender = Literal["f", "m", ""]
#: Why we may write to a person: their consent, or the institution's public task (GDPR 6(1)(e)).
LegalBasis = Literal["consent", "public_task", ""]

#: The personal fields a contact carries besides its address, in the order of ``origins``.
# fmt: off
PERSON_FIELDS: tuple[str, ...] = (
    "first_name", "last_name", "organisation", "position", "gender", "phone", "county",
    "municipality", "salutation",
)
# fmt: on


@dataclass(slots=True, unsafe_hash=True)
class Contact:
    """One person (or one organisation's mailbox), merged across every list they appear on.
    Never changed once made, but not frozen: a frozen dataclass's ``__init__`` is five times as
    slow (a second for a million-row merge)."""

    email: str
    first_name: str = ""
    last_name: str = ""
    organisation: str = ""
    position: str = ""
    gender: Gender = ""
    groups: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=(), compare=False)
    phone: str = ""
    county: str = ""
    municipality: str = ""
    salutation: str = ""  # a list's own greeting ("Szanowna Pani Marszałek"): wins over rules
    legal_basis: LegalBasis = ""
    #: For each of :data:`PERSON_FIELDS`, its value's index in ``sources`` (-1: none); empty
    #: when every value comes from ``sources[0]``.
    origins: tuple[int, ...] = field(default=(), compare=False, repr=False)

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def group_labels(self) -> list[str]:
        return [group_label(code) for code in self.groups]

    @property
    def provenance(self) -> dict[str, str]:
        """Field → ``file:row`` it was taken from, for every non-empty field."""
        origins = self.origins or [0 if getattr(self, name) else -1 for name in PERSON_FIELDS]
        pairs = zip(PERSON_FIELDS, origins, strict=True)
        return {name: self.sources[index] for name, index in pairs if index >= 0}


@dataclass
class SourceSummary:
    """What one file (or one sheet) gave: rows, rejects, and how it was read."""

    label: str
    details: str
    rows: int = 0
    rejected: int = 0


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


@dataclass(frozen=True, slots=True)
class Notice:
    """Something worth a second look that did not cost the row its place (a likely typo …);
    ``row`` 0 and ``column`` empty for one about a whole file or sheet."""

    source: str
    row: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.row}" if self.row else self.source
        column = f" column {self.column!r} ({self.value!r}):" if self.column else ""
        return f"{where}:{column} {self.message}"


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two lists disagree about one field of one person; ``kept`` won, ``other`` was dropped."""

    email: str
    field: str
    kept: str
    kept_from: str
    other: str
    other_from: str

    def __str__(self) -> str:
        differs = f"{self.field} {self.other!r} differs from {self.kept!r} ({self.kept_from})"
        return f"{self.other_from}: {self.email}: {differs}; kept {self.kept!r}"


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A person the suppression list keeps out of every audience, and why."""

    email: str
    reason: str


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
