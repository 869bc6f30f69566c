"""agents: the first-response read looks up, per answered ticket, its conversation's last bot
line before the first reply; an index on (conversation, direction, time, action) answers that
from the index alone (the action decides whether the line was the bot's), so it replaces
agents_0003's (conversation, direction, time), of which it is an extension.

Revision ID: agents_0004
Revises: agents_0003
"""

from __future__ import annotations

from alembic import op

revision = "agents_0004"
down_revision = "agents_0003"
branch_labels = None
depends_on = None

TABLE = "conversation_messages"
OLD = "ix_conversation_messages_conversation_direction_created_at"
NEW = "ix_conversation_messages_conversation_direction_created_action"


def upgrade() -> None:
    op.create_index(NEW, TABLE, ["conversation_id", "direction", "created_at", "action"])
    op.drop_index(OLD, table_name=TABLE)


def downgrade() -> None:
    op.create_index(OLD, TABLE, ["conversation_id", "direction", "created_at"])
    op.drop_index(NEW, table_name=TABLE)
