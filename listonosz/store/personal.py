"""One person's data across every table of the store: read it all (export, GDPR art. 15) or
remove it all (erasure, art. 17), leaving only a keyed hash on the suppression list.

Every table that can hold an address or a delivery key is listed here; a new table must be
too (a test checks that every table of the schema is covered).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select, text

from listonosz.store.engine import StoreHandle
from listonosz.store.events import EventLog, StoredEvent
from listonosz.store.ledger import Delivery, Ledger
from listonosz.store.participants import Participant, Participants
from listonosz.store.schema import deliveries, events, inbox, participants, suppressions
from listonosz.store.suppression import Entry, SuppressionList, legacy_key, person_key

#: The tables erasure clears of a person (the others, ``runs``, ``pauses``, ``nonces`` and
#: ``alembic_version``, hold nobody).
PERSONAL_TABLES = ("deliveries", "events", "participants", "suppressions", "inbox")


@dataclass(frozen=True, slots=True)
class PersonData:
    """Everything the store holds about one address."""

    email: str
    key: str
    deliveries: list[Delivery]
    events: list[StoredEvent]
    participants: list[Participant]
    suppression: Entry | None


@dataclass(frozen=True, slots=True)
class Erased:
    """What erasure removed (counts of rows), and the person's keyed hash that remains."""

    key: str
    deliveries: int
    events: int
    participants: int


class PersonalData(StoreHandle):
    """Export and erasure of one person's data. ``secret`` keys the hashes (see
    :func:`listonosz.store.person_key`)."""

    def __init__(self, url: str, secret: bytes) -> None:
        super().__init__(url)
        self._secret = secret
        self._ledger = Ledger(url)
        self._log = EventLog(url)
        self._participants = Participants(url)
        self._suppressions = SuppressionList(url, secret)

    def close(self) -> None:
        for handle in (self._ledger, self._log, self._participants, self._suppressions):
            handle.close()
        super().close()

    def data(self, email: str) -> PersonData:
        """Every row about ``email`` (a normalised address)."""
        sent = self._ledger.deliveries_to(email)
        return PersonData(
            email,
            person_key(self._secret, email),
            sent,
            self._log.for_deliveries(d.key for d in sent),
            self._participants.of_person(email),
            self._suppressions.lookup(email),
        )

    def log_export(self, email: str, source: str = "staff") -> None:
        """Record that a person's data was exported (the event names their keyed hash only)."""
        self._log.record(self._about(email, "exported", source, {}))

    def erase(self, email: str, source: str = "staff") -> Erased:
        """Remove ``email`` from every table in one transaction; suppress its keyed hash.

        SQLite overwrites what it deletes (``secure_delete``) and its write-ahead log is
        truncated after, so the address is in no file of the store; PostgreSQL is vacuumed
        (its backups and WAL archives are the operator's to expire).
        """
        key = person_key(self._secret, email)
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA secure_delete=ON")
            keys = list(conn.scalars(select(deliveries.c.key).where(deliveries.c.email == email)))
            removed_events = 0
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                removed_events += conn.execute(
                    delete(events).where(events.c.delivery_key.in_(chunk))
                ).rowcount
            removed_deliveries = conn.execute(
                delete(deliveries).where(deliveries.c.email == email)
            ).rowcount
            removed_participants = conn.execute(
                delete(participants).where(participants.c.email == email)
            ).rowcount
            # webhook bodies not processed yet name recipients as the provider wrote them
            conn.execute(delete(inbox).where(func.lower(inbox.c.body).contains(email)))
            conn.execute(
                delete(suppressions).where(
                    or_(
                        suppressions.c.email == email,
                        suppressions.c.key == key,
                        suppressions.c.key == legacy_key(email),
                    )
                )
            )
            conn.execute(
                suppressions.insert().values(
                    key=key,
                    email=None,
                    reason="erased",
                    detail="",
                    added_at=now,
                    scope="all",
                    source=source,
                    key_scheme="hmac",
                )
            )
        erased = Erased(key, removed_deliveries, removed_events, removed_participants)
        self._log.record(
            self._about(
                email,
                "erased",
                source,
                {
                    "deliveries": erased.deliveries,
                    "events": erased.events,
                    "participants": erased.participants,
                },
            )
        )
        self._scrub()
        return erased

    def _about(self, email: str, type_: str, source: str, detail: dict[str, int]) -> StoredEvent:
        return StoredEvent(
            source=source,
            source_event_id=uuid.uuid4().hex,
            type=type_,
            occurred_at=dt.datetime.now(dt.UTC),
            detail={"person": person_key(self._secret, email), **detail},
        )

    def _scrub(self) -> None:
        """Leave no deleted row readable in the database's files."""
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        elif dialect == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in PERSONAL_TABLES:
                    conn.execute(text(f"VACUUM {table}"))
