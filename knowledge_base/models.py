"""Tables of the knowledge graph: nodes (one row per KB item), edges (its references), meta.

The KB keeps its own declarative base so the library does not depend on the service's storage;
`intake_api.storage.metadata` adds this metadata to Alembic's target (branch "kb").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class KBBase(DeclarativeBase):
    """Base of the knowledge base tables (constraint names are spelled out per table)."""

    metadata = MetaData()


class Node(KBBase):
    """One KB item: `kind` is its list name (`faults`), `data` the item as given, extra keys too."""

    __tablename__ = "kb_nodes"
    __table_args__ = (PrimaryKeyConstraint("kind", "id", name="pk_kb_nodes"),)

    kind: Mapped[str] = mapped_column(String(16))
    id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Edge(KBBase):
    """A reference from one item to another, e.g. faults/F-1 -caused_by-> causes/C-1, in order."""

    __tablename__ = "kb_edges"
    __table_args__ = (
        PrimaryKeyConstraint(
            "src_kind", "src_id", "rel", "dst_kind", "position", name="pk_kb_edges"
        ),
        ForeignKeyConstraint(
            ["src_kind", "src_id"],
            ["kb_nodes.kind", "kb_nodes.id"],
            name="fk_kb_edges_src_kb_nodes",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["dst_kind", "dst_id"],
            ["kb_nodes.kind", "kb_nodes.id"],
            name="fk_kb_edges_dst_kb_nodes",
        ),
        Index("ix_kb_edges_dst", "dst_kind", "dst_id"),
    )

    src_kind: Mapped[str] = mapped_column(String(16))
    src_id: Mapped[str] = mapped_column(String(64))
    rel: Mapped[str] = mapped_column(String(16))
    dst_kind: Mapped[str] = mapped_column(String(16))
    dst_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)


class Meta(KBBase):
    """The single row (id 1) whose revision goes up on every change, so indexes know to resync."""

    __tablename__ = "kb_meta"
    __table_args__ = (PrimaryKeyConstraint("id", name="pk_kb_meta"),)

    id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
