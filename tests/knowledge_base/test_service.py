"""`KnowledgeService` over the stored KB (SQLite and PostgreSQL): search, answers, refresh, and
the `on_kb_changed` hook of `kb import`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import unit_of_work
from core.settings import Settings
from knowledge_base.format import KnowledgeBase
from knowledge_base.index import documents
from knowledge_base.service import KnowledgeService, on_kb_changed, sync_index
from knowledge_base.store import import_knowledge_base, kb_revision, load_knowledge_base
from tests.knowledge_base.test_index import SMALL_KB, CountingEncoder, small_kb

Sessions = async_sessionmaker[AsyncSession]


async def store(sessions: Sessions, kb: KnowledgeBase) -> None:
    async with unit_of_work(sessions) as session:
        await import_knowledge_base(session, kb)


async def test_service_searches_and_answers_the_stored_kb(
    sessions: Sessions, tmp_path: Path
) -> None:
    await store(sessions, small_kb())
    service = await KnowledgeService.open(sessions, tmp_path / "index")
    (hit,) = service.search("AC300 报E03，压力上不去", k=1)
    assert hit.id == "F-AC-E03" and hit.score >= service.threshold
    assert service.answer(hit.id, "en").text.startswith("Low discharge pressure (E03)")
    assert service.answer(hit.id, "zh-Hant").text.startswith("排氣壓力低")
    off_topic = service.search("What's the weather in Shenzhen tomorrow?", k=1)
    assert all(hit.score < service.threshold for hit in off_topic)


async def test_refresh_embeds_only_what_an_import_changed(
    sessions: Sessions, tmp_path: Path
) -> None:
    await store(sessions, small_kb())
    service = await KnowledgeService.open(sessions, tmp_path / "index")
    faults = json.loads(json.dumps(SMALL_KB["faults"]))
    faults[2]["symptoms"]["en"].append("rattling from the airend bearing")
    changed = small_kb(faults=faults)
    await store(sessions, changed)
    report = await service.refresh(sessions)
    assert (report.updated, report.added, report.removed) == (1, 0, 0)
    assert report.embedded_texts == len(
        next(d for d in documents(changed) if d.id == "F-AC-noise").texts
    )
    assert service.search("rattling from the airend bearing")[0].id == "F-AC-noise"
    nothing = await service.refresh(sessions)
    assert not nothing.changed


async def test_import_hook_syncs_the_index_on_disk(sessions: Sessions, settings: Settings) -> None:
    await store(sessions, small_kb())
    report = await on_kb_changed(settings=settings, sessions=sessions)
    assert report.added == 6
    async with sessions() as session:
        kb, revision = await load_knowledge_base(session), await kb_revision(session)
    manifest = json.loads((settings.index_dir / "manifest.json").read_text())
    assert manifest["kb_revision"] == str(revision)
    encoder = CountingEncoder()
    index, again = sync_index(kb, settings.index_dir, encoder, str(revision))
    assert encoder.texts == 0 and not again.changed and len(index) == 6


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AFTERSALES_DATA_DIR": str(tmp_path / "data"),
        "AFTERSALES_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "AFTERSALES_LOAD_DEMO_KB": "false",
    }
    command = [sys.executable, "-c", "from intake_api.cli import app; app()", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def test_cli_search_json_and_eval(tmp_path: Path) -> None:
    kb_file = tmp_path / "kb.yaml"
    kb_file.write_text(yaml.safe_dump(SMALL_KB, allow_unicode=True), encoding="utf-8")
    assert run_cli(tmp_path, "kb", "import", str(kb_file)).returncode == 0
    searched = run_cli(tmp_path, "kb", "search", "AC300 报E03", "--json", "--top-k", "2")
    assert searched.returncode == 0, searched.stderr
    hits = json.loads(searched.stdout)
    assert len(hits) == 2 and hits[0]["id"] == "F-AC-E03"
    assert set(hits[0]) == {"id", "type", "score", "title"}
    queries = tmp_path / "queries.jsonl"
    lines = [
        {"text": "AC300 报E03", "lang": "zh", "expect": "answer", "id": "F-AC-E03"},
        {
            "text": "dryer outlet has water in the air",
            "lang": "en",
            "expect": "answer",
            "id": "F-DR-water",
        },
        {"text": "帮我写一首关于春天的诗", "lang": "zh", "expect": "no_answer"},
    ]
    queries.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in lines), "utf-8")
    evaluated = run_cli(
        tmp_path, "kb", "eval", "--kb", str(kb_file), "--queries", str(queries), "--json"
    )
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout)
    assert (result["hit_at_1"], result["hit_at_1_zh"], result["hit_at_1_en"]) == (1.0, 1.0, 1.0)
    assert result["n_no_answer"] == 1 and result["no_answer_rate"] == 1.0


def test_cli_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    empty = run_cli(tmp_path, "kb", "search", " ")
    assert empty.returncode == 1 and "must not be empty" in empty.stderr
    missing = run_cli(
        tmp_path,
        "kb",
        "eval",
        "--kb",
        str(tmp_path / "nope.yaml"),
        "--queries",
        str(tmp_path / "nope.jsonl"),
    )
    assert missing.returncode == 1 and "nope.yaml" in missing.stderr
