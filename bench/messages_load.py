"""Load benchmark of `POST /v1/messages`: latency p50/p99 and messages/s with concurrent senders,
next to the encoder's own time for one query (the floor any answer pays).

Runs the whole service (`create_app`, bundled demo KB, SQLite in a temp dir unless
`--database-url`) on loopback with uvicorn, and sends customer messages from
bench/data/demo-queries.jsonl; each message opens a fresh conversation (a first message is the
expensive one: NLU, KB search, maybe a ticket). Prints a markdown section for
docs/benchmarks/bot.md.

    python bench/messages_load.py [--senders 8] [--messages 40] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.settings import Settings  # noqa: E402
from intake_api.app import create_app  # noqa: E402
from knowledge_base.encoders import load_encoder  # noqa: E402

QUERIES = ROOT / "bench" / "data" / "demo-queries.jsonl"
KEY = "bench-admin-key"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def encoder_ms(texts: list[str], runs: int = 200) -> float:
    """p50 of encoding one query with the service's default encoder, in ms."""
    encoder = load_encoder(None)
    encoder.encode(texts[:8])
    times = []
    for i in range(runs):
        start = time.perf_counter()
        encoder.encode([texts[i % len(texts)]])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def serve(settings: Settings, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("the service did not start")
        time.sleep(0.1)
    return server, thread


async def sender(
    client: httpx.AsyncClient, worker: int, texts: list[str], count: int, latencies: list[float]
) -> dict[str, int]:
    """One customer channel sending `count` messages one after the other."""
    actions: dict[str, int] = {}
    for i in range(count):
        body = {
            "channel": "bench",
            "sender_id": f"w{worker}-m{i}",
            "message_id": f"w{worker}-m{i}-{time.time_ns()}",
            "text": texts[(worker * count + i) % len(texts)],
        }
        start = time.perf_counter()
        response = await client.post("/v1/messages", json=body)
        latencies.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        action = response.json()["action"]
        actions[action] = actions.get(action, 0) + 1
    return actions


async def load(base: str, texts: list[str], senders: int, messages: int) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        await sender(client, 99, texts, 8, [])  # warm-up: first NLU/KB calls, connections
        latencies: list[float] = []
        start = time.perf_counter()
        results = await asyncio.gather(
            *(sender(client, w, texts, messages, latencies) for w in range(senders))
        )
        elapsed = time.perf_counter() - start
    actions: dict[str, int] = {}
    for result in results:
        for action, n in result.items():
            actions[action] = actions.get(action, 0) + n
    return {
        "n": len(latencies),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "per_second": len(latencies) / elapsed,
        "actions": actions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--messages", type=int, default=40, help="messages per sender")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for line in QUERIES.read_text("utf-8").splitlines() if line]
    random.Random(7).shuffle(texts)  # a fixed mix of answers, hand-offs, repairs, no-answers
    with tempfile.TemporaryDirectory(prefix="aftersales-load-") as tmp:
        settings = Settings(
            _env_file=None,
            data_dir=Path(tmp),
            database_url=args.database_url,
            admin_key=KEY,
            rate_limit_per_key_per_minute=1_000_000,
            rate_limit_per_sender_per_minute=1_000_000,
            log_level="WARNING",
        )
        server, thread = serve(settings, args.port)
        try:
            result = asyncio.run(
                load(f"http://127.0.0.1:{args.port}", texts, args.senders, args.messages)
            )
        finally:
            server.should_exit = True
            thread.join(timeout=30)
        database = "PostgreSQL" if args.database_url else "SQLite (WAL)"
    encode = encoder_ms(texts)
    print(f"### POST /v1/messages under load ({database}, {args.senders} concurrent senders)\n")
    print("| messages | p50 ms | p99 ms | messages/s | encoder p50 ms (1 query) | p50 / encode |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| {result['n']} | {result['p50_ms']:.1f} | {result['p99_ms']:.1f} | "
        f"{result['per_second']:.1f} | {encode:.2f} | {result['p50_ms'] / encode:.0f}x |"
    )
    print(f"\nactions: {json.dumps(result['actions'])}")
    print(
        f"command: `python bench/messages_load.py --senders {args.senders} "
        f"--messages {args.messages}`"
    )


if __name__ == "__main__":
    main()
