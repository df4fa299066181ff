"""The store's tables: one MetaData for every table, whichever part of Listonosz uses it.

Changing a table here needs a migration in ``migrations/versions/`` too: the database is
upgraded by Alembic (see :mod:`listonosz.store.engine`), never by ``create_all``.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

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
    # what happened after hand-off, by tracking's precedence (a late "delivered" never
    # replaces a bounce or a complaint); NULL until an event arrives
    Column("outcome", String(20)),
    Column("outcome_at", DateTime(timezone=True)),
    Index("ix_deliveries_campaign_kind_status", "campaign", "kind", "status"),
    Index("ix_deliveries_message_id", "message_id"),
    Index("ix_deliveries_email", "email"),
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

#: People who must never be written to again (``scope`` "all"), or not sent newsletters
#: (``scope`` "newsletter"), keyed by a keyed hash of the normalised address (``key_scheme``
#: "hmac"; rows written before 0.2 keep their bare SHA-256, "sha256").
suppressions = Table(
    "suppressions",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("email", String(320)),  # NULL for an erased person
    Column("reason", String(20), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("scope", String(20), nullable=False, default="all"),
    Column("source", String(20), nullable=False, default=""),
    Column("key_scheme", String(10), nullable=False, default="hmac"),
    # lookups match a person by address too: without it, each one reads the whole table
    Index("ix_suppressions_email", "email"),
)

#: Everything that happens to a message after hand-off, or that a person does about it, from
#: any source (web page, provider webhook, bounce mailbox, SMTP reply, staff). The source's
#: own id makes a repeat harmless; ``delivery_key`` is NULL for an event no delivery matches
#: (kept, never lost). ``detail`` is JSON without addresses.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(20), nullable=False),
    Column("source_event_id", String(200), nullable=False),
    Column("delivery_key", String(64)),
    Column("campaign", String(80)),
    Column("type", String(20), nullable=False),
    Column("bounce_class", String(10)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("detail", Text, nullable=False, default="{}"),
    UniqueConstraint("source", "source_event_id", name="uq_events_source_id"),
    Index("ix_events_delivery_key", "delivery_key"),
)

#: Webhook bodies as they arrived, stored before the provider gets its 200 and processed
#: after: an event is never lost to a crash or a parser's bug (``status`` new, done, failed).
inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(20), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(10), nullable=False, default="new"),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_inbox_status", "status"),
)

#: Single-use values a source may send only once (Mailgun's webhook tokens), by source.
nonces = Table(
    "nonces",
    metadata,
    Column("source", String(20), primary_key=True),
    Column("value", String(200), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

#: Per campaign and person: the RSVP answer and attendance, each with when and where from.
participants = Table(
    "participants",
    metadata,
    Column("campaign", String(80), primary_key=True),
    Column("email", String(320), primary_key=True),
    Column("answer", String(10)),  # "yes", "no" or NULL (no answer)
    Column("answered_at", DateTime(timezone=True)),
    Column("answer_source", String(20)),
    Column("attended", String(10)),  # "attended", "absent" or NULL (not known yet)
    Column("attended_at", DateTime(timezone=True)),
    Column("attended_source", String(20)),
)

#: Campaigns whose attendance staff declared final: follow-ups that need it wait until then.
attendance_closures = Table(
    "attendance_closures",
    metadata,
    Column("campaign", String(80), primary_key=True),
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Column("source", String(20), nullable=False),
)

#: A mail service's "wait" (Retry-After), by transport, shared by every worker on the store.
holds = Table(
    "holds",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("until", DateTime(timezone=True), nullable=False),
)
