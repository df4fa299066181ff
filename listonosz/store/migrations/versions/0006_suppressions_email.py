"""An index on suppressions.email: every lookup matches a person by address too (beside the
keyed and bare hashes), which read the whole table without it.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_suppressions_email", "suppressions", ["email"])


def downgrade() -> None:
    op.drop_index("ix_suppressions_email", table_name="suppressions")
