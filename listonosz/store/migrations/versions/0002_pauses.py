"""Pauses: campaigns (or one message kind of one) that staff paused.

Development builds between 0.1 and this revision created ``pauses`` with ``create_all``;
such a database already has it and keeps it.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("pauses"):
        return
    op.create_table(
        "pauses",
        sa.Column("campaign", sa.String(80), primary_key=True),
        sa.Column("kind", sa.String(40), primary_key=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pauses")
