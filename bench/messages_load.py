"""Load benchmark of `POST /v1/messages` on `aftersales serve --workers N`: p50, p99,
messages/s, CPU per message and RSS per worker, next to a bare FastAPI app served the same way.

Each configuration runs `aftersales serve --workers N` as a subprocess (settings through
`AFTERSALES_*`: data dir in a temp dir, an admin key, rate limits off, `--database-url`,
`--redis-url`), and a trivial FastAPI app under `uvicorn --workers N` with the same client load,
back to back in one run; the ratio between the two is the figure to read on a busy machine.
Senders post customer messages in Chinese and English (bench/data/demo-queries.jsonl), each one
a new conversation (the expensive first turn: NLU, KB search, maybe a ticket). After the
concurrent load, one sender posts messages one after another (the sequential p50). Each sender
posts 60 messages by default (960 in all, about 8 s on 2 workers): with 20 (about 3 s) the
ramp-down, senders finishing one by one with the cores no longer full, was a large share of the
window and messages/s moved by a fifth between runs of one code.

The client is lean on purpose (`LeanConnection`: HTTP/1.1 written as bytes, httptools' C parser):
it runs on the same cores as the workers, and the CPU it spends a request is printed with each
row (`client CPU`); httpx spent about 1.7 ms a request. Each message comes on a connection of its
own, as a burst of new customers (or of webhook deliveries) brings them: with 16 kept-alive
connections (`--keep-alive`) the kernel's SO_REUSEPORT hash fixes each worker's share for the
whole run (splits such as 66% / 34% in the `CPU by worker` column; kept-alive runs of one
code gave 99.7-115.6 messages/s): that measures the hash, not the service (a load balancer in
front spreads requests instead).

CPU per message is the CPU time (user + system) the worker processes spent during the concurrent
load divided by the messages, and, with `--postgres`, the same for the PostgreSQL server (its
postmaster and every backend, also the ones that ended); RSS per worker is read after it (psutil,
in the dev extra). CPU per message does not depend on what else runs on the machine, messages/s
and latencies do: each row also gives the 1-minute load average at the end of its load.

    python bench/messages_load.py [--workers 1 2] [--senders 16] [--messages 60]
        [--database-url URL | --postgres] [--redis-url URL | --redis] [--py-spy PREFIX]
        [--keep-alive]

`--py-spy PREFIX` samples the service's workers during the concurrent load (py-spy `--gil
--subprocesses`, raw collapsed stacks in PREFIX-<workers>.raw; py-spy installed in the venv).
Sampling pauses the workers a little: the CPU a message of such a run is not comparable.

`--postgres` / `--redis` start throwaway servers on loopback (tests/support helpers); with
PostgreSQL each configuration gets a fresh database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import httptools
import httpx
from fastapi import FastAPI
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "bench" / "data" / "demo-queries.jsonl"
KEY = "bench-admin-key"
TIMEOUT_SECONDS = 120.0
AFTERSALES = Path(sys.executable).with_name("aftersales")


# --- the bare FastAPI app (served by uvicorn from this file: `messages_load:bare_app`) --------


class _Body(BaseModel):
    channel: str
    sender_id: str
    message_id: str
    text: str


def bare_app() -> FastAPI:
    """The same request shape with nothing behind it: the floor of FastAPI + uvicorn."""
    app = FastAPI()

    @app.post("/v1/messages")
    async def receive(body: _Body) -> dict[str, object]:
        return {"action": "answer", "message_id": body.message_id, "replies": [{"text": "ok"}]}

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


# --- measuring --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def workers(self) -> list[object]:
        """The processes that serve requests: uvicorn's children, or the process itself."""
        import psutil  # type: ignore[import-untyped]

        parent = psutil.Process(self.process.pid)
        children = [
            child
            for child in parent.children(recursive=True)
            if "resource_tracker" not in " ".join(_cmdline(child))
        ]
        return children or [parent]

    def wait_listening(self, port: int, deadline: float) -> None:
        """Until every worker listens (the first to start would get every connection)."""
        while time.monotonic() < deadline:
            if all(_listens(worker, port) for worker in self.workers()):
                return
            time.sleep(0.3)
        raise SystemExit(f"not every worker listens: {self.log.read_text(errors='replace')}")

    def cpu_seconds(self) -> list[float]:
        """Each worker's CPU time so far (user + system), in seconds."""
        times = [worker.cpu_times() for worker in self.workers()]  # type: ignore[attr-defined]
        return [t.user + t.system for t in times]

    def rss_mb(self) -> list[float]:
        return [w.memory_info().rss / 2**20 for w in self.workers()]  # type: ignore[attr-defined]


