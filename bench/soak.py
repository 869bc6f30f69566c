"""Soak benchmark: `aftersales serve --workers 2` on PostgreSQL + Redis under a steady mixed load
for `--minutes` (default 30): throughput, p99, errors, lost messages and deliveries, and the RSS
of each worker over time.

The load, all at once, at a fixed offered rate (not as fast as possible: a soak looks for leaks,
stalls and losses, not for the ceiling, which bench/messages_load.py measures):

- customers on `POST /v1/messages`: each a new sender playing one multi-turn conversation
  (bench/data/conversations/demo.jsonl) or one message (bench/data/demo-queries.jsonl), in
  Chinese, English and Cantonese, with a pause between turns;
- ticket changes: tickets created on `POST /v1/tickets` and moved through their statuses with
  `PATCH /v1/tickets/{id}`, each followed by an SSE subscriber on
  `GET /v1/tickets/{id}/events` (any worker: the events cross workers through Redis), which
  must see every status;
- web chat sockets (`/chat/ws`): a visitor opens a socket, sends a few messages, waits for each
  reply, closes, and the next visitor comes;
- machine alarms on `POST /v1/alarms` from registered units (imported first with `aftersales
  assets import`): a new unit's alarm opens a ticket with the KB's diagnosis, a repeat of an
  active one counts up on its row.

Every ticket event is delivered to a webhook receiver running in this process
(`AFTERSALES_WEBHOOK_URL`). At the end, once the outbox has drained, the store and the receiver
are checked: every message answered with 200 is stored as answered and none is answered twice,
every outbox row is delivered and the receiver got each one, every accepted alarm is counted on
its unit's row and every alarmed unit has its ticket. RSS per worker is sampled every
minute; the growth is measured from the end of the warm-up (`--warmup`, default 5 minutes) to
the end.

    python bench/soak.py [--minutes 30] [--warmup 5] [--rate 8] [--tickets-per-minute 30]
        [--sockets 4] [--alarms-per-minute 60] [--database-url URL] [--redis-url URL]

Without `--database-url` / `--redis-url` a throwaway PostgreSQL / redis-server is started on
loopback (tests/support helpers, as bench/messages_load.py does). Everything it reads is in the
checkout; it writes only to a temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Coroutine
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from messages_load import (  # bench/ is on sys.path (run as a script)
    AFTERSALES,
    KEY,
    ROOT,
    Server,
    free_port,
    percentile,
    running,
    serve_cmd,
    service_env,
)
from websockets.asyncio.client import connect

sys.path.insert(0, str(ROOT))

QUERIES = ROOT / "bench" / "data" / "demo-queries.jsonl"
CONVERSATIONS = ROOT / "bench" / "data" / "conversations" / "demo.jsonl"
HEADERS = {"Authorization": f"Bearer {KEY}"}
CHANNEL = "soak"
# A ticket's life, one PATCH each; an SSE subscriber must see "new" and every one of them.
TICKET_MOVES = ("triaged", "assigned", "in_progress", "resolved", "closed")
CHAT_TEXTS = ("设备报警了", "HX-37 shows A-141", "部機成日跳停", "谢谢", "转人工")
# The units that raise alarms (demo KB products) and the code each product raises; a share of
# the alarms comes from a unit not heard from before, the rest repeat an active alarm.
ALARM_UNITS = 200
ALARM_PRODUCTS = {"HX-37": "A-141", "VM-850": "AL12", "LF-3015": "F07"}
NEW_UNIT_SHARE = 0.2


# --- what happened -----------------------------------------------------------------------------


@dataclass
class Tally:
    """Latencies (ms) and errors per kind of request, since the last sample and in total."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    minute: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    answered: set[tuple[str, str]] = field(default_factory=set)  # (channel, message_id)
    alarms: Counter[str] = field(default_factory=Counter)  # accepted alarms by serial
    sse_missing: int = 0
    chat_missing: int = 0

    def took(self, kind: str, started: float) -> None:
        ms = (time.perf_counter() - started) * 1000
        self.latencies.setdefault(kind, []).append(ms)
        self.minute.setdefault(kind, []).append(ms)

    def failed(self, kind: str, what: str) -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < 20:
            self.error_samples.append(f"{kind}: {what[:300]}")


