"""phone: call transcripts with the conversation and ticket they made

Revision ID: phone_0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "phone_0001"
down_revision = None
branch_labels = ("phone",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phone_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(200), nullable=False),
        sa.Column("caller", sa.String(200), nullable=True),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=True),
        sa.Column("ticket_id", sa.String(32), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_phone_calls"),
        sa.UniqueConstraint("call_id", name="uq_phone_calls_call_id"),
    )
    op.create_index("ix_phone_calls_conversation_id", "phone_calls", ["conversation_id"])
    op.create_index("ix_phone_calls_ticket_id", "phone_calls", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("phone_calls")
