"""Benchmark of the agents domain at scale: listing the escalation queue, counting it for
/metrics, computing 30-day KPIs, the dashboard's figures over every ticket, the workspace inbox,
and one auto-escalation round, on seeded tickets and conversation lines (SQLite and PostgreSQL),
measured in-process (no HTTP) with a warm connection.

    python bench/agents.py [--tickets 20000] [--open-share 0.1] [--lines 10] [--repeat 15]
        [--postgres-url URL] [--output docs/benchmarks/agents.md] [--kpis-only]

`--lines` conversation lines per conversation (customer and bot turns; one conversation in 10
has a fallback, one in 20 a hand-off): `--tickets 100000 --lines 10` is 1M lines.

`--kpis-only` times `GET /v1/kpis`, the dashboard and the inbox (no queue or escalation).
Each time is the wall time (median / worst) and the median CPU time of this process and of the
local PostgreSQL server (its processes' counters in /proc), since on a shared machine the wall
time grows with the others' load.

Without --postgres-url a throwaway PostgreSQL server is started (tests/support/postgres.py).
Seeded: `--tickets` tickets over the last 60 days (a share open), one conversation each, first
responses for 70 %, CSAT answers for half of the resolved ones, a handed-off conversation for
every 20th open ticket.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from bot.dialogue.models import Conversation, ConversationMessage  # noqa: E402
from core.columns import utcnow  # noqa: E402
from core.database import create_engine, session_factory  # noqa: E402
from intake_api.agents import service as agents  # noqa: E402
from intake_api.agents import workspace  # noqa: E402
from intake_api.agents.models import Csat, FirstResponse, InboxFilters  # noqa: E402
from intake_api.agents.scheduled import escalate_due  # noqa: E402
from intake_api.kpis.facts import store_waits  # noqa: E402
from intake_api.kpis.service import kpis  # noqa: E402
from intake_api.storage.migrate import migrate  # noqa: E402
from intake_api.tickets.models import Ticket  # noqa: E402
from intake_api.tickets.outcomes import store_outcomes  # noqa: E402

CHANNELS = ("wechat", "telegram", "webchat", "phone")
CATEGORIES = ("repair", "maintenance", "complaint", "parts", "consulting")
PRIORITIES = ("P1", "P2", "P3", "P4")
BATCH = 2000


def _status(is_open: bool, resolved: datetime | None, now: datetime, rng: random.Random) -> str:
    """Open tickets somewhere in the work; resolved ones closed after a week."""
    if is_open:
        return rng.choice(("new", "assigned", "in_progress"))
    return "closed" if resolved and now - resolved > timedelta(days=7) else "resolved"


Rows = list[dict[str, Any]]


def _rows(count: int, open_share: float, rng: random.Random) -> tuple[Rows, Rows, Rows, Rows]:
    now = utcnow()
    tickets: Rows = []
    conversations: Rows = []
    firsts: Rows = []
    answers: Rows = []
    for number in range(1, count + 1):
        created = now - timedelta(seconds=rng.uniform(0, 60 * 86400))
        is_open = rng.random() < open_share
        conversation_id = f"c{number:010d}"
        handed_off = is_open and number % 20 == 0
        conversations.append(
            dict(
                id=conversation_id,
                channel=rng.choice(CHANNELS),
                sender_id=f"s{number % (count // 3 + 1)}",
                live_key=f"live{number}" if handed_off else None,
                status="handoff" if handed_off else "closed",
                lang="zh",
                state={},
                slots={},
                customer={},
                version=1,
                created_at=created,
                updated_at=created,
            )
        )
        resolved = None if is_open else created + timedelta(hours=rng.uniform(1, 100))
        tickets.append(
            dict(
                id=number,
                status=_status(is_open, resolved, now, rng),
                priority=rng.choice(PRIORITIES),
                category=rng.choice(CATEGORIES),
                skill_group="general",
                subject=f"ticket {number}",
                customer_phone=f"+86 {number % (count // 4 + 1):08d}",
                customer_tier="standard",
                product_id="AC-300",
                fault_id=f"F-{number % 40}",
                channel=conversations[-1]["channel"],
                conversation_id=conversation_id,
                sender_id=conversations[-1]["sender_id"],
                status_token=f"tok{number}",
                triage_reasons=[],
                sla_due_at=created + timedelta(hours=8),
                resolution_due_at=created + timedelta(hours=72),
                created_at=created,
                updated_at=resolved or created,
                resolved_at=resolved,
                closed_at=resolved,
                last_seq=1,
            )
        )
        if rng.random() < 0.7:
            firsts.append(
                dict(
                    ticket_id=number,
                    agent="bench",
                    at=created + timedelta(hours=rng.uniform(0, 12)),
                )
            )
        if resolved and rng.random() < 0.5:
            answers.append(
                dict(
                    ticket_id=number,
                    surveyed_at=resolved,
                    score=rng.randint(1, 5),
                    answered_at=resolved,
                )
            )
    return tickets, conversations, firsts, answers


QUESTIONS = ("E{n} on my compressor", "how do I reset the panel", "pump noise after service {n}")


def _lines(conversations: list[dict], per: int, rng: random.Random) -> Iterator[list[dict]]:
    """`per` lines a conversation, alternating customer and bot, in batches; every 10th
    conversation's bot falls back once, every 20th hands off."""
    batch: list[dict] = []
    for number, conversation in enumerate(conversations):
        at = conversation["created_at"]
        for turn in range(per):
            outgoing = turn % 2 == 1
            action = "answer" if outgoing else None
            if outgoing and turn == 1 and number % 10 == 0:
                action = "fallback"
            if outgoing and turn == per - 1 and number % 20 == 0:
                action = "handoff"
            text = rng.choice(QUESTIONS).format(n=number % 50) if not outgoing else "reply"
            at = at + timedelta(seconds=rng.uniform(5, 120))
            batch.append(
                dict(
                    conversation_id=conversation["id"],
                    direction="out" if outgoing else "in",
                    text=text,
                    action=action,
                    created_at=at,
                )
            )
        if len(batch) >= BATCH * 5:
            yield batch
            batch = []
    if batch:
        yield batch


