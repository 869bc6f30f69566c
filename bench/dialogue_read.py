"""CPU of `DialogueEngine.read` (the NLU and the KB search of a message, before its
transaction) over the demo queries: milliseconds a message, best of several passes.

Each pass reads the 328 queries of bench/data/demo-queries.jsonl against knowledge_base/demo,
as new messages: the per-text memos (Mandarin and Simplified forms, NLU folding, query tokens,
what a text names) are emptied before it. The sentence embeddings are kept after a first
warm-up pass unless `--embed` (then each pass also embeds every text, ≈ 3 ms a text on one
core): the embedding is the same work before and after a change to the reading, and its noise
on a shared machine would hide the rest. The NLU model is the service's (AFTERSALES_DATA_DIR,
trained there when missing); the index is built in a temp dir.

    python bench/dialogue_read.py [--passes 7] [--embed]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "bench" / "data" / "demo-queries.jsonl"
KB = ROOT / "knowledge_base" / "demo"


def forget_texts(dialogue: object, embeddings: bool) -> None:
    """Empty what the reading keeps per text, as for messages it has never seen."""
    from bot.nlu.text import fold
    from knowledge_base import retrieval, text
    from knowledge_base.encoders import load_encoder

    memos: list[Any] = [text.to_mandarin, text.to_simplified, text.to_traditional, fold]
    # query_tokens from 2bf92c9 on: the script also runs on older code, for comparisons.
    memos += [retrieval._mandarin, getattr(text, "query_tokens", None)]
    for memo in memos:
        if memo is not None:
            memo.cache_clear()
    knowledge = dialogue.knowledge  # type: ignore[attr-defined]
    if hasattr(knowledge, "_matchers"):
        knowledge._matchers = None  # the mentions memo goes with its matcher
    if embeddings:
        load_encoder(None)._vectors.clear()  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--embed", action="store_true", help="embed every text in every pass")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from core.messages import InboundMessage
    from intake_api.cli.bot import build_dialogue

    lines = QUERIES.read_text("utf-8").splitlines()
    queries = [json.loads(line) for line in lines if line.strip()]
    messages = [
        InboundMessage(
            channel="bench",
            sender_id=f"s{number}",
            message_id=f"m{number}",
            text=query["text"],
            lang=query.get("lang") or None,
        )
        for number, query in enumerate(queries)
    ]
    with tempfile.TemporaryDirectory(prefix="aftersales-read-") as work:
        dialogue = build_dialogue(KB, Path(work))
        for message in messages:  # warm-up: models loaded, embeddings cached
            dialogue.read(message)
        passes = []
        for _ in range(args.passes):
            forget_texts(dialogue, args.embed)
            gc.collect()
            started = time.process_time()
            for message in messages:
                dialogue.read(message)
            passes.append((time.process_time() - started) * 1000 / len(messages))
    each = " ".join(f"{ms:.2f}" for ms in passes)
    print(f"read: best {min(passes):.2f} ms CPU a message ({len(messages)} messages; {each})")


if __name__ == "__main__":
    main()
