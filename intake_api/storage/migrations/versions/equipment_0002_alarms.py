"""equipment: alarms (one active per serial and code), fleet incidents, repeat-fault flags

Revision ID: equipment_0002
Revises: equipment_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "equipment_0002"
down_revision = "equipment_0001"
branch_labels = None
depends_on = "intake_0001"

ACTIVE_ONLY = sa.text("status = 'active'")


def _ticket_fk(
    table: str, column: str = "ticket_id", ondelete: str = "CASCADE"
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["tickets.id"], name=f"fk_{table}_{column}_tickets", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("serial", sa.String(100), nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alarms"),
        _ticket_fk("alarms", ondelete="SET NULL"),
    )
    op.create_index(
        "uq_alarms_active",
        "alarms",
        ["serial", "code"],
        unique=True,
        sqlite_where=ACTIVE_ONLY,
        postgresql_where=ACTIVE_ONLY,
    )
    op.create_index(
        "ix_alarms_serial_code_first_seen", "alarms", ["serial", "code", "first_seen_at"]
    )
    op.create_index("ix_alarms_code_first_seen", "alarms", ["code", "first_seen_at"])
    op.create_index("ix_alarms_status", "alarms", ["status"])
    op.create_index("ix_alarms_matched", "alarms", ["matched"])
    op.create_index("ix_alarms_ticket_id", "alarms", ["ticket_id"])
    op.create_table(
        "fleet_incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("open_code", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fleet_incidents"),
        sa.UniqueConstraint("open_code", name="uq_fleet_incidents_open_code"),
    )
    op.create_index("ix_fleet_incidents_code", "fleet_incidents", ["code"])
    op.create_table(
        "fleet_incident_tickets",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "ticket_id", name="pk_fleet_incident_tickets"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["fleet_incidents.id"],
            name="fk_fleet_incident_tickets_incident_id_fleet_incidents",
            ondelete="CASCADE",
        ),
        _ticket_fk("fleet_incident_tickets"),
    )
    op.create_table(
        "repeat_faults",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("previous_ticket_id", sa.Integer(), nullable=True),
        sa.Column("serial", sa.String(100), nullable=False),
        sa.Column("code", sa.String(100), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name="pk_repeat_faults"),
        _ticket_fk("repeat_faults"),
        _ticket_fk("repeat_faults", "previous_ticket_id", ondelete="SET NULL"),
    )
    op.create_index("ix_repeat_faults_flagged_at", "repeat_faults", ["flagged_at"])


def downgrade() -> None:
    for table in ("repeat_faults", "fleet_incident_tickets", "fleet_incidents", "alarms"):
        op.drop_table(table)
