"""agents: claims, activity, first responses, escalations, CSAT, job leases

Revision ID: agents_0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "agents_0001"
down_revision = None
branch_labels = ("agents",)
depends_on = "intake_0001"


def _ticket_fk(name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["ticket_id"], ["tickets.id"], name=f"fk_{name}_ticket_id_tickets", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "agent_claims",
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name="pk_agent_claims"),
    )
    op.create_index("ix_agent_claims_agent", "agent_claims", ["agent"])
    op.create_table(
        "agent_activity",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_activity"),
        _ticket_fk("agent_activity"),
    )
    op.create_index("ix_agent_activity_conversation_id", "agent_activity", ["conversation_id"])
    op.create_index("ix_agent_activity_ticket_id", "agent_activity", ["ticket_id"])
    op.create_table(
        "ticket_first_responses",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name="pk_ticket_first_responses"),
        _ticket_fk("ticket_first_responses"),
    )
    op.create_table(
        "ticket_escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("from_priority", sa.String(2), nullable=False),
        sa.Column("to_priority", sa.String(2), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_escalations"),
        sa.UniqueConstraint("ticket_id", "rule", name="uq_ticket_escalations_rule"),
        _ticket_fk("ticket_escalations"),
    )
    op.create_index("ix_ticket_escalations_ticket_id", "ticket_escalations", ["ticket_id"])
    op.create_table(
        "csat",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("surveyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("ticket_id", name="pk_csat"),
        _ticket_fk("csat"),
    )
    op.create_index("ix_csat_answered_at", "csat", ["answered_at"])
    op.create_table(
        "agent_job_leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_agent_job_leases"),
    )


def downgrade() -> None:
    for table in (
        "agent_job_leases",
        "csat",
        "ticket_escalations",
        "ticket_first_responses",
        "agent_activity",
        "agent_claims",
    ):
        op.drop_table(table)
