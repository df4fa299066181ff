"""The schema Listonosz 0.1 created: deliveries, runs, suppressions.

0.1 made these tables with ``create_all`` and kept no revision, so a database without
``alembic_version`` may hold all of them (a ledger that has sent), only ``suppressions`` (the
CLI suppressed someone before anything was sent), or none. Each table is created here only
when missing, so every such database comes out at this revision with its rows untouched.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "deliveries" not in existing:
        op.create_table(
            "deliveries",
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("campaign", sa.String(80), nullable=False),
            sa.Column("kind", sa.String(40), nullable=False),
            sa.Column("email", sa.String(320), nullable=False),
            sa.Column("groups", sa.String(400), nullable=False),
            sa.Column("status", sa.String(10), nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("takeovers", sa.Integer, nullable=False),
            sa.Column("claim_token", sa.String(64), nullable=False),
            sa.Column("message_id", sa.String(200), nullable=False),
            sa.Column("detail", sa.Text, nullable=False),
            sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("settled_at", sa.DateTime(timezone=True)),
        )
        op.create_index(
            "ix_deliveries_campaign_kind_status", "deliveries", ["campaign", "kind", "status"]
        )
    if "runs" not in existing:
        op.create_table(
            "runs",
            sa.Column("run_id", sa.String(64), primary_key=True),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("finished_at", sa.DateTime(timezone=True)),
        )
    if "suppressions" not in existing:
        op.create_table(
            "suppressions",
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("email", sa.String(320)),  # NULL for an erased person
            sa.Column("reason", sa.String(20), nullable=False),
            sa.Column("detail", sa.Text, nullable=False),
            sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        )


def downgrade() -> None:
    raise NotImplementedError("0001 is the first schema: there is nothing to go back to")
