"""`POST /v1/messages` in one process on a throwaway PostgreSQL: CPU a message (the process, with
its in-process HTTP client, and the PostgreSQL server) and the SQL statements a message sends,
by kind. The multi-worker figures are `bench/messages_load.py`'s; this one isolates what the
database path costs, for before/after comparisons on a busy machine.

The app runs under its lifespan behind `httpx.ASGITransport`; senders post the demo queries
(each message a new conversation), as `bench/messages_load.py` does. Statements are counted by a
`before_cursor_execute` listener, so BEGIN, COMMIT and pool pings (asyncpg sends them itself) are
not among them.

    python bench/messages_statements.py [--senders 16] [--messages 20] [--data-dir DIR]
        [--py-spy OUT.raw]

`--py-spy` samples the process (py-spy `--gil`, collapsed stacks) during the measured load only,
not its start-up and warm-up (py-spy installed in the venv; on Linux it may need ptrace rights).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-admin-key"


async def _send(client: httpx.AsyncClient, texts: list[str], senders: int, count: int) -> int:
    """Messages posted by `senders` at once, `count` each; the number answered with 200."""
    run = uuid.uuid4().hex[:8]
    answered = 0

    async def sender(worker: int) -> None:
        nonlocal answered
        for i in range(count):
            body = {
                "channel": "bench",
                "sender_id": f"{run}-{worker}-{i}",
                "message_id": f"{run}-{worker}-{i}",
                "text": texts[(worker * count + i) % len(texts)],
            }
            response = await client.post("/v1/messages", json=body)
            answered += response.status_code == 200

    await asyncio.gather(*(sender(w) for w in range(senders)))
    return answered


async def _measure(app: Any, texts: list[str], args: argparse.Namespace, pg_pid: int) -> None:
    from messages_load import sampled, tree_cpu_seconds

    from intake_api.services import services

    statements: Counter[str] = Counter()
    async with app.router.lifespan_context(app):

        @event.listens_for(services(app).engine.sync_engine, "before_cursor_execute")
        def _count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
            statements[" ".join(statement.split())[:90]] += 1

        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers, timeout=120
        ) as client:
            await _send(client, texts, args.senders, 2)  # warm-up: NLU, KB, connections
            statements.clear()
            with sampled(args.py_spy, os.getpid()):
                cpu, pg_cpu = time.process_time(), tree_cpu_seconds(pg_pid)
                answered = await _send(client, texts, args.senders, args.messages)
                cpu, pg_cpu = time.process_time() - cpu, tree_cpu_seconds(pg_pid) - pg_cpu
    n = args.senders * args.messages
    print(
        f"{answered}/{n} answered; CPU ms a message: process {cpu * 1000 / n:.1f}, "
        f"PostgreSQL {pg_cpu * 1000 / n:.1f}; statements a message "
        f"{sum(statements.values()) / n:.2f}; load average {os.getloadavg()[0]:.1f}"
    )
    for statement, count in statements.most_common(20):
        print(f"  {count / n:5.2f}  {statement}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--messages", type=int, default=20, help="messages per sender")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument("--py-spy", type=Path, default=None, help="profile of the load (raw)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from messages_load import QUERIES

    from core.settings import Settings
    from intake_api.app import create_app
    from tests.support.postgres import PostgresServer, create_database

    texts = [json.loads(line)["text"] for line in QUERIES.read_text("utf-8").splitlines() if line]
    random.Random(7).shuffle(texts)
    pg = PostgresServer()
    pg.start()
    tmp = tempfile.TemporaryDirectory(prefix="aftersales-statements-")
    try:
        pg_pid = int((pg.root / "data" / "postmaster.pid").read_text().split()[0])
        settings = Settings(
            _env_file=None,
            data_dir=args.data_dir or Path(tmp.name),
            database_url=create_database(pg.admin_url),
            admin_key=KEY,
            rate_limit_per_key_per_minute=10**8,
            rate_limit_per_sender_per_minute=10**8,
            log_level="WARNING",
        )
        asyncio.run(_measure(create_app(settings), texts, args, pg_pid))
    finally:
        pg.stop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
