"""Benchmark of the agent workspace's live view (`GET /v1/agent/stream`): database statements
per second with N views open and idle, and the time from a customer's message to the view's
`change` event (p50 over `--messages` messages), on the whole service on loopback (SQLite).

    python bench/live_view.py [--views 10] [--idle-seconds 10] [--messages 20]

Statements are counted in this process (every SQLAlchemy cursor execute), minus those counted
over the same time with no view open. A message's time runs from the start of its
`POST /v1/messages` to the `change` event that shows its lines on the open view.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from core.settings import Settings  # noqa: E402
from intake_api.app import create_app  # noqa: E402
from tests.intake_api.sse import SseReader  # noqa: E402
from tests.support.server import running_server  # noqa: E402

ADMIN_KEY = "live-view-bench-admin-key"
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
statements = 0
_lock = threading.Lock()


@event.listens_for(Engine, "before_cursor_execute")
def _count(*_: Any) -> None:
    global statements
    with _lock:
        statements += 1


async def _rate(seconds: float) -> float:
    """Statements per second over `seconds`."""
    start = statements
    await asyncio.sleep(seconds)
    return (statements - start) / seconds


async def _open_view(client: httpx.AsyncClient, opened: list[Any]) -> None:
    """Open one view and keep reading it (a browser's EventSource does the same)."""
    async with client.stream("GET", "/v1/agent/stream") as stream:
        reader = SseReader(stream)
        opened.append(reader)
        while True:
            await reader.next_event()


async def idle_cost(base: str, views: int, seconds: float) -> tuple[float, float]:
    """Statements per second with no view, then with `views` idle views."""
    async with httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=None) as client:
        baseline = await _rate(seconds)
        opened: list[Any] = []
        tasks = [asyncio.create_task(_open_view(client, opened)) for _ in range(views)]
        await asyncio.sleep(2)  # every view has read its first state
        loaded = await _rate(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return baseline, loaded


async def latencies(base: str, messages: int) -> list[float]:
    """Seconds from each message's POST to the change event that shows its lines."""
    found: list[float] = []
    async with (
        httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=60) as client,
        client.stream("GET", "/v1/agent/stream") as stream,
    ):
        reader = SseReader(stream)
        lines = (await reader.next_event())[1][0]
        for number in range(messages):
            body = {"channel": "test", "sender_id": "bench", "message_id": f"m{number}"}
            start = time.perf_counter()
            post = asyncio.create_task(client.post("/v1/messages", json={**body, "text": "E07"}))
            while (now := (await reader.next_event())[1][0]) < lines + 2:
                pass
            found.append(time.perf_counter() - start)
            lines = now
            (await post).raise_for_status()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{folder}/live.db",
            data_dir=Path(folder),
            admin_key=ADMIN_KEY,
            load_demo_kb=False,
        )
        with running_server(create_app(settings)) as base:
            baseline, loaded = asyncio.run(idle_cost(base, args.views, args.idle_seconds))
            times = asyncio.run(latencies(base, args.messages))
    per_view = (loaded - baseline) / args.views
    print(f"idle: {baseline:.2f} statements/s without a view, {loaded:.2f} with {args.views}")
    print(f"idle cost per open view: {per_view:.2f} statements/s")
    p50, worst = statistics.median(times) * 1000, max(times) * 1000
    print(f"message → change event over {len(times)}: p50 {p50:.0f} ms, worst {worst:.0f} ms")


if __name__ == "__main__":
    main()
