"""The store's tables: one MetaData for every table, whichever part of Listonosz uses it.

Changing a table here needs a migration in ``migrations/versions/`` too: the database is
upgraded by Alembic (see :mod:`listonosz.store.engine`), never by ``create_all``.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

#: One row per (campaign, message kind, recipient): claimed, then settled.
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
    # times the row was taken over from a run that stopped while sending it: each time, the
    # message may have left twice (with the same Message-ID)
    Column("takeovers", Integer, nullable=False, default=0),
    Column("claim_token", String(64), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True)),
    Index("ix_deliveries_campaign_kind_status", "campaign", "kind", "status"),
)

#: Every sending run and its heartbeat: a run that stopped beating gives up its claims.
runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)

#: Campaigns (or one message kind of one: ``kind`` is ``"*"`` for every kind) that staff
#: paused; every run checks before each claim and stops while its campaign is paused.
pauses = Table(
    "pauses",
    metadata,
    Column("campaign", String(80), primary_key=True),
    Column("kind", String(40), primary_key=True),
    Column("paused_at", DateTime(timezone=True), nullable=False),
)

#: People who must never be written to again, keyed by a hash of the normalised address.
suppressions = Table(
    "suppressions",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("email", String(320)),  # NULL for an erased person
    Column("reason", String(20), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("added_at", DateTime(timezone=True), nullable=False),
)
