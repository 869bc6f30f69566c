"""deliveries: the outbox table of webhook deliveries to the backend

Revision ID: deliveries_0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "deliveries_0001"
down_revision = None
branch_labels = ("deliveries",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(128), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_outbox"),
        sa.UniqueConstraint("event_id", name="uq_delivery_outbox_event_id"),
    )
    op.create_index("ix_delivery_outbox_due", "delivery_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_delivery_outbox_ticket", "delivery_outbox", ["ticket_id", "id"])


def downgrade() -> None:
    op.drop_table("delivery_outbox")
