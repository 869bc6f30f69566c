"""The graph in the database (SQLite and PostgreSQL): upsert, no-op re-import, replace, rollback,
export round trips."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import unit_of_work
from knowledge_base.errors import KBValidationError
from knowledge_base.format import KnowledgeBase
from knowledge_base.loader import parse_documents, read_knowledge_base
from knowledge_base.models import Edge, Node
from knowledge_base.store import (
    ImportReport,
    export_knowledge_base,
    import_knowledge_base,
    is_empty,
    kb_revision,
    knowledge_base_stats,
    known_ids,
    load_knowledge_base,
)

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def sample(sample_kb: Path) -> KnowledgeBase:
    return read_knowledge_base(sample_kb)


@pytest.fixture
def sample_data(sample_kb: Path) -> dict[str, Any]:
    return yaml.safe_load(sample_kb.read_text(encoding="utf-8"))


async def run_import(
    sessions: Sessions, kb: KnowledgeBase, *, replace: bool = False
) -> ImportReport:
    async with unit_of_work(sessions) as session:
        return await import_knowledge_base(session, kb, replace=replace)


async def export(sessions: Sessions) -> dict[str, Any]:
    async with sessions() as session:
        return await export_knowledge_base(session)


async def edges_of(
    sessions: Sessions,
    *,
    src: tuple[str, str] | None = None,
    dst: tuple[str, str] | None = None,
    rel: str,
) -> list[Edge]:
    """The stored edges over `rel` from `src` or to `dst`, in listed order."""
    query = select(Edge).where(Edge.rel == rel).order_by(Edge.position, Edge.src_id)
    if src is not None:
        query = query.where(Edge.src_kind == src[0], Edge.src_id == src[1])
    if dst is not None:
        query = query.where(Edge.dst_kind == dst[0], Edge.dst_id == dst[1])
    async with sessions() as session:
        return list(await session.scalars(query))


async def node_rows(sessions: Sessions) -> list[tuple[Any, ...]]:
    async with sessions() as session:
        query = select(Node.kind, Node.id, Node.content_hash, Node.updated_at)
        return sorted((await session.execute(query)).all())


async def edge_rows(sessions: Sessions) -> list[tuple[Any, ...]]:
    async with sessions() as session:
        query = select(Edge.src_kind, Edge.src_id, Edge.rel, Edge.dst_kind, Edge.dst_id)
        return sorted((await session.execute(query)).all())


async def test_import_creates_every_item_and_edge(
    sessions: Sessions, sample: KnowledgeBase
) -> None:
    report = await run_import(sessions, sample)
    assert report.changed and report.revision == 1
    assert report.lists["faults"].created == 12 and report.lists["faqs"].created == 6
    async with sessions() as session:
        stats = await knowledge_base_stats(session)
        assert not await is_empty(session)
        ids = await known_ids(session)
    assert stats.nodes["products"] == 2 and stats.revision == 1
    assert stats.edges["caused_by"] == sum(len(f.causes) for f in sample.faults)
    assert ids["faults"] == {f.id for f in sample.faults}


async def test_reimporting_the_same_content_is_a_no_op(
    sessions: Sessions, sample: KnowledgeBase
) -> None:
    await run_import(sessions, sample)
    nodes_before, edges_before = await node_rows(sessions), await edge_rows(sessions)
    report = await run_import(sessions, sample)
    assert not report.changed
    assert report.lists["causes"].unchanged == len(sample.causes)
    assert report.revision == 1
    assert await node_rows(sessions) == nodes_before  # timestamps too
    assert await edge_rows(sessions) == edges_before


async def test_changed_item_is_updated_with_its_edges(
    sessions: Sessions, sample_data: dict[str, Any]
) -> None:
    await run_import(sessions, parse_documents([("kb", sample_data)]))
    changed = copy.deepcopy(sample_data)
    fault = changed["faults"][0]
    fault["title"] = {"en": "Changed title"}
    fault["causes"] = list(reversed(fault["causes"]))[:2]
    report = await run_import(sessions, parse_documents([("kb", changed)]))
    assert report.lists["faults"].updated == 1
    assert report.lists["faults"].unchanged == len(changed["faults"]) - 1
    assert report.revision == 2
    async with sessions() as session:
        stored = await load_knowledge_base(session)
    caused_by = await edges_of(sessions, src=("faults", fault["id"]), rel="caused_by")
    assert next(f for f in stored.faults if f.id == fault["id"]).title == {"en": "Changed title"}
    assert [edge.dst_id for edge in caused_by] == fault["causes"]


async def test_upsert_keeps_items_absent_from_the_files(
    sessions: Sessions, sample_data: dict[str, Any]
) -> None:
    await run_import(sessions, parse_documents([("kb", sample_data)]))
    new_fault = {"id": "F-new", "title": "New", "symptoms": ["x"], "products": ["BM-2"]}
    async with sessions() as session:
        known = await known_ids(session)
    kb = parse_documents([("kb", {"version": 1, "faults": [new_fault]})], known_ids=known)
    report = await run_import(sessions, kb)
    assert report.lists["faults"].created == 1 and report.lists["faults"].removed == 0
    async with sessions() as session:
        stats = await knowledge_base_stats(session)
    affecting = await edges_of(sessions, dst=("products", "BM-2"), rel="affects")
    assert stats.nodes["faults"] == len(sample_data["faults"]) + 1
    assert ("faults", "F-new", 0) in [(e.src_kind, e.src_id, e.position) for e in affecting]


async def test_replace_removes_items_absent_from_the_files(
    sessions: Sessions, sample_data: dict[str, Any]
) -> None:
    await run_import(sessions, parse_documents([("kb", sample_data)]))
    subset = {key: value for key, value in sample_data.items() if key != "faqs"}
    subset["faults"] = [  # drop `related`: it may point at faults this subset removes
        {key: value for key, value in fault.items() if key != "related"}
        for fault in sample_data["faults"][:3]
    ]
    report = await run_import(sessions, parse_documents([("kb", subset)]), replace=True)
    assert report.lists["faqs"].removed == len(sample_data["faqs"])
    assert report.lists["faults"].removed == len(sample_data["faults"]) - 3
    async with sessions() as session:
        stats = await knowledge_base_stats(session)
    assert stats.nodes["faqs"] == 0 and stats.nodes["faults"] == 3
    assert await edges_of(sessions, dst=("products", "BM-2"), rel="about") == []
    assert await export(sessions) == parse_and_export(subset)


def parse_and_export(data: dict[str, Any]) -> dict[str, Any]:
    """What an export of exactly this data looks like: ids sorted, empty lists left out."""
    exported: dict[str, Any] = {"version": 1}
    for name in ("products", "components", "parts", "solutions", "causes", "faults", "faqs"):
        items = data.get(name) or []
        if items:
            kb_items = getattr(parse_documents([("kb", data)]), name)
            by_id = {item.id: item.model_dump(mode="json", exclude_unset=True) for item in kb_items}
            exported[name] = [by_id[key] for key in sorted(by_id)]
    return exported


async def test_failed_import_changes_nothing(
    sessions: Sessions, sample: KnowledgeBase, sample_data: dict[str, Any]
) -> None:
    await run_import(sessions, sample)
    before_nodes, before_export = await node_rows(sessions), await export(sessions)
    broken = copy.deepcopy(sample_data)
    broken["faults"][0]["title"] = "changed"
    broken["faults"][1]["causes"].append("C-does-not-exist")
    kb = KnowledgeBase.model_validate(broken)  # built in code: the store must validate it
    with pytest.raises(KBValidationError) as caught:
        await run_import(sessions, kb)
    assert [(e.item, e.key) for e in caught.value.errors] == [(broken["faults"][1]["id"], "causes")]
    assert await node_rows(sessions) == before_nodes
    assert await export(sessions) == before_export


async def test_replace_cannot_keep_references_to_removed_items(
    sessions: Sessions, sample: KnowledgeBase
) -> None:
    await run_import(sessions, sample)
    only_faults = KnowledgeBase(faults=sample.faults)
    with pytest.raises(KBValidationError):
        await run_import(sessions, only_faults, replace=True)
    async with sessions() as session:
        assert (await knowledge_base_stats(session)).nodes["products"] == 2
    report = await run_import(sessions, only_faults)  # upsert: stored ids are known
    assert not report.changed


async def test_transaction_rolled_back_by_the_caller_leaves_the_store_empty(
    sessions: Sessions, sample: KnowledgeBase
) -> None:
    with pytest.raises(RuntimeError):
        async with unit_of_work(sessions) as session:
            await import_knowledge_base(session, sample)
            raise RuntimeError("caller failed after the import")
    async with sessions() as session:
        assert await is_empty(session)
        assert await kb_revision(session) == 0


async def test_export_import_export_round_trip_on_the_sample(
    sessions: Sessions, sample: KnowledgeBase
) -> None:
    await run_import(sessions, sample)
    first = await export(sessions)
    assert list(first) == ["version", *[n for n in KnowledgeBase.model_fields if n != "version"]]
    assert [f["id"] for f in first["faults"]] == sorted(f.id for f in sample.faults)
    report = await run_import(sessions, parse_documents([("export", first)]), replace=True)
    assert not report.changed
    assert await export(sessions) == first
    async with sessions() as session:
        assert await load_knowledge_base(session) == parse_documents([("export", first)])


async def test_round_trip_through_a_folder_of_several_files(
    sessions: Sessions, sample_data: dict[str, Any], tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    for name in ("products", "components", "parts", "solutions", "causes", "faults", "faqs"):
        half = len(sample_data[name]) // 2
        for part, items in (("a", sample_data[name][:half]), ("b", sample_data[name][half:])):
            target = folder / name / f"{part}.yaml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(
                yaml.safe_dump({"version": 1, name: items}, allow_unicode=True), encoding="utf-8"
            )
    (folder / "products" / "extra.yaml").write_text(
        "version: 1\nproducts:\n  - {id: ZZ-1, name: Extra, custom_field: [1, 2]}\n",
        encoding="utf-8",
    )
    await run_import(sessions, read_knowledge_base(folder))
    first = await export(sessions)
    assert first["products"][-1] == {"id": "ZZ-1", "name": "Extra", "custom_field": [1, 2]}
    exported = tmp_path / "export.yaml"
    exported.write_text(yaml.safe_dump(first, allow_unicode=True), encoding="utf-8")
    assert not (await run_import(sessions, read_knowledge_base(exported), replace=True)).changed
    assert await export(sessions) == first


async def test_concurrent_imports_of_the_same_kb_both_succeed(
    sessions: Sessions, sample: KnowledgeBase
) -> None:
    reports = await asyncio.gather(run_import(sessions, sample), run_import(sessions, sample))
    created = sorted(report.lists["faults"].created for report in reports)
    assert created == [0, len(sample.faults)]
    assert [report.revision for report in reports] == [1, 1]
    async with sessions() as session:
        assert (await knowledge_base_stats(session)).nodes["faults"] == len(sample.faults)


async def test_empty_store_has_revision_0_and_no_change_time(sessions: Sessions) -> None:
    async with sessions() as session:
        stats = await knowledge_base_stats(session)
        assert await is_empty(session)
    assert stats.revision == 0 and stats.updated_at is None
    assert set(stats.nodes.values()) == {0}
