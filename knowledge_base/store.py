"""The knowledge graph in the database (SQLite or PostgreSQL): import, load, export, queries.

Service functions take the caller's `AsyncSession` and never commit: the caller owns the
transaction, so an import is all or nothing. Validation runs before any write.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import BaseModel, Field
from sqlalchemy import CursorResult, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.format import EDGE_NAMES, NODE_LISTS, REFERENCES, KnowledgeBase
from knowledge_base.loader import validate_knowledge_base
from knowledge_base.models import Edge, Meta, Node

META_ID = 1
NodeKey = tuple[str, str]  # (list name, id)
_CHUNK = 500  # ids per IN (...) list, well below SQLite's and asyncpg's parameter limits


class ListCounts(BaseModel):
    """What an import did to one node list."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


class ImportReport(BaseModel):
    """Counts per node list, and the KB revision after the import."""

    lists: dict[str, ListCounts] = Field(default_factory=dict)
    revision: int = 0

    @property
    def changed(self) -> bool:
        """True when the import created, updated or removed anything."""
        return any(c.created or c.updated or c.removed for c in self.lists.values())


class KBStats(BaseModel):
    """Size of the stored knowledge base and its revision."""

    nodes: dict[str, int]
    edges: dict[str, int]
    revision: int
    updated_at: datetime | None


def item_data(item: BaseModel) -> dict[str, Any]:
    """The item as given (extra keys included, defaults not added), as JSON-ready data."""
    return item.model_dump(mode="json", exclude_unset=True)


