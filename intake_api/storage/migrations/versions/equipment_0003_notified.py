"""equipment: when an alarm's customer notice was written (a notice not yet written is sent
after a restart)

Revision ID: equipment_0003
Revises: equipment_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "equipment_0003"
down_revision = "equipment_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alarms") as batch:
        batch.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alarms") as batch:
        batch.drop_column("notified_at")