@dataclass
class Sample:
    minute: int
    rss_mb: list[float]
    pids: list[int]
    per_second: dict[str, float]
    p99: dict[str, float]
    errors: int
    load: float


# --- the backend behind the webhook --------------------------------------------------------------


def receiver_app(received: Counter[str]) -> FastAPI:
    """Counts each delivered event id (a repeat is a duplicate delivery)."""
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        received[request.headers["X-Aftersales-Event-Id"]] += 1
        return {"status": "ok"}

    return app


# --- the load ----------------------------------------------------------------------------------


def count_crash(tally: Tally, kind: str, task: asyncio.Task[None]) -> None:
    """An exception nobody expected ends a customer or a ticket: it is an error too."""
    if not task.cancelled() and task.exception() is not None:
        tally.failed(kind, repr(task.exception()))


def tracked(
    running_now: set[asyncio.Task[None]],
    tally: Tally,
    kind: str,
    work: Coroutine[Any, Any, None],
) -> None:
    """`work` as a task kept in `running_now` until it ends; a crash counts as an error."""
    task = asyncio.create_task(work)
    running_now.add(task)
    task.add_done_callback(running_now.discard)
    task.add_done_callback(partial(count_crash, tally, kind))


async def posted(
    client: httpx.AsyncClient,
    tally: Tally,
    kind: str,
    path: str,
    body: dict[str, Any],
    status: int,
) -> bool:
    """POST `body`; its latency under `kind` when answered with `status`, else an error."""
    started = time.perf_counter()
    try:
        response = await client.post(path, json=body)
    except httpx.HTTPError as exc:
        tally.failed(kind, repr(exc))
        return False
    if response.status_code != status:
        tally.failed(kind, f"{response.status_code} {response.text}")
        return False
    tally.took(kind, started)
    return True


def load_texts() -> tuple[list[list[str]], list[str]]:
    """Multi-turn conversations and single messages (zh, en, Cantonese)."""
    lines = CONVERSATIONS.read_text("utf-8").splitlines()
    conversations = [[t["text"] for t in json.loads(line)["turns"]] for line in lines if line]
    queries = [json.loads(line)["text"] for line in QUERIES.read_text("utf-8").splitlines() if line]
    return conversations, queries


async def customer(
    client: httpx.AsyncClient, turns: list[str], tally: Tally, rng: random.Random
) -> None:
    sender = f"c-{uuid.uuid4().hex[:12]}"
    for n, text in enumerate(turns):
        body = {
            "channel": CHANNEL,
            "sender_id": sender,
            "message_id": f"{sender}-{n}",
            "text": text,
        }
        if not await posted(client, tally, "message", "/v1/messages", body, 200):
            return
        tally.answered.add((CHANNEL, body["message_id"]))
        await asyncio.sleep(rng.uniform(0.5, 2.0))  # the customer reads and types


async def customers(
    client: httpx.AsyncClient, rate: float, until: float, tally: Tally, rng: random.Random
) -> None:
    """New customers at `rate` messages/s offered (a conversation counts its turns)."""
    conversations, queries = load_texts()
    running_now: set[asyncio.Task[None]] = set()
    while time.monotonic() < until:
        turns = rng.choice(conversations) if rng.random() < 0.5 else [rng.choice(queries)]
        tracked(running_now, tally, "message", customer(client, turns, tally, rng))
        await asyncio.sleep(rng.expovariate(rate / len(turns)))
    await asyncio.gather(*running_now)