def content_hash(data: dict[str, Any]) -> str:
    """A stable hash of an item's content, so re-importing the same content is a no-op."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class _Plan:
    """What an import will write: new and changed items (with data and hash), removed keys."""

    incoming: dict[NodeKey, tuple[dict[str, Any], str]] = field(default_factory=dict)
    created: list[NodeKey] = field(default_factory=list)
    updated: list[NodeKey] = field(default_factory=list)
    removed: list[NodeKey] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return bool(self.created or self.updated or self.removed)

    def rows(self, keys: list[NodeKey], now: datetime) -> list[dict[str, Any]]:
        """Node rows for some of the incoming items."""
        return [
            {
                "kind": kind,
                "id": id_,
                "data": self.incoming[(kind, id_)][0],
                "content_hash": self.incoming[(kind, id_)][1],
                "updated_at": now,
            }
            for kind, id_ in keys
        ]


async def import_knowledge_base(
    session: AsyncSession, kb: KnowledgeBase, *, replace: bool = False
) -> ImportReport:
    """Upsert every item by id (unchanged ones untouched); `replace` also removes absent items."""
    await _lock_store(session)
    stored = await _stored_hashes(session)
    validate_knowledge_base(kb, known_ids={} if replace else _ids_by_kind(stored))
    plan, report = _plan_import(kb, stored, replace=replace)
    if not plan.writes:
        report.revision = await kb_revision(session)
        return report
    now = datetime.now(UTC)
    await _delete_edges_from(session, [*plan.updated, *plan.removed])
    await _delete_nodes(session, plan.removed)
    if plan.created:
        await session.execute(insert(Node), plan.rows(plan.created, now))
    if plan.updated:
        await session.execute(update(Node), plan.rows(plan.updated, now))
    changed = [*plan.created, *plan.updated]
    edges = [edge for key in changed for edge in _edges(key, plan.incoming[key][0])]
    if edges:
        await session.execute(insert(Edge), edges)
    report.revision = await _bump_revision(session, now)
    return report


def _plan_import(
    kb: KnowledgeBase, stored: dict[NodeKey, str], *, replace: bool
) -> tuple[_Plan, ImportReport]:
    """Compare the KB with the stored content hashes: created, updated, unchanged, removed."""
    plan = _Plan()
    report = ImportReport(lists={name: ListCounts() for name in NODE_LISTS})
    for kind in NODE_LISTS:
        counts = report.lists[kind]
        for item in getattr(kb, kind):
            key = (kind, item.id)
            data = item_data(item)
            digest = content_hash(data)
            plan.incoming[key] = (data, digest)
            if key not in stored:
                plan.created.append(key)
                counts.created += 1
            elif stored[key] != digest:
                plan.updated.append(key)
                counts.updated += 1
            else:
                counts.unchanged += 1
    if replace:
        plan.removed = [key for key in stored if key not in plan.incoming]
        for kind, _ in plan.removed:
            report.lists[kind].removed += 1
    return plan, report


async def load_knowledge_base(session: AsyncSession) -> KnowledgeBase:
    """The stored knowledge base as typed models, items in id order."""
    rows = (await session.execute(select(Node.kind, Node.data))).all()
    lists: dict[str, list[Any]] = {name: [] for name in NODE_LISTS}
    for kind, data in sorted(rows, key=lambda row: row[1]["id"]):
        lists[kind].append(NODE_LISTS[kind].model_validate(data))
    return KnowledgeBase(**lists)


async def export_knowledge_base(session: AsyncSession) -> dict[str, Any]:
    """The stored KB in the interchange format: `version: 1`, lists in format order, ids sorted."""
    rows = (await session.execute(select(Node.kind, Node.data))).all()
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for kind, data in rows:
        by_kind.setdefault(kind, []).append(data)
    exported: dict[str, Any] = {"version": 1}
    for kind in NODE_LISTS:
        if kind in by_kind:
            exported[kind] = sorted(by_kind[kind], key=lambda data: data["id"])
    return exported


async def knowledge_base_stats(session: AsyncSession) -> KBStats:
    """Item counts per list, edge counts per relation, revision and time of the last change."""
    nodes = dict((await session.execute(select(Node.kind, func.count()).group_by(Node.kind))).all())
    edges = dict((await session.execute(select(Edge.rel, func.count()).group_by(Edge.rel))).all())
    meta = await session.get(Meta, META_ID)
    return KBStats(
        nodes={kind: nodes.get(kind, 0) for kind in NODE_LISTS},
        edges=edges,
        revision=meta.revision if meta else 0,
        updated_at=_as_utc(meta.updated_at) if meta and meta.revision else None,
    )


def _as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def is_empty(session: AsyncSession) -> bool:
    """True when no item is stored."""
    return (await session.execute(select(Node.id).limit(1))).first() is None


async def known_ids(session: AsyncSession) -> dict[str, set[str]]:
    """The stored ids per list, for validating references in upsert mode."""
    rows = (await session.execute(select(Node.kind, Node.id))).all()
    return _ids_by_kind(rows)


async def kb_revision(session: AsyncSession) -> int:
    """The revision counter, bumped on every change (0 for a store never written)."""
    revision = await session.scalar(select(Meta.revision).where(Meta.id == META_ID))
    return revision or 0


async def _lock_store(session: AsyncSession) -> None:
    """Serialize imports (e.g. workers loading the demo KB at once): write-lock the meta row first.

    A no-op write takes PostgreSQL's row lock and SQLite's write lock before anything is read, so
    a concurrent import waits and then sees this one's result instead of failing on duplicates.
    """
    touch = update(Meta).where(Meta.id == META_ID).values(revision=Meta.revision)
    # An UPDATE's result is a CursorResult (it has rowcount); execute() types it as any Result.
    locked = cast(CursorResult[Any], await session.execute(touch))
    if locked.rowcount == 0:  # a store written before the meta row existed
        session.add(Meta(id=META_ID, revision=0, updated_at=datetime.now(UTC)))
        await session.flush()


async def _stored_hashes(session: AsyncSession) -> dict[NodeKey, str]:
    rows = (await session.execute(select(Node.kind, Node.id, Node.content_hash))).all()
    return {(kind, id_): digest for kind, id_, digest in rows}


def _ids_by_kind(keys: Iterable[tuple[Any, ...]]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {name: set() for name in NODE_LISTS}
    for kind, id_, *_ in keys:
        ids.setdefault(kind, set()).add(id_)
    return ids


def _edges(key: NodeKey, data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    kind, id_ = key
    for key_name, target in REFERENCES.get(kind, {}).items():
        for position, dst in enumerate(data.get(key_name) or []):
            yield {
                "src_kind": kind,
                "src_id": id_,
                "rel": EDGE_NAMES[(kind, key_name)],
                "dst_kind": target,
                "dst_id": dst,
                "position": position,
            }


def _chunks_by_kind(keys: list[NodeKey]) -> Iterator[tuple[str, list[str]]]:
    by_kind: dict[str, list[str]] = {}
    for kind, id_ in keys:
        by_kind.setdefault(kind, []).append(id_)
    for kind, ids in by_kind.items():
        for start in range(0, len(ids), _CHUNK):
            yield kind, ids[start : start + _CHUNK]


async def _delete_edges_from(session: AsyncSession, keys: list[NodeKey]) -> None:
    for kind, ids in _chunks_by_kind(keys):
        await session.execute(delete(Edge).where(Edge.src_kind == kind, Edge.src_id.in_(ids)))


async def _delete_nodes(session: AsyncSession, keys: list[NodeKey]) -> None:
    for kind, ids in _chunks_by_kind(keys):
        await session.execute(delete(Node).where(Node.kind == kind, Node.id.in_(ids)))


async def _bump_revision(session: AsyncSession, now: datetime) -> int:
    bumped = await session.execute(
        update(Meta)
        .where(Meta.id == META_ID)
        .values(revision=Meta.revision + 1, updated_at=now)
        .returning(Meta.revision)
    )
    return bumped.scalar_one()
