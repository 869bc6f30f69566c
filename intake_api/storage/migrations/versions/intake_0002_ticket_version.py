"""Tickets carry a version (the ETag; `If-Match` on PATCH compares it): no lost updates.

Revision ID: intake_0002
Revises: intake_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, never batch mode: on SQLite batch mode copies `tickets` into a new table and
# drops the old one, and with foreign keys on that DROP deletes every row that references a
# ticket (events, first responses, CSAT) through ON DELETE CASCADE.
def upgrade() -> None:
    op.add_column(
        "tickets", sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1"))
    )


def downgrade() -> None:
    op.drop_column("tickets", "version")  # SQLite >= 3.35 drops a column in place
