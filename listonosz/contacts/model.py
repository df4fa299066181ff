"""The person Listonosz writes to, and the records of what the merge left out or noticed."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

from listonosz.contacts.groups import group_label

Gender = Literal["f", "m", ""]
#: Why we may write to a person: their consent, or the institution's public task (GDPR 6(1)(e)).
LegalBasis = Literal["consent", "public_task", ""]

#: The personal fields a contact carries besides its address, in the order of ``origins``.
PERSON_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "organisation",
    "position",
    "gender",
    "phone",
    "county",
    "municipality",
    "salutation",
)


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
    phone: str = ""
    county: str = ""
    municipality: str = ""
    #: How to greet this person, from a list's own column ("Szanowna Pani Marszałek"): wins
    #: over every rule of the salutation table.
    salutation: str = ""
    legal_basis: LegalBasis = ""
    #: For each of :data:`PERSON_FIELDS`, the index in ``sources`` its value came from (-1: none);
    #: empty when every value comes from ``sources[0]``.
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
        if not self.origins:
            return {name: self.sources[0] for name in PERSON_FIELDS if getattr(self, name)}
        return {
            name: self.sources[index]
            for name, index in zip(PERSON_FIELDS, self.origins, strict=False)
            if index >= 0
        }


# What make_contact uses: the slots' own setters (a frozen dataclass refuses setattr).
_new = object.__new__
_set_email = Contact.__dict__["email"].__set__
_set_first_name = Contact.__dict__["first_name"].__set__
_set_last_name = Contact.__dict__["last_name"].__set__
_set_organisation = Contact.__dict__["organisation"].__set__
_set_position = Contact.__dict__["position"].__set__
_set_gender = Contact.__dict__["gender"].__set__
_set_groups = Contact.__dict__["groups"].__set__
_set_sources = Contact.__dict__["sources"].__set__
_set_phone = Contact.__dict__["phone"].__set__
_set_county = Contact.__dict__["county"].__set__
_set_municipality = Contact.__dict__["municipality"].__set__
_set_salutation = Contact.__dict__["salutation"].__set__
_set_legal_basis = Contact.__dict__["legal_basis"].__set__
_set_origins = Contact.__dict__["origins"].__set__


def make_contact(
    email: str,
    first_name: str,
    last_name: str,
    organisation: str,
    position: str,
    gender: Gender,
    groups: tuple[str, ...],
    sources: tuple[str, ...],
    phone: str,
    county: str,
    municipality: str,
    salutation: str,
    legal_basis: LegalBasis,
    origins: tuple[int, ...],
    *_more: object,
) -> Contact:
    """``Contact(...)`` with every field given, twice as fast, for a merge that makes a million:
    it fills the slots directly instead of through ``object.__setattr__`` as the ``__init__``
    of a frozen dataclass does. The contact is the same. Arguments past the last field are
    ignored (so a merge can pass its records whole)."""
    contact = _new(Contact)
    _set_email(contact, email)
    _set_first_name(contact, first_name)
    _set_last_name(contact, last_name)
    _set_organisation(contact, organisation)
    _set_position(contact, position)
    _set_gender(contact, gender)
    _set_groups(contact, groups)
    _set_sources(contact, sources)
    _set_phone(contact, phone)
    _set_county(contact, county)
    _set_municipality(contact, municipality)
    _set_salutation(contact, salutation)
    _set_legal_basis(contact, legal_basis)
    _set_origins(contact, origins)
    return contact


_code = make_contact.__code__
assert _code.co_varnames[: _code.co_argcount] == tuple(f.name for f in fields(Contact)), (
    "make_contact must fill every field of Contact, in order"
)


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
    """Something worth a second look that did not cost the row its place (a likely typo …).

    ``row`` is 0 and ``column`` empty for a notice about a whole file or sheet.
    """

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
        return (
            f"{self.other_from}: {self.email}: {self.field} {self.other!r} differs from "
            f"{self.kept!r} ({self.kept_from}); kept {self.kept!r}"
        )


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A person the suppression list keeps out of every audience, and why."""

    email: str
    reason: str
