"""Events and participants; suppression scope, source and keyed hashes.

``events`` holds what happens after hand-off (and what recipients do on the web app);
``participants`` each person's RSVP answer and attendance per campaign. Suppressions get a
scope (everything, or newsletters only), the source of the entry, and the scheme of their key:
rows written before this revision keep their bare SHA-256 key (``sha256``), new rows are keyed
with an HMAC under the installation's secret (``hmac``).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("suppressions") as batch:
        batch.add_column(sa.Column("scope", sa.String(20), nullable=False, server_default="all"))
        batch.add_column(sa.Column("source", sa.String(20), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("key_scheme", sa.String(10), nullable=False, server_default="sha256")
        )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_event_id", sa.String(200), nullable=False),
        sa.Column("delivery_key", sa.String(64)),
        sa.Column("campaign", sa.String(80)),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("bounce_class", sa.String(10)),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.UniqueConstraint("source", "source_event_id", name="uq_events_source_id"),
    )
    op.create_index("ix_events_delivery_key", "events", ["delivery_key"])
    op.create_table(
        "participants",
        sa.Column("campaign", sa.String(80), primary_key=True),
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("answer", sa.String(10)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("answer_source", sa.String(20)),
        sa.Column("attended", sa.String(10)),
        sa.Column("attended_at", sa.DateTime(timezone=True)),
        sa.Column("attended_source", sa.String(20)),
    )


def downgrade() -> None:
    op.drop_table("participants")
    op.drop_index("ix_events_delivery_key", "events")
    op.drop_table("events")
    with op.batch_alter_table("suppressions") as batch:
        batch.drop_column("key_scheme")
        batch.drop_column("source")
        batch.drop_column("scope")
