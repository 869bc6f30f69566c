"""Inbound messages keep the attachments the customer sent.

Revision ID: dialogue_0002
Revises: dialogue_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dialogue_0002"
down_revision = "dialogue_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("attachments", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("attachments")
