"""Delivery lag benchmark: seconds from an outbox row's commit to the backend's receipt of it.

Producers enqueue ticket events at a fixed offered rate from many concurrent transactions over
many tickets; a delivery worker drains the outbox to a webhook receiver running in a process of
its own (uvicorn, answers 200 and notes the receipt time). Two set-ups per database:

- same process: the worker lives in the producers' process, as in `aftersales serve` where the
  API enqueues and the process's own worker delivers (the after-commit doorbell wakes it);
- separate process: the worker runs in another process and only sees rows by polling
  (`delivery_poll_seconds`, default 0.5 s).

    python bench/delivery_lag.py [--events 3000] [--tickets 300] [--producers 16] [--rate 300]
        [--postgres-url URL] [--output docs/benchmarks/deliveries.md]

Without --postgres-url a throwaway PostgreSQL server is started (tests/support/postgres.py,
fsync off, like the tests). Checks on the way: every event arrives, in order per ticket.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import platform
import random
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.database import create_engine, session_factory, unit_of_work  # noqa: E402
from core.settings import Settings  # noqa: E402
from intake_api.deliveries.outbox import enqueue  # noqa: E402
from intake_api.deliveries.worker import DeliveryConfig, DeliveryWorker  # noqa: E402
from intake_api.storage.migrate import migrate  # noqa: E402

SECRET = "bench-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the backend: a receiver process ----------------------------------------------------------


def _receiver_app():  # noqa: ANN202 - a raw ASGI callable
    receipts: list[tuple[str, str, float]] = []

    async def app(scope: dict, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            return
        if scope["method"] == "GET":
            body = json.dumps(receipts).encode()
        else:
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            payload = json.loads(b"".join(chunks))
            receipts.append((payload["event_id"], payload["ticket"]["id"], time.time()))
            body = b""
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


def run_receiver(port: int) -> None:
    import uvicorn

    uvicorn.run(_receiver_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")


# --- the worker -----------------------------------------------------------------------------


def delivery_config(receiver_url: str) -> DeliveryConfig:
    """The default delivery settings, pointed at the receiver."""
    settings = Settings(_env_file=None, webhook_url=receiver_url, webhook_secret=SECRET)
    return DeliveryConfig.from_settings(settings)


async def _worker_forever(database_url: str, receiver_url: str, ready: EventType) -> None:
    engine = create_engine(database_url)
    worker = DeliveryWorker(session_factory(engine), delivery_config(receiver_url))
    await worker.start()
    ready.set()
    await asyncio.Event().wait()


def run_worker(database_url: str, receiver_url: str, ready: EventType) -> None:
    asyncio.run(_worker_forever(database_url, receiver_url, ready))


# --- producers ------------------------------------------------------------------------------


async def produce(
    database_url: str, *, events: int, tickets: int, producers: int, rate: float
) -> dict[str, tuple[str, float]]:
    """Enqueue `events` at `rate`/s from `producers` concurrent tasks; event_id -> (ticket,
    commit time). One ticket belongs to one producer, so its events are enqueued in order."""
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    committed: dict[str, tuple[str, float]] = {}
    start = time.monotonic()

    async def producer(index: int) -> None:
        mine = [f"T-{t}" for t in range(index, tickets, producers)]
        for n in range(index, events, producers):
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            ticket_id = random.choice(mine)
            async with unit_of_work(sessions) as session:
                event_id = enqueue(
                    session,
                    ticket_id=ticket_id,
                    event="ticket.updated",
                    ticket={"id": ticket_id, "n": n, "subject": "Compressor alarm E03"},
                )
            committed[event_id] = (ticket_id, time.time())

    await asyncio.gather(*(producer(i) for i in range(producers)))
    await engine.dispose()
    return committed


@dataclass
class Result:
    database: str
    setup: str
    events: int
    seconds: float
    p50: float
    p90: float
    p99: float
    max: float
    duplicates: int
    in_order: bool


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


async def fetch_receipts(url: str, expected: int, deadline_s: float) -> list[list]:
    deadline = time.monotonic() + deadline_s
    async with httpx.AsyncClient() as client:
        while True:
            receipts = (await client.get(url)).json()
            if len({r[0] for r in receipts}) >= expected or time.monotonic() > deadline:
                return receipts
            await asyncio.sleep(0.2)


def summarize(
    database: str, setup: str, committed: dict[str, tuple[str, float]], receipts: list[list]
) -> Result:
    first_seen: dict[str, float] = {}
    order: dict[str, list[str]] = {}
    for event_id, ticket_id, at in receipts:
        if event_id not in first_seen:
            first_seen[event_id] = at
            order.setdefault(ticket_id, []).append(event_id)
    missing = set(committed) - set(first_seen)
    if missing:
        raise SystemExit(f"{database}/{setup}: {len(missing)} events never arrived")
    expected: dict[str, list[str]] = {}
    for event_id, (ticket_id, _at) in sorted(committed.items(), key=lambda kv: kv[1][1]):
        expected.setdefault(ticket_id, []).append(event_id)
    lags = [first_seen[e] - at for e, (_t, at) in committed.items()]
    commit_times = [at for _t, at in committed.values()]
    return Result(
        database=database,
        setup=setup,
        events=len(committed),
        seconds=max(first_seen.values()) - min(commit_times),
        p50=statistics.median(lags),
        p90=_percentile(lags, 0.90),
        p99=_percentile(lags, 0.99),
        max=max(lags),
        duplicates=len(receipts) - len(first_seen),
        in_order=order == expected,
    )


async def measure(database: str, database_url: str, setup: str, args: argparse.Namespace) -> Result:
    engine = create_engine(database_url)
    await migrate(engine)
    await engine.dispose()
    ctx = multiprocessing.get_context("spawn")
    port = free_port()
    receiver_url = f"http://127.0.0.1:{port}/hook"
    receiver = ctx.Process(target=run_receiver, args=(port,), daemon=True)
    receiver.start()
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            try:
                await client.get(receiver_url)
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    worker_process = None
    worker = None
    if setup == "separate process":
        ready = ctx.Event()
        worker_process = ctx.Process(
            target=run_worker, args=(database_url, receiver_url, ready), daemon=True
        )
        worker_process.start()
        if not await asyncio.to_thread(ready.wait, 600):  # its imports take a while
            raise SystemExit("the worker process did not start")
    else:
        worker_engine = create_engine(database_url)
        worker = DeliveryWorker(session_factory(worker_engine), delivery_config(receiver_url))
        await worker.start()
    try:
        committed = await produce(
            database_url,
            events=args.events,
            tickets=args.tickets,
            producers=args.producers,
            rate=args.rate,
        )
        receipts = await fetch_receipts(receiver_url, len(committed), deadline_s=300)
    finally:
        if worker is not None:
            await worker.stop()
            await worker_engine.dispose()
        for process in (worker_process, receiver):
            if process is not None:
                process.terminate()
                process.join()
    return summarize(database, setup, committed, receipts)


def markdown(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        "## Deliveries to the backend (deliveries)",
        "",
        f"Script: `python bench/delivery_lag.py --events {args.events} --tickets {args.tickets} "
        f"--producers {args.producers} --rate {args.rate}`. Measured "
        f"{time.strftime('%Y-%m-%d', time.gmtime())} on {platform.machine()} "
        f"({multiprocessing.cpu_count()} cores), Python {platform.python_version()}.",
        "",
        f"{args.producers} producers enqueue {args.events} ticket events over {args.tickets} "
        f"tickets at an offered {args.rate:g} events/s, one transaction per event; lag = backend "
        "receipt − enqueue commit (wall clock, same machine). Default delivery settings (poll "
        "0.5 s, 32 deliveries in flight per worker). Receiver: a uvicorn process answering 200.",
        "",
        "| database | worker | events | delivered in s | lag p50 s | p90 s | p99 s | max s "
        "| duplicates | order per ticket kept |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.database} | {r.setup} | {r.events} | {r.seconds:.1f} | {r.p50:.3f} "
            f"| {r.p90:.3f} | {r.p99:.3f} | {r.max:.3f} | {r.duplicates} "
            f"| {'yes' if r.in_order else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="aftersales-bench-") as tmp:
        server = None
        admin_url = args.postgres_url
        if not admin_url:
            from tests.support.postgres import PostgresServer

            server = PostgresServer()
            server.start()
            admin_url = server.admin_url
        try:
            from tests.support.postgres import create_database

            for name, url_of in (
                ("SQLite", lambda setup: f"sqlite+aiosqlite:///{Path(tmp) / setup[:4]}.db"),
                ("PostgreSQL", lambda _setup: create_database(admin_url)),
            ):
                for setup in ("same process", "separate process"):
                    result = await measure(name, url_of(setup), setup, args)
                    print(result, flush=True)
                    results.append(result)
        finally:
            if server is not None:
                server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--producers", type=int, default=16)
    parser.add_argument("--rate", type=float, default=300.0, help="offered events per second")
    parser.add_argument(
        "--postgres-url", default=None, help="admin URL of a running server (postgresql://…)"
    )
    parser.add_argument("--output", type=Path, default=None, help="write the markdown here")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    text = markdown(results, args)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
