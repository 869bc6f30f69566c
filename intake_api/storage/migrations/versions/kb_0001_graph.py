"""kb: the knowledge graph (nodes, edges, meta revision)

Revision ID: kb_0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "kb_0001"
down_revision = None
branch_labels = ("kb",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_nodes",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "id", name="pk_kb_nodes"),
    )
    op.create_table(
        "kb_edges",
        sa.Column("src_kind", sa.String(16), nullable=False),
        sa.Column("src_id", sa.String(64), nullable=False),
        sa.Column("rel", sa.String(16), nullable=False),
        sa.Column("dst_kind", sa.String(16), nullable=False),
        sa.Column("dst_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "src_kind", "src_id", "rel", "dst_kind", "position", name="pk_kb_edges"
        ),
        sa.ForeignKeyConstraint(
            ["src_kind", "src_id"],
            ["kb_nodes.kind", "kb_nodes.id"],
            name="fk_kb_edges_src_kb_nodes",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dst_kind", "dst_id"],
            ["kb_nodes.kind", "kb_nodes.id"],
            name="fk_kb_edges_dst_kb_nodes",
        ),
    )
    op.create_index("ix_kb_edges_dst", "kb_edges", ["dst_kind", "dst_id"])
    meta = op.create_table(
        "kb_meta",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_meta"),
    )
    # The one meta row, so the first imports can lock it (see knowledge_base.store).
    op.bulk_insert(meta, [{"id": 1, "revision": 0, "updated_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("kb_meta")
    op.drop_index("ix_kb_edges_dst", table_name="kb_edges")
    op.drop_table("kb_edges")
    op.drop_table("kb_nodes")
