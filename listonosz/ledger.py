"""The delivery ledger: one row per (campaign, message kind, recipient), claimed then settled.

A row is *claimed* (status ``sending``) before its message leaves and *settled* (``sent``,
``failed`` or ``deferred``) after. Planning skips settled rows, so a message is never sent
twice on purpose; a row left in ``sending`` by a crash is reclaimed once its claim is stale,
resent with the same Message-ID, and counted as a possible duplicate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    event,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

SENDING, SENT, FAILED, DEFERRED = "sending", "sent", "failed", "deferred"
Status = Literal["sending", "sent", "failed", "deferred"]
SETTLED = (SENT, FAILED)

metadata = MetaData()
deliveries = Table(
    "deliveries",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("campaign", String(80), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("email", String(320), nullable=False),
    Column("groups", String(400), nullable=False, default=""),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("claim_token", String(64), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True)),
    Index("ix_deliveries_campaign_kind_status", "campaign", "kind", "status"),
)


def delivery_key(campaign: str, kind: str, email: str) -> str:
    """The ledger key of one message to one person: stable, and free of personal data."""
    return hashlib.sha256(f"{campaign}\x1f{kind}\x1f{email}".encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Claim:
    """A row this run may now send: ``resent`` when an earlier run left it in flight."""

    key: str
    email: str
    resent: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one claimed message ended."""

    key: str
    status: Status
    detail: str = ""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Ledger:
    """Who got which message. SQLite by default; any SQLAlchemy URL (PostgreSQL) works."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, connect_args=_connect_args(url))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def settled_emails(self, campaign: str, kind: str) -> set[str]:
        """Addresses whose message of this kind is settled as sent or failed for good."""
        query = select(deliveries.c.email).where(
            deliveries.c.campaign == campaign,
            deliveries.c.kind == kind,
            deliveries.c.status.in_(SETTLED),
        )
        with self.engine.connect() as conn:
            return set(conn.scalars(query))

    def claim(
        self,
        campaign: str,
        kind: str,
        recipients: Sequence[tuple[str, str, str]],
        run_id: str,
        stale_after: dt.timedelta,
    ) -> list[Claim]:
        """Claim ``(email, groups, message_id)`` rows for this run; returns the rows it won.

        New rows are inserted as ``sending``; ``deferred`` rows and ``sending`` rows whose claim
        is older than ``stale_after`` are taken over. Each step is one atomic statement, so two
        runs at once never both win a row.
        """
        now = _now()
        keys = {delivery_key(campaign, kind, email): email for email, _, _ in recipients}
        rows = [
            {
                "key": key,
                "campaign": campaign,
                "kind": kind,
                "email": email,
                "groups": groups,
                "status": SENDING,
                "attempts": 1,
                "claim_token": run_id,
                "message_id": message_id,
                "detail": "",
                "claimed_at": now,
            }
            for (email, groups, message_id), key in zip(recipients, keys, strict=True)
        ]
        with self.engine.begin() as conn:
            resent = set(
                conn.scalars(
                    select(deliveries.c.key).where(
                        deliveries.c.key.in_(keys),
                        deliveries.c.status == SENDING,
                        deliveries.c.claimed_at < now - stale_after,
                    )
                )
            )
            if rows:
                conn.execute(_insert_ignoring_conflicts(self.engine), rows)
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.key.in_(keys),
                    deliveries.c.claim_token != run_id,
                    or_(
                        deliveries.c.status == DEFERRED,
                        and_(
                            deliveries.c.status == SENDING,
                            deliveries.c.claimed_at < now - stale_after,
                        ),
                    ),
                )
                .values(
                    status=SENDING,
                    claim_token=run_id,
                    claimed_at=now,
                    attempts=deliveries.c.attempts + 1,
                )
            )
            won = conn.execute(
                select(deliveries.c.key, deliveries.c.email).where(
                    deliveries.c.key.in_(keys),
                    deliveries.c.claim_token == run_id,
                    deliveries.c.status == SENDING,
                )
            )
            return [Claim(key, email, key in resent) for key, email in won]

    def settle(self, run_id: str, outcomes: Iterable[Outcome]) -> None:
        """Record how each claimed message ended; rows claimed by another run are left alone."""
        now = _now()
        with self.engine.begin() as conn:
            for outcome in outcomes:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.key == outcome.key, deliveries.c.claim_token == run_id)
                    .values(status=outcome.status, detail=outcome.detail, settled_at=now)
                )

    def status_counts(self, campaign: str, kind: str) -> Counter[str]:
        """How many rows of this campaign's message kind are in each status."""
        query = (
            select(deliveries.c.status, func.count())
            .where(deliveries.c.campaign == campaign, deliveries.c.kind == kind)
            .group_by(deliveries.c.status)
        )
        with self.engine.connect() as conn:
            return Counter(dict(conn.execute(query).all()))

    def group_counts(self, campaign: str, kind: str) -> dict[str, Counter[str]]:
        """Per stakeholder group, how many rows are in each status (a person counts per group)."""
        query = select(deliveries.c.groups, deliveries.c.status).where(
            deliveries.c.campaign == campaign, deliveries.c.kind == kind
        )
        table: dict[str, Counter[str]] = {}
        with self.engine.connect() as conn:
            for groups, status in conn.execute(query):
                for group in groups.split(";") if groups else ["—"]:
                    table.setdefault(group, Counter())[status] += 1
        return table


def _connect_args(url: str) -> dict[str, object]:
    return {"timeout": 30, "check_same_thread": False} if url.startswith("sqlite") else {}


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _insert_ignoring_conflicts(engine: Engine):
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(deliveries).on_conflict_do_nothing(index_elements=["key"])
