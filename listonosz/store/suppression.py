"""The suppression list: people who must never be written to again, whatever the lists say.

Kept in the store beside the ledger (its own table). Each entry is keyed by a hash of the
normalised address; the address itself is kept too, except for an *erased* person (GDPR
art. 17), of whom only the hash remains: enough to keep them out, nothing to read back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import delete, select

from listonosz.contacts.model import Contact, Suppressed
from listonosz.contacts.normalise import normalise_email
from listonosz.errors import ListonoszError
from listonosz.store.engine import StoreHandle
from listonosz.store.schema import suppressions

Reason = Literal["unsubscribed", "hard_bounce", "complaint", "erased", "manual"]
REASONS: tuple[str, ...] = get_args(Reason)


class SuppressionError(ListonoszError, ValueError):
    """A suppression the list cannot take: an invalid address or an unknown reason."""


def suppression_key(email: str) -> str:
    """The key of a normalised address: its SHA-256, so an erased person leaves no address."""
    return hashlib.sha256(email.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """One suppressed person as the list shows them (``email`` is empty when erased)."""

    key: str
    email: str
    reason: str
    detail: str
    added_at: dt.datetime


class SuppressionList(StoreHandle):
    """Add, remove, list, and filter audiences. Same database (and engine) as the ledger."""

    def add(self, email: str, reason: str, detail: str = "") -> Entry:
        """Suppress an address (again: the newest reason wins). Invalid input raises."""
        if reason not in REASONS:
            raise SuppressionError(f"unknown reason {reason!r}; use one of {', '.join(REASONS)}")
        normalised = _normalise(email)
        key = suppression_key(normalised)
        entry = Entry(
            key,
            "" if reason == "erased" else normalised,
            reason,
            detail,
            dt.datetime.now(dt.UTC),
        )
        with self.engine.begin() as conn:
            conn.execute(delete(suppressions).where(suppressions.c.key == key))
            conn.execute(
                suppressions.insert().values(
                    key=key,
                    email=entry.email or None,
                    reason=reason,
                    detail=detail,
                    added_at=entry.added_at,
                )
            )
        return entry

    def remove(self, email: str) -> bool:
        """Lift a suppression; False when the address was not suppressed."""
        key = suppression_key(_normalise(email))
        with self.engine.begin() as conn:
            return conn.execute(delete(suppressions).where(suppressions.c.key == key)).rowcount > 0

    def entries(self) -> list[Entry]:
        """Every suppression, newest first."""
        query = select(suppressions).order_by(suppressions.c.added_at.desc())
        with self.engine.connect() as conn:
            return [
                Entry(row.key, row.email or "", row.reason, row.detail, row.added_at)
                for row in conn.execute(query)
            ]

    def reasons(self) -> dict[str, str]:
        """Key → reason of every suppression."""
        with self.engine.connect() as conn:
            query = select(suppressions.c.key, suppressions.c.reason)
            return dict(conn.execute(query).tuples().all())

    def filter(self, contacts: Sequence[Contact]) -> tuple[list[Contact], list[Suppressed]]:
        """(contacts to keep, the suppressed ones with their reason), order kept."""
        reasons = self.reasons()
        if not reasons:
            return list(contacts), []
        kept: list[Contact] = []
        suppressed: list[Suppressed] = []
        for contact in contacts:
            reason = reasons.get(suppression_key(contact.email))
            if reason is None:
                kept.append(contact)
            else:
                suppressed.append(Suppressed(contact.email, reason))
        return kept, suppressed

    def add_many(self, emails: Iterable[str], reason: str, detail: str = "") -> int:
        """Suppress many addresses (e.g. a provider's bounce list); returns how many."""
        return len([self.add(email, reason, detail) for email in emails])


def _normalise(email: str) -> str:
    try:
        return normalise_email(email)
    except ValueError as exc:
        raise SuppressionError(f"{email!r} is not a usable e-mail address: {exc}") from None