async def _seed(engine, count: int, open_share: float, per: int) -> None:  # noqa: ANN001
    tickets, conversations, firsts, answers = _rows(count, open_share, random.Random(7))
    async with engine.begin() as connection:
        for table, rows in (
            (Conversation, conversations),
            (Ticket, tickets),
            (FirstResponse, firsts),
            (Csat, answers),
        ):
            for start in range(0, len(rows), BATCH):
                await connection.execute(insert(table), rows[start : start + BATCH])
        for lines in _lines(conversations, per, random.Random(8)):
            await connection.execute(insert(ConversationMessage), lines)
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"SELECT setval('tickets_id_seq', {count})"))
        # the facts the service stores as it writes (the migrations' backfills): first-response
        # waits, repeat faults and recurrences
        await connection.execute(store_waits())
        await connection.execute(store_outcomes())
    async with engine.begin() as connection:
        # planner statistics, as autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) keep them
        # in service; right after a bulk load PostgreSQL has none and picks nested loops
        await connection.execute(text("ANALYZE"))


def _server_cpu(postmaster: int | None) -> float:
    """CPU seconds the local PostgreSQL server has used so far: the postmaster with the children
    it has reaped, and its live children (backends, parallel workers). 0 without a local one."""
    if postmaster is None:
        return 0.0
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(stat.parent.name) == postmaster:
            ticks += sum(int(field) for field in fields[11:15])
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


Timing = tuple[float, float, float]  # ms: median and worst wall time, median CPU time


async def _timed(
    run: Callable[[], Awaitable[object]], repeat: int, postmaster: int | None = None
) -> Timing:
    """Wall time, and CPU time of this process and the database server: on a machine shared
    with other work the wall time grows with the load, the CPU time much less."""
    times, cpu = [], []
    for _ in range(repeat):
        start, used = time.perf_counter(), time.process_time() + _server_cpu(postmaster)
        await run()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() + _server_cpu(postmaster) - used) * 1000)
    return statistics.median(times), max(times), statistics.median(cpu)


