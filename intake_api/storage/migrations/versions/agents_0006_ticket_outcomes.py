"""agents: what later tickets say about a ticket, stored on it (`tickets.repeats_fault`,
`tickets.fault_recurred`, kept by `intake_api.tickets.outcomes` as tickets are opened and
resolved), so the dashboard counts repeat faults and durable resolutions instead of comparing
every ticket of a window with its neighbours on each read. Filled here for the existing tickets
by the statement that recomputes them; an index on (fault, customer) finds a new ticket's
earlier ones.

On SQLite, also an index holding what the dashboard's SLA and volume groups read, in the order
of their dimensions: SQLite has no hash aggregation, and sorting 100k tickets by seven texts
took most of that read (0.29 s of CPU against 0.16 s walking this index). PostgreSQL hashes the
groups and needs none.

Revision ID: agents_0006
Revises: agents_0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "agents_0006"
down_revision = "agents_0005"
branch_labels = None
depends_on = None

INDEX = "ix_tickets_fault_customer"
GROUPS_INDEX = "ix_tickets_kpi_groups"
# the dimensions first (`intake_api.kpis.service.COUNTED`), then what the SLA verdicts and the
# window read
GROUPS_COLUMNS = [
    "priority",
    "customer_tier",
    "skill_group",
    "assignee",
    "channel",
    "category",
    "product_id",
    "status",
    "sla_due_at",
    "resolution_due_at",
    "resolved_at",
    "closed_at",
    "created_at",
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    from intake_api.tickets.outcomes import store_outcomes

    for name in ("repeats_fault", "fault_recurred"):
        op.add_column(
            "tickets", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(INDEX, "tickets", ["fault_key", "customer_key", "created_at"])
    if _sqlite():
        op.create_index(GROUPS_INDEX, "tickets", GROUPS_COLUMNS)
    op.get_bind().execute(store_outcomes())


def downgrade() -> None:
    if _sqlite():
        op.drop_index(GROUPS_INDEX, table_name="tickets")
    op.drop_index(INDEX, table_name="tickets")
    op.drop_column("tickets", "fault_recurred")
    op.drop_column("tickets", "repeats_fault")