async def sse_events(client: httpx.AsyncClient, url: str, token: str) -> AsyncIterator[str]:
    """The statuses an SSE stream sends, as they come."""
    async with client.stream("GET", url, params={"token": token}) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                yield json.loads(line[5:])["status"]


async def ticket_life(client: httpx.AsyncClient, tally: Tally, rng: random.Random) -> None:
    """A ticket created, watched over SSE, moved to closed; the stream must see every status."""
    started = time.perf_counter()
    try:
        response = await client.post(
            "/v1/tickets", json={"subject": "Soak: compressor alarm A-141"}
        )
    except httpx.HTTPError as exc:
        tally.failed("ticket create", repr(exc))
        return
    if response.status_code != 201:
        tally.failed("ticket create", f"{response.status_code} {response.text}")
        return
    tally.took("ticket create", started)
    ticket = response.json()
    seen: list[str] = []
    expected = ["new", *TICKET_MOVES]

    async def watch() -> None:
        url = f"/v1/tickets/{ticket['id']}/events"
        async for status in sse_events(client, url, ticket["status_token"]):
            seen.append(status)
            if status == expected[-1]:
                return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)  # the subscriber connects (it replays what it missed anyway)
    for status in TICKET_MOVES:
        started = time.perf_counter()
        try:
            response = await client.patch(f"/v1/tickets/{ticket['id']}", json={"status": status})
        except httpx.HTTPError as exc:
            tally.failed("ticket PATCH", repr(exc))
            break
        if response.status_code != 200:
            tally.failed("ticket PATCH", f"{response.status_code} {response.text}")
            break
        tally.took("ticket PATCH", started)
        await asyncio.sleep(rng.uniform(0.2, 1.0))
    try:
        await asyncio.wait_for(watcher, timeout=30)
    except TimeoutError:
        pass  # counted below as the statuses it did not see
    except httpx.HTTPError as exc:
        tally.failed("SSE", repr(exc))
    tally.sse_missing += len(set(expected) - set(seen))


async def ticket_changes(
    client: httpx.AsyncClient, per_minute: float, until: float, tally: Tally, rng: random.Random
) -> None:
    lives: set[asyncio.Task[None]] = set()
    while time.monotonic() < until:
        tracked(lives, tally, "ticket", ticket_life(client, tally, rng))
        await asyncio.sleep(rng.expovariate(per_minute / 60))
    await asyncio.gather(*lives)


async def chat_visitor(ws_url: str, tally: Tally, rng: random.Random) -> None:
    """One web chat visitor: a socket, a few messages each waiting for its reply."""
    async with connect(ws_url, open_timeout=30) as socket:
        session = json.loads(await socket.recv())
        for n in range(rng.randint(1, 3)):
            client_id = f"m{n}"
            started = time.perf_counter()
            text = rng.choice(CHAT_TEXTS)
            await socket.send(json.dumps({"type": "message", "id": client_id, "text": text}))
            try:
                async with asyncio.timeout(60):
                    while True:
                        frame = json.loads(await socket.recv())
                        if frame.get("type") == "error":
                            tally.failed("chat", json.dumps(frame))
                            break
                        if frame.get("type") == "reply" and frame.get("client_id") == client_id:
                            tally.took("chat", started)
                            message_id = f"{session['session_id']}:{client_id}"
                            tally.answered.add(("webchat", message_id))
                            break
            except TimeoutError:
                tally.chat_missing += 1
            await asyncio.sleep(rng.uniform(0.5, 2.0))