async def bench(
    url: str,
    count: int,
    open_share: float,
    per: int,
    repeat: int,
    kpis_only: bool = False,
    postmaster: int | None = None,
) -> dict[str, object]:
    engine = create_engine(url)
    await migrate(engine)
    await _seed(engine, count, open_share, per)
    sessions = session_factory(engine)
    now = utcnow()

    async def queue() -> None:
        async with sessions() as session:
            await agents.queue(session, now=now, limit=100)

    async def queue_length() -> None:
        async with sessions() as session:
            await agents.queue_length(session)

    async def kpi_window() -> None:  # as the view reads them: independent reads at once
        await kpis(sessions, start=now - timedelta(days=30), end=now, now=now)

    async def dashboard() -> None:  # every ticket: the 60 days they were made in
        await kpis(
            sessions,
            start=now - timedelta(days=61),
            end=now,
            now=now,
            lines={"AC-300": "compressors"},
        )

    async def inbox() -> None:
        async with sessions() as session:
            await workspace.inbox(
                session, filters=InboxFilters(), actor="agent:bench", product_ids=None, limit=200
            )

    if kpis_only:  # the KPI figures and the inbox: no queue or escalation rounds
        figures: dict[str, object] = {
            "kpis_30d": await _timed(kpi_window, max(3, repeat // 3), postmaster),
            "dashboard": await _timed(dashboard, max(3, repeat // 3), postmaster),
            "inbox": await _timed(inbox, repeat, postmaster),
        }
        await engine.dispose()
        return figures
    async with sessions() as session:
        _, listed = await agents.queue(session, now=now, limit=100)
    start = time.perf_counter()
    escalated = len(await escalate_due(sessions, now=now))
    first_round = (time.perf_counter() - start) * 1000
    results = {
        "queue": await _timed(queue, repeat, postmaster),
        "queue_length": await _timed(queue_length, repeat, postmaster),
        "kpis_30d": await _timed(kpi_window, max(3, repeat // 3), postmaster),
        "dashboard": await _timed(dashboard, max(3, repeat // 3), postmaster),
        "inbox": await _timed(inbox, repeat, postmaster),
        "escalation_steady": await _timed(lambda: escalate_due(sessions, now=now), 3, postmaster),
    }
    await engine.dispose()
    return {
        "listed": listed,
        "escalated": escalated,
        "escalation_first_round_ms": first_round,
        **results,
    }


def _table(name: str, result: dict) -> list[str]:
    def ms(key: str) -> str:
        if key not in result:
            return "–"
        median, worst, cpu = result[key]
        return f"{median:.1f} / {worst:.1f} (CPU {cpu:.0f})"

    return [
        f"| {name} | {result.get('listed', '–')} | {ms('queue')} | {ms('queue_length')} | "
        f"{ms('kpis_30d')} | {ms('dashboard')} | {ms('inbox')} | "
        f"{result.get('escalated', '–')} in {result.get('escalation_first_round_ms', 0):.0f} | "
        f"{ms('escalation_steady')} |"
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--open-share", type=float, default=0.1)
    parser.add_argument("--lines", type=int, default=10, help="Lines per conversation.")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--postgres-url")
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--kpis-only",
        action="store_true",
        help="Time only `GET /v1/kpis`, the dashboard and the inbox.",
    )
    args = parser.parse_args()

    lines = []
    with tempfile.TemporaryDirectory() as folder:
        sqlite = await bench(
            f"sqlite+aiosqlite:///{folder}/bench.db",
            args.tickets,
            args.open_share,
            args.lines,
            args.repeat,
            args.kpis_only,
        )
        lines += _table("SQLite", sqlite)
    server = None
    postmaster = None
    url = args.postgres_url
    if url is None:
        from tests.support.postgres import PostgresServer, create_database

        server = PostgresServer()
        server.start()
        url = create_database(server.admin_url)
        postmaster = int((server.root / "data" / "postmaster.pid").read_text().split()[0])
    try:
        lines += _table(
            "PostgreSQL",
            await bench(
                url,
                args.tickets,
                args.open_share,
                args.lines,
                args.repeat,
                args.kpis_only,
                postmaster,
            ),
        )
    finally:
        if server is not None:
            server.stop()

    report = "\n".join(
        [
            "## Agents: queue, KPIs, dashboard, inbox and auto-escalation at scale",
            "",
            f"`python bench/agents.py --tickets {args.tickets} --open-share {args.open_share} "
            f"--lines {args.lines}` "
            f"({platform.python_version()}, {os.cpu_count()} CPUs, in-process, warm connection; "
            "times in ms as median / worst wall time, and median CPU time of this process and "
            "the local PostgreSQL server, which the machine's other load changes much less).",
            "",
            f"{args.tickets} tickets over 60 days ({args.open_share:.0%} open), one conversation "
            f"each with {args.lines} lines ({args.tickets * args.lines} in all), first responses "
            "for 70 %, CSAT for half the resolved ones.",
            "",
            "| database | queue items | `GET /v1/agent/queue` (top 100) | "
            "queue length (`/metrics`) | "
            "`GET /v1/kpis` (30 days) | dashboard (every ticket, 61 days) | "
            "inbox (top 200 of the open) | first escalation round: tickets in ms | "
            "later rounds (nothing new) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *lines,
            "",
        ]
    )
    print(report)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
