"""agents: what later tickets say about a ticket, stored on it (`tickets.repeats_fault`,
`tickets.fault_recurred`, kept by `intake_api.tickets.outcomes` as tickets are opened and
resolved), so the dashboard counts repeat faults and durable resolutions instead of comparing
every ticket of a window with its neighbours on each read. Filled here for the existing tickets
by the statement that recomputes them; an index on (fault, customer) finds a new ticket's
earlier ones.

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


def upgrade() -> None:
    from intake_api.tickets.outcomes import store_outcomes

    for name in ("repeats_fault", "fault_recurred"):
        op.add_column(
            "tickets", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(INDEX, "tickets", ["fault_key", "customer_key", "created_at"])
    op.get_bind().execute(store_outcomes())


def downgrade() -> None:
    op.drop_index(INDEX, table_name="tickets")
    op.drop_column("tickets", "fault_recurred")
    op.drop_column("tickets", "repeats_fault")
