"""Does the bot stay as right when the knowledge base grows? The same labelled queries, scored on
a base KB and on the base plus more product lines: the wrong-answer and uncovered-answered rates
must not rise.

    python bench/kb_growth.py --base knowledge_base/demo bench/data/dev2/kb.yaml \\
        --add bench/data/holdout/kb.yaml \\
        --queries bench/data/demo-queries.jsonl bench/data/dev2/queries.jsonl

Every KB file (or folder of files) is copied into one folder per configuration, so the bot
sees one knowledge base with all their product lines. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from intake_api.cli.bot import Scores, build_dialogue, evaluate, read_queries  # noqa: E402
from knowledge_base.loader import read_knowledge_base  # noqa: E402


def gather(sources: list[Path], folder: Path) -> Path:
    """One folder holding the KB files of every source (a file, or a folder of files)."""
    folder.mkdir(parents=True)
    for number, source in enumerate(sources):
        files = sorted(source.glob("*.y*ml")) if source.is_dir() else [source]
        for file in files:
            shutil.copy(file, folder / f"{number:02d}-{file.name}")
    return folder


def product_lines(folder: Path) -> int:
    """How many product lines (products' `line`, else the product itself) the KB holds."""
    kb = read_knowledge_base(folder)
    return len({product.line or product.id for product in kb.products})


def score(folder: Path, queries: list[dict[str, Any]], work: Path) -> Scores:
    dialogue = build_dialogue(folder, work)
    return asyncio.run(evaluate(dialogue, queries, work))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, nargs="+", required=True, help="KB files/folders")
    parser.add_argument("--add", type=Path, nargs="+", required=True, help="KB files added")
    parser.add_argument("--queries", type=Path, nargs="+", required=True, help="JSON lines")
    parser.add_argument("--misses", action="store_true", help="list each KB's wrong actions")
    args = parser.parse_args()
    queries = [query for path in args.queries for query in read_queries(path)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="aftersales-growth-") as tmp:
        for name, sources in (("base", args.base), ("base + added", [*args.base, *args.add])):
            folder = gather(sources, Path(tmp) / name.replace(" ", "") / "kb")
            scores = score(folder, queries, folder.parent)
            rows.append((name, product_lines(folder), scores.report()))
            if args.misses:
                for miss in scores.misses:
                    print(f"{name}: miss: {json.dumps(miss, ensure_ascii=False)}")
    print(f"{len(queries)} queries of the base KB's lines ({', '.join(map(str, args.queries))})\n")
    print("| KB | product lines | AI handling share | wrong / answers | uncovered answered |")
    print("| --- | --- | --- | --- | --- |")
    for name, lines, report in rows:
        print(
            f"| {name} | {lines} | {report['ai_handling_share']} | "
            f"{report['wrong_answer_rate']} | {report['uncovered_answered_rate']} |"
        )


if __name__ == "__main__":
    main()