async def chat_sockets(ws_url: str, sockets: int, until: float, tally: Tally) -> None:
    async def visitors(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < until:
            try:
                await chat_visitor(ws_url, tally, rng)
            except Exception as exc:  # noqa: BLE001 - a refused or dropped socket is an error
                tally.failed("chat", repr(exc))
                await asyncio.sleep(1)

    await asyncio.gather(*(visitors(i) for i in range(sockets)))


def unit_serial(n: int) -> str:
    return f"SOAK-{n:05d}"


def unit_product(n: int) -> str:
    return list(ALARM_PRODUCTS)[n % len(ALARM_PRODUCTS)]


def units_csv(path: Path) -> Path:
    """The registry the alarms' units come from: serial, product and customer tier."""
    tiers = ("strategic", "key", "standard")
    lines = ["serial,product_id,customer_name,customer_tier"]
    lines += [
        f"{unit_serial(n)},{unit_product(n)},Plant {n},{tiers[n % 3]}" for n in range(ALARM_UNITS)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def alarm(client: httpx.AsyncClient, unit: int, tally: Tally) -> None:
    serial = unit_serial(unit)
    body = {"serial": serial, "code": ALARM_PRODUCTS[unit_product(unit)], "severity": "major"}
    if await posted(client, tally, "alarm", "/v1/alarms", body, 202):
        tally.alarms[serial] += 1


async def alarms(
    client: httpx.AsyncClient, per_minute: float, until: float, tally: Tally, rng: random.Random
) -> None:
    """Alarms at `per_minute` offered: a unit not heard from yet for NEW_UNIT_SHARE of them
    (while any is left), else a repeat of one already alarmed."""
    heard = 0
    running_now: set[asyncio.Task[None]] = set()
    while per_minute > 0 and time.monotonic() < until:
        if heard == 0 or (heard < ALARM_UNITS and rng.random() < NEW_UNIT_SHARE):
            unit, heard = heard, heard + 1
        else:
            unit = rng.randrange(heard)
        tracked(running_now, tally, "alarm", alarm(client, unit, tally))
        await asyncio.sleep(rng.expovariate(per_minute / 60))
    await asyncio.gather(*running_now)


async def sampler(
    server: Server, until: float, tally: Tally, samples: list[Sample], started: float
) -> None:
    """Every minute: RSS and pid of each worker, and the minute's throughput and p99."""
    errors_before = 0
    while time.monotonic() < until:
        await asyncio.sleep(min(60.0, max(0.0, until - time.monotonic())))
        window = tally.minute
        tally.minute = {}
        errors = sum(tally.errors.values())
        workers = server.workers()
        sample = Sample(
            minute=round((time.monotonic() - started) / 60),
            rss_mb=server.rss_mb(),
            pids=[int(w.pid) for w in workers],  # type: ignore[attr-defined]
            per_second={kind: len(values) / 60 for kind, values in window.items()},
            p99={kind: percentile(values, 0.99) for kind, values in window.items() if values},
            errors=errors - errors_before,
            load=os.getloadavg()[0],
        )
        errors_before = errors
        samples.append(sample)
        print(format_sample(sample), file=sys.stderr, flush=True)


async def soak(server: Server, args: argparse.Namespace, tally: Tally) -> list[Sample]:
    samples: list[Sample] = []
    rng = random.Random(11)
    started = time.monotonic()
    until = started + args.minutes * 60
    ws_url = server.url.replace("http://", "ws://") + "/chat/ws"
    # An idle connection is dropped before uvicorn's 5 s keep-alive ends it on the server side:
    # a request sent on a connection the server is closing fails (a load balancer in front of
    # the hosts needs the same: its idle timeout below the service's).
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=2)
    timeout = httpx.Timeout(60, read=120)
    async with httpx.AsyncClient(
        base_url=server.url, headers=HEADERS, timeout=timeout, limits=limits
    ) as client:
        await asyncio.gather(
            customers(client, args.rate, until, tally, rng),
            ticket_changes(client, args.tickets_per_minute, until, tally, random.Random(12)),
            chat_sockets(ws_url, args.sockets, until, tally),
            alarms(client, args.alarms_per_minute, until, tally, random.Random(13)),
            sampler(server, until, tally, samples, started),
        )
    return samples


# --- the checks at the end -------------------------------------------------------------------


async def check_store(
    database_url: str, tally: Tally, received: Counter[str], drain_seconds: float
) -> dict[str, int]:
    """Lost and repeated messages and deliveries, once the outbox has drained."""
    from sqlalchemy import func, select

    from bot.dialogue.models import ConversationMessage
    from core.database import create_engine, session_factory
    from intake_api.alarms.models import Alarm
    from intake_api.deliveries.models import OutboxEvent
    from intake_api.messages.models import STATUS_ANSWERED, STATUS_FAILED, StoredMessage

    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        deadline = time.monotonic() + drain_seconds
        while True:
            async with sessions() as session:
                rows = (
                    await session.execute(select(OutboxEvent.event_id, OutboxEvent.status))
                ).all()
            pending = [event_id for event_id, status in rows if status != "delivered"]
            if not pending or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        async with sessions() as session:
            stored = {
                (channel, message_id): status
                for channel, message_id, status in await session.execute(
                    select(StoredMessage.channel, StoredMessage.message_id, StoredMessage.status)
                )
            }
            twice = await session.scalar(
                select(func.count()).select_from(
                    select(ConversationMessage.message_id)
                    .where(ConversationMessage.direction == "in")
                    .where(ConversationMessage.message_id.is_not(None))
                    .group_by(ConversationMessage.conversation_id, ConversationMessage.message_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
            alarm_rows = (
                await session.execute(
                    select(Alarm.serial, func.sum(Alarm.count), func.count(Alarm.ticket_id))
                    .where(Alarm.serial.like("SOAK-%"))
                    .group_by(Alarm.serial)
                )
            ).all()
    finally:
        await engine.dispose()
    outbox = {event_id for event_id, _ in rows}
    counted = {serial: int(total) for serial, total, _ in alarm_rows}
    ticketed = {serial for serial, _, tickets in alarm_rows if tickets}
    return {
        "messages answered (client)": len(tally.answered),
        "messages stored": len(stored),
        "messages the bot failed on (apology sent)": sum(
            1 for status in stored.values() if status == STATUS_FAILED
        ),
        "lost messages": sum(1 for key in tally.answered if stored.get(key) != STATUS_ANSWERED),
        "messages answered twice": int(twice or 0),
        "outbox rows": len(outbox),
        "undelivered outbox rows": len(pending),
        "lost deliveries": len(outbox - set(received)),
        "repeated deliveries": sum(count - 1 for count in received.values() if count > 1),
        "SSE statuses missed": tally.sse_missing,
        "web chat replies missed": tally.chat_missing,
        "alarms accepted (202)": sum(tally.alarms.values()),
        "alarms counted on their unit's rows": sum(counted.values()),
        "lost alarms": sum(max(0, n - counted.get(s, 0)) for s, n in tally.alarms.items()),
        "alarms counted twice": sum(max(0, n - tally.alarms[s]) for s, n in counted.items()),
        "alarmed units": len(tally.alarms),
        "alarmed units without a ticket": len(set(tally.alarms) - ticketed),
    }


# --- report ------------------------------------------------------------------------------------


def format_sample(sample: Sample) -> str:
    rss = " / ".join(f"{mb:.0f}" for mb in sample.rss_mb)
    rates = ", ".join(f"{k} {v:.2f}/s" for k, v in sorted(sample.per_second.items()))
    p99 = ", ".join(f"{k} {v:.0f}" for k, v in sorted(sample.p99.items()))
    return f"| {sample.minute} | {rss} | {rates} | {p99} | {sample.errors} | {sample.load:.1f} |"


def report(
    args: argparse.Namespace, tally: Tally, samples: list[Sample], checks: dict[str, int]
) -> None:
    minutes = args.minutes
    print(f"\n### Soak: {minutes} minutes, `aftersales serve --workers 2`, PostgreSQL + Redis\n")
    print("| requests | count | per second | p50 ms | p99 ms | errors |")
    print("| --- | --- | --- | --- | --- | --- |")
    kinds = sorted(set(tally.latencies) | set(tally.errors))
    for kind in kinds:
        values = tally.latencies.get(kind, [])
        p50 = f"{percentile(values, 0.5):.0f}" if values else "-"
        p99 = f"{percentile(values, 0.99):.0f}" if values else "-"
        rate = len(values) / (minutes * 60)
        print(f"| {kind} | {len(values)} | {rate:.2f} | {p50} | {p99} | {tally.errors[kind]} |")
    print("\n| check | value |\n| --- | --- |")
    for name, value in checks.items():
        print(f"| {name} | {value} |")
    print("\n| minute | RSS MB per worker | requests/s | p99 ms | errors | load avg |")
    print("| --- | --- | --- | --- | --- | --- |")
    for sample in samples:
        print(format_sample(sample))
    print(f"\nRSS growth after the {args.warmup}-minute warm-up: {rss_growth(samples, args)}")
    restarts = (
        len({pid for s in samples for pid in s.pids}) - len(samples[0].pids) if samples else 0
    )
    print(f"worker processes replaced during the run: {restarts}")
    for line in tally.error_samples:
        print(f"error: {line}")
    print(f"command: `python bench/soak.py {' '.join(sys.argv[1:])}`")


def rss_growth(samples: list[Sample], args: argparse.Namespace) -> str:
    """Per worker, from the first sample after the warm-up to the last, in percent."""
    after = [s for s in samples if s.minute >= args.warmup]
    if len(after) < 2 or len(after[0].rss_mb) != len(after[-1].rss_mb):
        return "not measured (too short a run, or a worker was replaced)"
    first, last = after[0].rss_mb, after[-1].rss_mb
    return ", ".join(
        f"{a:.0f} -> {b:.0f} MB ({(b - a) / a * 100:+.1f}%)"
        for a, b in zip(first, last, strict=True)
    )


# --- set-up ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5, help="minutes before RSS is compared")
    parser.add_argument("--rate", type=float, default=8, help="customer messages/s offered")
    parser.add_argument("--tickets-per-minute", type=float, default=30)
    parser.add_argument("--sockets", type=int, default=4, help="web chat visitors at once")
    parser.add_argument("--alarms-per-minute", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None, help="default: a throwaway PostgreSQL")
    parser.add_argument("--redis-url", default=None, help="default: a throwaway redis-server")
    parser.add_argument("--drain-seconds", type=float, default=180)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from tests.support.postgres import PostgresServer, create_database
    from tests.support.redis import running_redis
    from tests.support.server import running_server

    tally, received = Tally(), Counter[str]()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="aftersales-soak-") as tmp:
        root = Path(tmp)
        database_url = args.database_url
        if database_url is None:
            pg = PostgresServer()
            pg.start()
            stack.callback(pg.stop)
            database_url = create_database(pg.admin_url)
        redis_url = args.redis_url or stack.enter_context(running_redis())
        hook = stack.enter_context(running_server(receiver_app(received)))
        env = service_env(root / "data", database_url, redis_url)
        env["AFTERSALES_WEBHOOK_URL"] = f"{hook}/hook"
        port = free_port()  # one worker first: migrations, the demo KB, the NLU model
        with running(serve_cmd(port, 1), env, root / "prep.log", port):
            pass
        subprocess.run(
            [str(AFTERSALES), "assets", "import", str(units_csv(root / "units.csv"))],
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        log = root / "serve.log"
        with running(serve_cmd(port, args.workers), env, log, port) as server:
            print("| minute | RSS MB per worker | requests/s | p99 ms | errors | load avg |",
                  file=sys.stderr, flush=True)  # fmt: skip
            samples = asyncio.run(soak(server, args, tally))
            checks = asyncio.run(check_store(database_url, tally, received, args.drain_seconds))
        report(args, tally, samples, checks)


if __name__ == "__main__":
    main()
