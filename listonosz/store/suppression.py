"""The suppression list: people who must never be written to again, whatever the lists say.

Kept in the store beside the ledger (its own table). Each entry is keyed by an HMAC of the
normalised address under the installation's secret; the address itself is kept too, except
for an *erased* person (GDPR art. 17), of whom only the keyed hash remains: enough to keep
them out, nothing to read back (a bare hash would be reversed by anyone holding a list of
addresses). Entries written before 0.2 keep their bare SHA-256 key and still match.

An entry's scope is ``all`` (nothing more from this sender) or ``newsletter`` (invitations
and event messages still, newsletters no more).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args

from sqlalchemy import ColumnElement, Connection, bindparam, delete, or_, select

from listonosz.contacts.model import Contact, Suppressed
from listonosz.contacts.normalise import normalise_email
from listonosz.errors import ListonoszError
from listonosz.store.engine import StoreHandle
from listonosz.store.schema import suppressions

Reason = Literal["unsubscribed", "hard_bounce", "soft_bounces", "complaint", "erased", "manual"]
REASONS: tuple[str, ...] = get_args(Reason)
Scope = Literal["all", "newsletter"]
SCOPES: tuple[str, ...] = get_args(Scope)


class SuppressionError(ListonoszError, ValueError):
    """A suppression the list cannot take: an invalid address, reason or scope."""


def person_key(secret: bytes, email: str) -> str:
    """The keyed hash of a normalised address: who a stored row is about, without the address.

    An HMAC under a key derived from the installation's secret, so nobody without that secret
    can test a list of addresses against it.
    """
    return hmac.new(_derived_key(secret), email.encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=8)
def _derived_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"listonosz person key", hashlib.sha256).digest()


def legacy_key(email: str) -> str:
    """The bare SHA-256 key that suppressions written before 0.2 carry."""
    return hashlib.sha256(email.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """One suppressed person as the list shows them (``email`` is empty when erased)."""

    key: str
    email: str
    reason: str
    detail: str
    added_at: dt.datetime
    scope: str = "all"
    source: str = ""


class SuppressionList(StoreHandle):
    """Add, remove, list, and filter audiences. Same database (and engine) as the ledger.

    ``secret`` is the installation's secret (``Settings.signing_secret()``): it keys the hashes.
    """

    def __init__(self, url: str, secret: bytes) -> None:
        super().__init__(url)
        self._secret = secret

    def key(self, email: str) -> str:
        """The key of an address (normalised here; an invalid one raises)."""
        return person_key(self._secret, _normalise(email))

    def add(
        self,
        email: str,
        reason: str,
        detail: str = "",
        *,
        scope: str = "all",
        source: str = "staff",
        conn: Connection | None = None,
    ) -> Entry:
        """Suppress an address; invalid input raises. In ``conn``'s transaction when given.

        The newest entry wins, except that a newsletter-only entry never narrows an entry for
        everything that has another reason than an unsubscribe (a complaint stays a complaint).
        """
        if reason not in REASONS:
            raise SuppressionError(f"unknown reason {reason!r}; use one of {', '.join(REASONS)}")
        if scope not in SCOPES:
            raise SuppressionError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")
        if conn is None:
            with self.engine.begin() as own:
                return self.add(email, reason, detail, scope=scope, source=source, conn=own)
        normalised = _normalise(email)
        key = person_key(self._secret, normalised)
        entry = Entry(
            key,
            "" if reason == "erased" else normalised,
            reason,
            detail,
            dt.datetime.now(dt.UTC),
            scope,
            source,
        )
        mine = _rows_of(key, normalised)
        if scope != "all":
            held = conn.execute(select(suppressions.c.reason, suppressions.c.scope).where(mine))
            if any(r.scope == "all" and r.reason != "unsubscribed" for r in held):
                return entry
        conn.execute(delete(suppressions).where(mine))
        conn.execute(
            suppressions.insert().values(
                key=key,
                email=entry.email or None,
                reason=reason,
                detail=detail,
                added_at=entry.added_at,
                scope=scope,
                source=source,
                key_scheme="hmac",
            )
        )
        return entry

    def remove(self, email: str) -> bool:
        """Lift a suppression; False when the address was not suppressed."""
        normalised = _normalise(email)
        mine = _rows_of(person_key(self._secret, normalised), normalised)
        with self.engine.begin() as conn:
            return conn.execute(delete(suppressions).where(mine)).rowcount > 0

    def entries(self) -> list[Entry]:
        """Every suppression, newest first."""
        query = select(suppressions).order_by(suppressions.c.added_at.desc())
        with self.engine.connect() as conn:
            return [
                Entry(
                    row.key,
                    row.email or "",
                    row.reason,
                    row.detail,
                    row.added_at,
                    row.scope,
                    row.source,
                )
                for row in conn.execute(query)
            ]

    def lookup(self, email: str) -> Entry | None:
        """The entry that holds this address back, if any."""
        normalised = _normalise(email)
        mine = _rows_of(person_key(self._secret, normalised), normalised)
        with self.engine.connect() as conn:
            row = conn.execute(select(suppressions).where(mine)).first()
        if row is None:
            return None
        return Entry(
            row.key, row.email or "", row.reason, row.detail, row.added_at, row.scope, row.source
        )

    def filter(
        self, contacts: Sequence[Contact], *, newsletter: bool = False
    ) -> tuple[list[Contact], list[Suppressed]]:
        """(contacts to keep, the suppressed ones with their reason), order kept.

        ``newsletter``: the message is a newsletter, so newsletter-only entries count too.
        """
        by_email: dict[str, str] = {}
        by_hmac: dict[str, str] = {}
        by_sha: dict[str, str] = {}
        query = select(
            suppressions.c.key,
            suppressions.c.email,
            suppressions.c.reason,
            suppressions.c.scope,
            suppressions.c.key_scheme,
        )
        with self.engine.connect() as conn:
            for key, email, reason, scope, scheme in conn.execute(query):
                if scope != "all" and not newsletter:
                    continue
                if email:
                    by_email[email] = reason
                elif scheme == "sha256":
                    by_sha[key] = reason
                else:
                    by_hmac[key] = reason
        if not (by_email or by_hmac or by_sha):
            return list(contacts), []
        kept: list[Contact] = []
        suppressed: list[Suppressed] = []
        for contact in contacts:
            reason = by_email.get(contact.email)
            if reason is None and by_hmac:
                reason = by_hmac.get(person_key(self._secret, contact.email))
            if reason is None and by_sha:
                reason = by_sha.get(legacy_key(contact.email))
            if reason is None:
                kept.append(contact)
            else:
                suppressed.append(Suppressed(contact.email, reason))
        return kept, suppressed

    def lookup_many(self, emails: Iterable[str]) -> dict[str, Entry]:
        """The entries that hold these addresses back, by address as given, in one query."""
        people = {email: _normalise(email) for email in set(emails)}
        if not people:
            return {}
        keys = {person_key(self._secret, n): n for n in people.values()}
        keys.update({legacy_key(n): n for n in people.values()})
        found: dict[str, Entry] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                _ROWS_OF_MANY, {"keys": sorted(keys), "emails": sorted(set(people.values()))}
            )
            for row in rows:
                whose = keys.get(row.key) or row.email
                found.setdefault(
                    whose,
                    Entry(
                        row.key,
                        row.email or "",
                        row.reason,
                        row.detail,
                        row.added_at,
                        row.scope,
                        row.source,
                    ),
                )
        return {email: found[n] for email, n in people.items() if n in found}

    def add_batch(
        self, additions: Sequence[Addition], conn: Connection | None = None
    ) -> list[Entry]:
        """:meth:`add` for each of ``additions`` in turn, at once (the web app suppresses the
        unsubscribes that arrive together), in ``conn``'s transaction when given."""
        now = dt.datetime.now(dt.UTC)
        entries: list[Entry] = []
        for addition in additions:
            if addition.reason not in REASONS:
                raise SuppressionError(
                    f"unknown reason {addition.reason!r}; use one of {', '.join(REASONS)}"
                )
            if addition.scope not in SCOPES:
                raise SuppressionError(
                    f"unknown scope {addition.scope!r}; use one of {', '.join(SCOPES)}"
                )
            normalised = _normalise(addition.email)
            entries.append(
                Entry(
                    person_key(self._secret, normalised),
                    "" if addition.reason == "erased" else normalised,
                    addition.reason,
                    addition.detail,
                    now,
                    addition.scope,
                    addition.source,
                )
            )
        if not entries:
            return []
        people = {e.key: _normalise(a.email) for e, a in zip(entries, additions, strict=True)}
        if conn is None:
            with self.engine.begin() as own:
                return self._add_batch(entries, people, own)
        return self._add_batch(entries, people, conn)

    def _add_batch(
        self, entries: list[Entry], people: dict[str, str], conn: Connection
    ) -> list[Entry]:
        keys = dict(people)
        keys.update({legacy_key(n): n for n in people.values()})
        # what each person's rows hold now: (scope, reason) of each
        held: dict[str, list[tuple[str, str]]] = {}
        if any(e.scope != "all" for e in entries):
            rows = conn.execute(
                _ROWS_OF_MANY,
                {"keys": sorted(keys), "emails": sorted(set(people.values()))},
            )
            for row in rows:
                whose = keys.get(row.key) or row.email
                held.setdefault(whose, []).append((row.scope, row.reason))
        final: dict[str, Entry] = {}
        for entry in entries:
            whose = people[entry.key]
            if entry.scope != "all" and any(
                scope == "all" and reason != "unsubscribed" for scope, reason in held.get(whose, [])
            ):
                continue  # a newsletter-only entry never narrows a complaint (as in add)
            final[whose] = entry
            held[whose] = [(entry.scope, entry.reason)]
        if final:
            mine = [k for k, n in keys.items() if n in final]
            conn.execute(_DELETE_ROWS_OF_MANY, {"keys": mine, "emails": sorted(final)})
            conn.execute(
                suppressions.insert(),
                [
                    {
                        "key": e.key,
                        "email": e.email or None,
                        "reason": e.reason,
                        "detail": e.detail,
                        "added_at": e.added_at,
                        "scope": e.scope,
                        "source": e.source,
                        "key_scheme": "hmac",
                    }
                    for e in final.values()
                ],
            )
        return entries

    def add_many(self, emails: Iterable[str], reason: str, detail: str = "") -> int:
        """Suppress many addresses (e.g. a provider's bounce list); returns how many."""
        return len([self.add(email, reason, detail) for email in emails])


class Addition(NamedTuple):
    """One suppression to add, as :meth:`SuppressionList.add` takes it."""

    email: str
    reason: str
    detail: str = ""
    scope: str = "all"
    source: str = "staff"


#: Every row about some people (``keys``: keyed and bare hashes; ``emails``: normalised),
#: built once: a statement made per call costs more than its query.
_MANY = or_(
    suppressions.c.key.in_(bindparam("keys", expanding=True)),
    suppressions.c.email.in_(bindparam("emails", expanding=True)),
)
_ROWS_OF_MANY = select(suppressions).where(_MANY)
_DELETE_ROWS_OF_MANY = delete(suppressions).where(_MANY)


def _rows_of(key: str, normalised: str) -> ColumnElement[bool]:
    """Every row about this person: by keyed hash, by address, or by a pre-0.2 bare hash."""
    return or_(
        suppressions.c.key == key,
        suppressions.c.key == legacy_key(normalised),
        suppressions.c.email == normalised,
    )


def _normalise(email: str) -> str:
    try:
        return normalise_email(email)
    except ValueError as exc:
        raise SuppressionError(f"{email!r} is not a usable e-mail address: {exc}") from None
