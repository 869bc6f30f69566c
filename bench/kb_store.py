"""Benchmark of the KB store: read+validate, import, no-op re-import, upsert, replace, export,
load, graph build and answer assembly, on a generated knowledge base of a chosen size.

    python bench/kb_store.py [--faults 2000] [--database-url sqlite+aiosqlite:///...] [--output F]

Prints a markdown section (and writes it to --output). The generated KB is synthetic: sizes and
shapes like a large maker's (3 causes per fault, 2 solutions per cause, zh + en texts).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.database import create_engine, session_factory, unit_of_work  # noqa: E402
from intake_api.storage.migrate import migrate  # noqa: E402
from knowledge_base.answers import assemble_answer  # noqa: E402
from knowledge_base.format import KnowledgeBase  # noqa: E402
from knowledge_base.graph import KnowledgeGraph  # noqa: E402
from knowledge_base.loader import read_knowledge_base  # noqa: E402
from knowledge_base.store import (  # noqa: E402
    export_knowledge_base,
    import_knowledge_base,
    load_knowledge_base,
)

FILES = 10


def generate(faults: int) -> dict[str, list[dict[str, Any]]]:
    """A synthetic KB: products, components, parts, and per fault 3 causes x 2 solutions."""
    products = max(2, faults // 20)
    kb: dict[str, list[dict[str, Any]]] = {
        "products": [
            {
                "id": f"P{p}",
                "name": {"zh": f"{p}号空压机", "en": f"compressor {p}"},
                "aliases": [f"PX{p}"],
            }
            for p in range(products)
        ],
        "components": [
            {
                "id": f"P{p}.c{c}",
                "name": {"zh": f"部件{c}", "en": f"component {c}"},
                "products": [f"P{p}"],
            }
            for p in range(products)
            for c in range(3)
        ],
        "parts": [],
        "solutions": [],
        "causes": [],
        "faults": [],
        "faqs": [
            {
                "id": f"FAQ{q}",
                "questions": {"zh": [f"问题{q}"], "en": [f"question {q}"]},
                "answer": f"answer {q}",
            }
            for q in range(faults // 10)
        ],
    }
    for f in range(faults):
        product = f"P{f % products}"
        causes = []
        for c in range(3):
            cause_id = f"C{f}.{c}"
            solutions = []
            for s in range(2):
                solution_id = f"S{f}.{c}.{s}"
                part_id = f"PT{f}.{c}.{s}"
                kb["parts"].append(
                    {"id": part_id, "name": f"part {part_id}", "sku": f"SKU-{f}-{c}{s}"}
                )
                kb["solutions"].append(
                    {
                        "id": solution_id,
                        "title": {"zh": f"处理方法{solution_id}", "en": f"fix {solution_id}"},
                        "steps": {
                            "zh": [f"第{n}步：检查并处理" for n in range(1, 5)],
                            "en": [f"step {n}: check and fix" for n in range(1, 5)],
                        },
                        "parts": [part_id],
                        "requires_engineer": s == 1,
                    }
                )
                solutions.append(solution_id)
            kb["causes"].append(
                {
                    "id": cause_id,
                    "text": {"zh": f"原因{cause_id}", "en": f"cause {cause_id}"},
                    "solutions": solutions,
                    "likelihood": round(0.2 + 0.2 * c, 2),
                }
            )
            causes.append(cause_id)
        kb["faults"].append(
            {
                "id": f"F{f}",
                "title": {"zh": f"故障{f}（E{f % 100:02d}）", "en": f"fault {f} (E{f % 100:02d})"},
                "symptoms": {"zh": ["压力低", "停机"], "en": ["low pressure", "stops"]},
                "products": [product],
                "components": [f"{product}.c{f % 3}"],
                "codes": [f"E{f % 100:02d}"],
                "causes": causes,
                "related": [f"F{f - 1}"] if f else [],
            }
        )
    return kb


def write_folder(kb: dict[str, list[dict[str, Any]]], folder: Path) -> None:
    """Split every list over FILES files, as a team of KB authors would."""
    for part in range(FILES):
        data: dict[str, Any] = {"version": 1}
        for name, items in kb.items():
            data[name] = items[part::FILES]
        (folder / f"kb-{part:02d}.yaml").write_text(
            yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )


async def timed(
    label: str, results: list[tuple[str, float]], work: Callable[[], Awaitable[Any]]
) -> Any:
    started = time.perf_counter()
    value = await work()
    results.append((label, time.perf_counter() - started))
    return value


async def run(faults: int, database_url: str | None) -> str:
    results: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "kb"
        folder.mkdir()
        data = generate(faults)
        write_folder(data, folder)
        items = sum(len(v) for v in data.values())

        async def read() -> KnowledgeBase:
            return read_knowledge_base(folder)

        kb = await timed(f"read + validate {FILES} YAML files", results, read)
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        engine = create_engine(url)
        await migrate(engine)
        sessions = session_factory(engine)

        async def do_import(source: KnowledgeBase, replace: bool = False) -> Any:
            async with unit_of_work(sessions) as session:
                return await import_knowledge_base(session, source, replace=replace)

        await timed("import into an empty store", results, lambda: do_import(kb))
        await timed("re-import, same content (no-op)", results, lambda: do_import(kb))
        changed = kb.model_copy(deep=True)
        for fault in changed.faults[: max(1, faults // 100)]:
            fault.title = {"en": f"changed {fault.id}"}
        await timed("upsert with 1% of faults changed", results, lambda: do_import(changed))
        smaller = changed.model_copy(update={"faqs": changed.faqs[: len(changed.faqs) // 2]})
        await timed("replace, half the FAQs removed", results, lambda: do_import(smaller, True))

        async def export() -> Any:
            async with sessions() as session:
                return await export_knowledge_base(session)

        async def load() -> KnowledgeBase:
            async with sessions() as session:
                return await load_knowledge_base(session)

        await timed("export", results, export)
        stored = await timed("load_knowledge_base", results, load)

        async def build() -> KnowledgeGraph:
            return KnowledgeGraph(stored)

        graph = await timed("KnowledgeGraph build", results, build)
        await engine.dispose()

    answer_ms: dict[str, float] = {}
    fault_ids = list(graph.faults)[:200]
    for lang in ("zh", "zh-Hant", "en"):
        samples = []
        for fault_id in fault_ids:
            started = time.perf_counter()
            assemble_answer(graph, fault_id, lang)
            samples.append((time.perf_counter() - started) * 1000)
        answer_ms[lang] = statistics.median(samples)

    dialect = url.split(":", 1)[0]
    lines = [
        "## Knowledge base store (kb-store)",
        "",
        f"Generated KB: {faults} faults, {items} items in {FILES} YAML files; "
        f"database `{dialect}`; Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs.",
        f"Command: `python bench/kb_store.py --faults {faults}"
        + (" --database-url …`" if database_url else "`"),
        "",
        "| step | seconds |",
        "| --- | --- |",
        *[f"| {label} | {seconds:.3f} |" for label, seconds in results],
        "",
        "| answer assembly (median per fault answer) | ms |",
        "| --- | --- |",
        *[f"| {lang} | {ms:.3f} |" for lang, ms in answer_ms.items()],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=2000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--output", type=Path, default=None, help="also write the markdown here")
    args = parser.parse_args()
    report = asyncio.run(run(args.faults, args.database_url))
    print(report)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
