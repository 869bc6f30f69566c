"""agents: indexes the KPI dashboard's reads of conversation lines need: lines by action and
time (hand-offs and fallbacks of a window), and each conversation's lines by direction and time
(the last bot line before a person's first reply). No index on tickets.created_at: a dashboard
window spans most tickets, and on SQLite that index made the window's read slower, not faster.

Revision ID: agents_0003
Revises: agents_0002
"""

from __future__ import annotations

from alembic import op

revision = "agents_0003"
down_revision = "agents_0002"
branch_labels = None
depends_on = "dialogue_0003"

INDEXES = {
    "ix_conversation_messages_action_created_at": (
        "conversation_messages",
        ["action", "created_at"],
    ),
    "ix_conversation_messages_conversation_direction_created_at": (
        "conversation_messages",
        ["conversation_id", "direction", "created_at"],
    ),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
