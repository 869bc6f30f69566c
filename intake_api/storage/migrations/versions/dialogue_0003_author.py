"""A conversation line keeps who wrote it when a person did (an agent's display name), so the
customer's history shows an agent's reply as that person's.

Revision ID: dialogue_0003
Revises: dialogue_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dialogue_0003"
down_revision = "dialogue_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_messages") as batch:
        batch.add_column(sa.Column("author", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversation_messages") as batch:
        batch.drop_column("author")
