"""Tracking: each delivery's outcome after hand-off, the webhook inbox, single-use nonces.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("outcome", sa.String(20)))
        batch.add_column(sa.Column("outcome_at", sa.DateTime(timezone=True)))
    op.create_index("ix_deliveries_message_id", "deliveries", ["message_id"])
    op.create_index("ix_deliveries_email", "deliveries", ["email"])
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_inbox_status", "inbox", ["status"])
    op.create_table(
        "nonces",
        sa.Column("source", sa.String(20), primary_key=True),
        sa.Column("value", sa.String(200), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("nonces")
    op.drop_index("ix_inbox_status", "inbox")
    op.drop_table("inbox")
    op.drop_index("ix_deliveries_email", "deliveries")
    op.drop_index("ix_deliveries_message_id", "deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("outcome_at")
        batch.drop_column("outcome")