@contextmanager
def sampled(out: Path | None, pid: int, *, subprocesses: bool = False) -> Iterator[None]:
    """py-spy (`--gil`, raw collapsed stacks into `out`) on process `pid`, and its children
    with `subprocesses`, while the block runs; nothing when `out` is None."""
    if out is None:
        yield
        return
    spy = Path(sys.executable).with_name("py-spy")
    cmd = [str(spy), "record", "--gil", "-r", "250", "-f", "raw", "-o", str(out)]
    cmd += ["--subprocesses"] if subprocesses else []
    process = subprocess.Popen([*cmd, "--pid", str(pid)], stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a server process and its children, also of the children that ended (a
    PostgreSQL backend per connection)."""
    import psutil

    parent = psutil.Process(pid)
    times = parent.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in parent.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += child_times.user + child_times.system
    return total


def _listens(process: object, port: int) -> bool:
    try:
        sockets = process.net_connections(kind="tcp")  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a process that just ended
        return False
    return any(s.status == "LISTEN" and s.laddr.port == port for s in sockets)


def _cmdline(process: object) -> list[str]:
    try:
        return list(process.cmdline())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a process that just ended
        return []


@contextmanager
def running(cmd: list[str], env: dict[str, str], log: Path, port: int) -> Iterator[Server]:
    with log.open("wb") as output:
        process = subprocess.Popen(cmd, env=env, stdout=output, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 600
        while True:
            if process.poll() is not None:
                raise SystemExit(f"server exited: {log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"server did not start: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        server.wait_listening(port, deadline)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class LeanConnection:
    """One HTTP/1.1 connection of the load client, kept alive or closed after each answer:
    requests written as bytes, responses parsed by httptools (uvicorn's C parser). The client
    shares the machine's two cores with the workers it measures; httpx spent about 1.7 ms of
    CPU a request there, this a fraction of it (the `client CPU` the run prints)."""

    def __init__(self, url: str, headers: dict[str, str], *, keep_alive: bool = True) -> None:
        self.keep_alive = keep_alive
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._head = (f"Host: {parts.netloc}\r\nContent-Type: application/json\r\n{extra}").encode()
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: Mapping[str, object]) -> tuple[int, bytes]:
        """The status and body of a POST of `body` as JSON (one reconnect if the server
        closed the kept-alive connection)."""
        payload = json.dumps(body, ensure_ascii=False).encode()
        request = (
            f"POST {path} HTTP/1.1\r\n".encode()
            + self._head
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(request)
        response = _Response()
        parser = httptools.HttpResponseParser(response)
        while not response.complete:
            data = await asyncio.wait_for(reader.read(65536), TIMEOUT_SECONDS)
            if not data:
                await self.close()
                raise ConnectionError("the server closed the connection")
            parser.feed_data(data)
        if not self.keep_alive:
            await self.close()
        return parser.get_status_code(), bytes(response.body)

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


class _Response:
    """httptools' callbacks for one response."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.complete = False

    def on_body(self, data: bytes) -> None:
        self.body += data

    def on_message_complete(self) -> None:
        self.complete = True


async def _sender(
    client: LeanConnection,
    run: str,
    worker: int,
    texts: list[str],
    count: int,
    latencies: list[float],
    errors: list[str],
) -> None:
    """One customer channel sending `count` messages one after the other, each a new
    conversation (a sender id of its own)."""
    for i in range(count):
        body = {
            "channel": "bench",
            "sender_id": f"{run}-w{worker}-m{i}",
            "message_id": f"{run}-w{worker}-m{i}",
            "text": texts[(worker * count + i) % len(texts)],
        }
        start = time.perf_counter()
        try:
            status, answer = await client.post("/v1/messages", body)
        except (OSError, TimeoutError, httptools.HttpParserError) as exc:
            errors.append(repr(exc))
            continue
        latencies.append((time.perf_counter() - start) * 1000)
        if status != 200 or b'"action"' not in answer:
            errors.append(f"{status} {answer[:200]!r}")


async def _load(
    url: str, texts: list[str], senders: int, count: int, *, keep_alive: bool = False
) -> tuple[list[float], float, list[str], float]:
    """Latencies, seconds, errors and the client's CPU seconds of `senders` posting `count`
    messages each: each message on a connection of its own (a new customer's), or with
    `keep_alive` one kept-alive connection a sender."""
    run = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    errors: list[str] = []
    headers = {"Authorization": f"Bearer {KEY}"}
    clients = [LeanConnection(url, headers, keep_alive=keep_alive) for _ in range(senders)]
    cpu, start = time.process_time(), time.perf_counter()
    try:
        await asyncio.gather(
            *(_sender(c, run, w, texts, count, latencies, errors) for w, c in enumerate(clients))
        )
    finally:
        for client in clients:
            await client.close()
    return latencies, time.perf_counter() - start, errors, time.process_time() - cpu


@dataclass
class Row:
    label: str
    workers: int
    messages: int
    p50: float
    p99: float
    per_second: float
    cpu_ms: float
    rss_mb: list[float]
    cpu_shares: list[float]  # each worker's share of the CPU (16 kept-alive connections: uneven)
    errors: int
    load: float
    db_cpu_ms: float | None = None
    sequential_p50: float | None = None
    client_cpu_ms: float = 0.0


def measure(
    server: Server,
    label: str,
    workers: int,
    texts: list[str],
    args: argparse.Namespace,
    database_pid: int | None = None,
    profile: Path | None = None,
) -> Row:
    # Warm-up: every worker answers a few (its first NLU and KB calls, the connections).
    keep_alive = args.keep_alive
    asyncio.run(_load(server.url, texts, args.senders, 2, keep_alive=keep_alive))
    with sampled(profile, server.process.pid, subprocesses=True):
        cpu_before = server.cpu_seconds()
        db_before = tree_cpu_seconds(database_pid) if database_pid else 0.0
        latencies, elapsed, errors, client_cpu = asyncio.run(
            _load(server.url, texts, args.senders, args.messages, keep_alive=keep_alive)
        )
        worker_cpu = [a - b for a, b in zip(server.cpu_seconds(), cpu_before, strict=True)]
        cpu = sum(worker_cpu)
        db_cpu = tree_cpu_seconds(database_pid) - db_before if database_pid else None
    load = os.getloadavg()[0]
    rss = server.rss_mb()
    sequential, _, seq_errors, _ = asyncio.run(
        _load(server.url, texts, 1, args.sequential, keep_alive=keep_alive)
    )
    n = len(latencies)
    return Row(
        label=label,
        workers=workers,
        messages=n,
        p50=percentile(latencies, 0.5),
        p99=percentile(latencies, 0.99),
        per_second=n / elapsed,
        cpu_ms=cpu * 1000 / max(n, 1),
        rss_mb=rss,
        cpu_shares=[part / cpu for part in worker_cpu] if cpu else [],
        errors=len(errors) + len(seq_errors),
        load=load,
        db_cpu_ms=db_cpu * 1000 / max(n, 1) if db_cpu is not None else None,
        sequential_p50=percentile(sequential, 0.5) if sequential else None,
        client_cpu_ms=client_cpu * 1000 / max(n, 1),
    )


# --- configurations ---------------------------------------------------------------------------


def service_env(data_dir: Path, database_url: str | None, redis_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "AFTERSALES_DATA_DIR": str(data_dir),
        "AFTERSALES_ADMIN_KEY": KEY,
        "AFTERSALES_RATE_LIMIT_PER_KEY_PER_MINUTE": "100000000",
        "AFTERSALES_RATE_LIMIT_PER_SENDER_PER_MINUTE": "100000000",
        "AFTERSALES_LOG_LEVEL": "WARNING",
    }
    for name in ("AFTERSALES_DATABASE_URL", "AFTERSALES_REDIS_URL"):
        env.pop(name, None)
    if database_url:
        env["AFTERSALES_DATABASE_URL"] = database_url
    if redis_url:
        env["AFTERSALES_REDIS_URL"] = redis_url
    return env


def serve_cmd(port: int, workers: int) -> list[str]:
    return [
        str(AFTERSALES), "serve", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip


def bare_cmd(port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "messages_load:bare_app", "--factory",
        "--app-dir", str(ROOT / "bench"), "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--messages", type=int, default=60, help="messages per sender")
    parser.add_argument("--sequential", type=int, default=40, help="messages of the 1 sender")
    parser.add_argument("--database-url", default=None, help="default: SQLite in the data dir")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL")
    parser.add_argument("--redis-url", default=None, help="default: no Redis")
    parser.add_argument("--redis", action="store_true", help="a throwaway redis-server")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare FastAPI rows")
    parser.add_argument(
        "--keep-alive", action="store_true", help="one kept-alive connection per sender"
    )
    parser.add_argument("--py-spy", default=None, help="profile the workers into PREFIX-N.raw")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    # A terminated run still stops its servers and removes its temp dirs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    texts = [json.loads(line)["text"] for line in QUERIES.read_text("utf-8").splitlines() if line]
    random.Random(7).shuffle(texts)  # a fixed mix of answers, hand-offs, repairs, no-answers

    rows: list[Row] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="aftersales-load-") as tmp:
        root = Path(tmp)
        database_url, redis_url = args.database_url, args.redis_url
        new_database: Callable[[], str] | None = None
        database_pid: int | None = None
        if args.postgres:
            from tests.support.postgres import PostgresServer, create_database

            pg = PostgresServer()
            pg.start()
            stack.callback(pg.stop)
            database_pid = int((pg.root / "data" / "postmaster.pid").read_text().split()[0])
            new_database = partial(create_database, pg.admin_url)

        if args.redis:
            from tests.support.redis import running_redis

            redis_url = stack.enter_context(running_redis())
        store = "PostgreSQL" if (args.postgres or database_url) else "SQLite"
        store += " + Redis" if redis_url else ""

        # One data dir made once by a single worker (NLU trained, index built, SQLite migrated
        # with the demo KB); each configuration starts from a copy, so workers never race to
        # set up and every configuration starts from the same state.
        template = root / "template"
        port = free_port()
        with running(serve_cmd(port, 1), service_env(template, None, None), root / "t.log", port):
            pass
        for workers in args.workers:
            if not args.no_bare:
                port = free_port()
                log = root / f"bare-{workers}.log"
                with running(bare_cmd(port, workers), dict(os.environ), log, port) as server:
                    rows.append(measure(server, "bare FastAPI", workers, texts, args))
            data_dir = root / f"data-{workers}"
            shutil.copytree(template, data_dir)
            url = new_database() if new_database else database_url
            env = service_env(data_dir, url, redis_url)
            if url:  # migrate and load the demo KB with one worker first
                port = free_port()
                with running(serve_cmd(port, 1), env, root / f"prep-{workers}.log", port):
                    pass
            port = free_port()
            log = root / f"serve-{workers}.log"
            with running(serve_cmd(port, workers), env, log, port) as server:
                profile = Path(f"{args.py_spy}-{workers}.raw") if args.py_spy else None
                label = f"service, {store}"
                row = measure(server, label, workers, texts, args, database_pid, profile)
                rows.append(row)
            print_row(rows[-1], rows, flush=True)

    print(
        f"\n### POST /v1/messages on several workers ({args.senders} concurrent senders, "
        f"each message a new conversation)\n"
    )
    print(
        "| app | workers | messages | p50 ms | p99 ms | messages/s | vs bare | CPU ms/message "
        "(workers [+ PostgreSQL]) | CPU by worker | client CPU ms/message | RSS MB/worker "
        "| sequential p50 ms | errors | load avg |"
    )
    print("| --- " * 14 + "|")
    for row in rows:
        print(format_row(row, rows))
    load = os.getloadavg()
    print(f"\nload average after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    flags = " ".join(sys.argv[1:])
    print(f"command: `python bench/messages_load.py {flags}`")


def format_row(row: Row, rows: list[Row]) -> str:
    bare = next((r for r in rows if r.label.startswith("bare") and r.workers == row.workers), None)
    ratio = f"{row.per_second / bare.per_second:.3f}x" if bare else "-"
    rss = " / ".join(f"{mb:.0f}" for mb in row.rss_mb)
    split = " / ".join(f"{share:.0%}" for share in row.cpu_shares) or "-"
    seq = f"{row.sequential_p50:.1f}" if row.sequential_p50 is not None else "-"
    cpu = f"{row.cpu_ms:.1f}"
    if row.db_cpu_ms is not None:
        cpu += f" + {row.db_cpu_ms:.1f} = {row.cpu_ms + row.db_cpu_ms:.1f}"
    return (
        f"| {row.label} | {row.workers} | {row.messages} | {row.p50:.1f} | {row.p99:.1f} | "
        f"{row.per_second:.1f} | {ratio} | {cpu} | {split} | {row.client_cpu_ms:.2f} | {rss} | "
        f"{seq} | {row.errors} | {row.load:.1f} |"
    )


def print_row(row: Row, rows: list[Row], flush: bool = False) -> None:
    print(format_row(row, rows), file=sys.stderr, flush=flush)


if __name__ == "__main__":
    main()
