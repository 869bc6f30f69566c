"""Load benchmark of `POST /v1/tickets`: tickets created/s and latency p50/p99 with 16 concurrent
clients, against a real `aftersales serve` process on SQLite and on PostgreSQL, next to a bare
FastAPI endpoint served by the same uvicorn setup (the ratio shows what tickets cost on top of
HTTP + JSON + pydantic: auth lookup, triage, one transaction with ticket, event, audit and outbox
rows, the event publish).

    python bench/tickets_load.py [--clients 16] [--requests 2000] [--postgres-url URL]
        [--servers bare,sqlite,postgres] [--key admin|apikey] [--output docs/benchmarks/intake.md]

`--key apikey` sends a scoped API key (`tickets:write`, created through `/v1/apikeys`) instead
of AFTERSALES_ADMIN_KEY, so the key lookup and the per-key rate limit are on the path. The
server's CPU time per request (user + system of the server process and its children, measured
over the timed phase) is the figure the machine's other load changes least.

Without --postgres-url a throwaway PostgreSQL server is started (tests/support/postgres.py:
fsync off, like the tests). The load generator runs on the same machine as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]
from fastapi import FastAPI
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
AFTERSALES = Path(sys.executable).with_name("aftersales")
KEY = "bench-admin-key"
SUBJECTS = [
    "Compressor shows alarm E03 and stops",
    "咖啡机漏水，请尽快处理",
    "Need a spare filter element for AC-300",
    "How do I descale the boiler?",
    "设备冒烟，已经停产",
    "I want to complain about the late engineer",
]


class BareBody(BaseModel):
    subject: str
    description: str | None = None


def create_bare_app() -> FastAPI:
    """The baseline: parse and validate a JSON body, answer 201 with JSON; nothing else."""
    app = FastAPI()
    counter = iter(range(1, 10**9))

    @app.post("/bare", status_code=201)
    async def bare(body: BareBody) -> dict[str, object]:
        return {"id": f"T-{next(counter):06d}", "status": "new", **body.model_dump()}

    return app


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Server:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process and its children so far."""
        parent = psutil.Process(self.pid)
        total = 0.0
        for proc in [parent, *parent.children(recursive=True)]:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def process(command: list[str], env: dict[str, str], health: str, log: Path) -> Iterator[int]:
    """Run a server process until the block ends; waits until `health` answers; yields its
    pid."""
    with log.open("wb") as output:
        proc = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(health, timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"server did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.5)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def aftersales_serve(database_url: str | None, workdir: Path) -> Iterator[Server]:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "AFTERSALES_DATA_DIR": str(workdir / "data"),
        "AFTERSALES_ADMIN_KEY": KEY,
        "AFTERSALES_LOAD_DEMO_KB": "false",
        "AFTERSALES_LOG_LEVEL": "WARNING",
        "AFTERSALES_RATE_LIMIT_PER_KEY_PER_MINUTE": "100000000",
    }
    env.pop("AFTERSALES_REDIS_URL", None)
    if database_url:
        env["AFTERSALES_DATABASE_URL"] = database_url
    url = f"http://127.0.0.1:{port}"
    command = [str(AFTERSALES), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with process(command, env, f"{url}/healthz", workdir / f"serve-{port}.log") as pid:
        yield Server(url, pid)


@contextmanager
def bare_serve(workdir: Path) -> Iterator[str]:
    """The bare endpoint's base URL (bench/alarms_load.py uses it too)."""
    with bare_server(workdir) as server:
        yield server.url


@contextmanager
def bare_server(workdir: Path) -> Iterator[Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(ROOT / "bench"),
        "--factory",
        "tickets_load:create_bare_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with process(command, dict(os.environ), f"{url}/docs", workdir / "bare.log") as pid:
        yield Server(url, pid)


def scoped_key(url: str) -> str:
    """A new API key with the `tickets:write` scope, made with the admin key."""
    response = httpx.post(
        f"{url}/v1/apikeys",
        json={"name": "bench", "scopes": ["tickets:write"]},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    response.raise_for_status()
    return str(response.json()["key"])


async def load(name: str, server: Server, path: str, args: argparse.Namespace) -> Result:
    """`requests` POSTs from `clients` concurrent clients, after a short warm-up."""
    clients, requests = args.clients, args.requests
    key = scoped_key(server.url) if args.key == "apikey" and path != "/bare" else KEY
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    errors = 0

    async def client_loop(client: httpx.AsyncClient, indexes: Iterator[int], record: bool) -> None:
        """Take the next request number from the shared iterator until none is left."""
        nonlocal errors
        for i in indexes:
            body = {"subject": SUBJECTS[i % len(SUBJECTS)], "description": f"bench {i}"}
            start = time.perf_counter()
            response = await client.post(path, json=body)
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 201:
                errors += record
            elif record:
                latencies.append(elapsed)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, limits=limits, timeout=60
    ) as c:
        warm_up = iter(range(min(200, requests // 10)))
        await asyncio.gather(*(client_loop(c, warm_up, False) for _ in range(clients)))
        measured = iter(range(requests))
        cpu = server.cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(c, measured, True) for _ in range(clients)))
        seconds = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu
    return Result(name, requests, errors, seconds, latencies, cpu)


def markdown(results: list[Result], args: argparse.Namespace) -> str:
    bare = next((r for r in results if r.name.startswith("bare")), results[0])
    rows = [
        "| server | requests | errors | per second | p50 ms | p99 ms | vs bare (rate) "
        "| server CPU ms/request |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        rows.append(
            f"| {r.name} | {r.requests} | {r.errors} | {r.per_second:.0f} | "
            f"{r.percentile(0.5):.1f} | {r.percentile(0.99):.1f} | "
            f"{r.per_second / bare.per_second:.2f} | {r.cpu_seconds * 1000 / r.requests:.2f} |"
        )
    clients = args.clients
    load_avg = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return "\n".join(
        [
            "## Intake API: ticket creation under load",
            "",
            f"`python bench/tickets_load.py --clients {clients} --requests {results[0].requests}"
            f" --key {args.key}`"
            f" — {clients} concurrent HTTP/1.1 keep-alive clients, each `POST /v1/tickets` with "
            "a subject and description (triaged: category, priority, skill group, SLA), one "
            "`aftersales serve` worker; the bare row is a FastAPI endpoint that only validates "
            "the JSON body and answers 201, on the same uvicorn setup.",
            "",
            *rows,
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}; load average at the end {load_avg} (the machine is "
            "shared; the load generator runs on it too). PostgreSQL is the throwaway test server "
            "(fsync off); SQLite runs in WAL mode with synchronous=NORMAL.",
            "",
        ]
    )


async def run(args: argparse.Namespace) -> list[Result]:
    workdir = Path(tempfile.mkdtemp(prefix="tickets-load-"))
    results = []
    if "bare" in args.servers:
        with bare_server(workdir) as server:
            results.append(await load("bare FastAPI", server, "/bare", args))
    if "sqlite" in args.servers:
        with aftersales_serve(None, workdir / "sqlite") as server:
            results.append(await load("tickets, SQLite", server, "/v1/tickets", args))
    if "postgres" in args.servers:
        results.append(await run_postgres(args, workdir))
    return results


async def run_postgres(args: argparse.Namespace, workdir: Path) -> Result:
    postgres_url = args.postgres_url
    postgres = None
    if not postgres_url:
        sys.path.insert(0, str(ROOT))
        from tests.support.postgres import PostgresServer, create_database

        postgres = PostgresServer()
        postgres.start()
        postgres_url = create_database(postgres.admin_url)
    try:
        with aftersales_serve(postgres_url, workdir / "postgres") as server:
            return await load("tickets, PostgreSQL", server, "/v1/tickets", args)
    finally:
        if postgres is not None:
            postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument(
        "--servers",
        default="bare,sqlite,postgres",
        help="Comma-separated subset of bare, sqlite, postgres.",
    )
    parser.add_argument(
        "--key",
        choices=["admin", "apikey"],
        default="admin",
        help="Send AFTERSALES_ADMIN_KEY, or a scoped API key (lookup and rate limit on the path).",
    )
    parser.add_argument("--output", type=Path, default=None, help="Write the markdown here too.")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    text = markdown(results, args)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
