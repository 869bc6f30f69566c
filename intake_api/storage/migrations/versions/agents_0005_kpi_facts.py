"""agents: KPI facts kept in step with the writes, so the dashboard reads no conversation lines
for them. `ticket_first_responses.wait_us` stores each first response's wait from the hand-off
(filled here for the existing rows by the statement the service runs when it records a reply);
`tickets.customer_key` and `tickets.fault_key` are generated columns (who and which unit and
fault a ticket is about, the text of `intake_api.kpis.service.customer_key`/`fault_key`) for
durable resolution and repeat faults. SQLite can add only virtual generated columns (computed
as they are read); PostgreSQL stores them.

Revision ID: agents_0005
Revises: agents_0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "agents_0005"
down_revision = "agents_0004"
branch_labels = None
depends_on = "intake_0002"

CUSTOMER_KEY = (
    "CASE WHEN coalesce(customer_phone, '') <> '' OR coalesce(customer_email, '') <> '' "
    "THEN 'contact:' || coalesce(customer_phone, '') || '|' || coalesce(customer_email, '') "
    "WHEN coalesce(sender_id, '') <> '' "
    "THEN 'sender:' || coalesce(channel, 'None') || '|' || sender_id END"
)
FAULT_KEY = (
    "CASE WHEN coalesce(fault_id, '') <> '' THEN 'fault:' || fault_id "
    "WHEN coalesce(product_id, '') <> '' THEN 'product:' || product_id END"
)


def upgrade() -> None:
    from intake_api.kpis.facts import store_waits

    stored = op.get_bind().dialect.name != "sqlite"
    for name, expression in (("customer_key", CUSTOMER_KEY), ("fault_key", FAULT_KEY)):
        op.add_column(
            "tickets", sa.Column(name, sa.Text(), sa.Computed(expression, persisted=stored))
        )
    op.add_column("ticket_first_responses", sa.Column("wait_us", sa.BigInteger(), nullable=True))
    op.get_bind().execute(store_waits())


def downgrade() -> None:
    op.drop_column("ticket_first_responses", "wait_us")
    op.drop_column("tickets", "fault_key")
    op.drop_column("tickets", "customer_key")
