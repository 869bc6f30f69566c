"""Load benchmark of machine alarms into tickets: sustained `POST /v1/alarms` per second with
de-duplication (a mix of new alarms, each opening a ticket, and repeats of active ones, each
counting up), and the p99 lag from alarm to ticket and from alarm to the customer's notice,
against a real `aftersales serve` process on SQLite and on PostgreSQL.

    python bench/alarms_load.py [--alarms 3000] [--new-share 0.2] [--clients 16]
        [--servers bare sqlite postgres] [--output docs/benchmarks/equipment.md]

The units are imported first with `aftersales assets import` (a CSV, one Telegram contact
each); the customer notices go to a local stand-in of the Telegram Bot API in this process,
which notes when each arrives. A new alarm's ticket is created in the alarm's own transaction,
so alarm -> ticket is the latency of the request that opened it; alarm -> notice runs from
sending that request to the notice reaching the stand-in. The `bare` row is a FastAPI endpoint
that only validates a JSON body (bench/tickets_load.py's), measured in the same run: the
machine's ceiling for any HTTP route at that moment. The load generator, the stand-in and
PostgreSQL (the throwaway test server, fsync off) share the machine with the service.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tickets_load import bare_serve, free_port, process  # noqa: E402
from bench.tickets_load import load as load_bare  # noqa: E402
from bot.nlu import load_or_train  # noqa: E402
from tests.channels.standins import BotApiStandIn  # noqa: E402
from tests.intake_api.assets.support import store_kb  # noqa: E402
from tests.support.server import running_server  # noqa: E402

AFTERSALES = Path(sys.executable).with_name("aftersales")
KEY = "bench-admin-key"
TOKEN = "123456:BENCH-token"
CODE = "A-112"


class TimedBotApi(BotApiStandIn):
    """The Telegram stand-in, noting when each message reaches it (wall clock)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.arrivals: dict[int, float] = {}

    async def _sendMessage(self, params: dict) -> dict:  # noqa: N802 (Bot API method name)
        self.arrivals.setdefault(int(params["chat_id"]), time.time())
        return await super()._sendMessage(params)


@dataclass
class Run:
    name: str
    alarms: int
    seconds: float
    errors: int
    new_latencies_ms: list[float] = field(default_factory=list)
    repeat_latencies_ms: list[float] = field(default_factory=list)
    notice_lags_ms: list[float] = field(default_factory=list)
    notices_missing: int = 0

    @property
    def per_second(self) -> float:
        return self.alarms / self.seconds


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def workload(alarms: int, new_share: float, seed: int = 7) -> list[int]:
    """The unit index of each alarm, in sending order: a new unit for a share of them, else a
    repeat on a unit already sent."""
    rng = random.Random(seed)
    order: list[int] = [0]
    units = 1
    for _ in range(alarms - 1):
        if rng.random() < new_share:
            order.append(units)
            units += 1
        else:
            order.append(rng.randrange(units))
    return order


def units_csv(path: Path, units: int) -> Path:
    lines = ["serial,product_id,customer_name,customer_tier,contact_channel,contact_sender_id"]
    tiers = ("strategic", "key", "standard")
    lines += [f"B-{n:06d},HX-37,Plant {n},{tiers[n % 3]},telegram,{n + 1}" for n in range(units)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def service_env(database_url: str, data_dir: Path, bot_api: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    env.update(
        AFTERSALES_DATABASE_URL=database_url,
        AFTERSALES_DATA_DIR=str(data_dir),
        AFTERSALES_ADMIN_KEY=KEY,
        AFTERSALES_LOAD_DEMO_KB="false",
        AFTERSALES_LOG_LEVEL="WARNING",
        AFTERSALES_RATE_LIMIT_PER_KEY_PER_MINUTE="100000000",
        AFTERSALES_TELEGRAM_TOKEN=TOKEN,
        AFTERSALES_TELEGRAM_WEBHOOK_SECRET="bench-secret",
        AFTERSALES_TELEGRAM_API_URL=f"{bot_api}/bot",
        AFTERSALES_PUBLIC_URL="https://service.example.com",
    )
    return env


@contextmanager
def prepared_service(
    database_url: str, workdir: Path, bot_api: str, units: int, nlu: Path
) -> Iterator[str]:
    """The units imported and `aftersales serve` running on `database_url`."""
    data_dir = workdir / "data"
    shutil.copytree(nlu, data_dir / "nlu-model")
    env = service_env(database_url, data_dir, bot_api)
    store_kb(database_url)
    subprocess.run(
        [str(AFTERSALES), "assets", "import", str(units_csv(workdir / "units.csv", units))],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(AFTERSALES), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with process(command, env, f"{url}/healthz", workdir / "serve.log"):
        yield url


def wait_for_notices(bot: TimedBotApi, count: int, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while len(bot.arrivals) < count and time.monotonic() < deadline:
        time.sleep(0.2)


async def load(name: str, url: str, order: list[int], clients: int, bot: TimedBotApi) -> Run:
    """Every alarm of `order` from `clients` concurrent clients; then the notices."""
    headers = {"Authorization": f"Bearer {KEY}"}
    opened: dict[int, float] = {}  # unit -> when the alarm that opened its ticket was sent
    run = Run(name, len(order), 0.0, 0)
    queue = iter(order)

    async def client_loop(client: httpx.AsyncClient) -> None:
        for unit in queue:
            body = {"serial": f"B-{unit:06d}", "code": CODE, "severity": "major"}
            sent, start = time.time(), time.perf_counter()
            response = await client.post("/v1/alarms", json=body)
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 202:
                run.errors += 1
                continue
            if response.json()["alarm"]["count"] == 1:
                opened[unit] = sent
                run.new_latencies_ms.append(elapsed)
            else:
                run.repeat_latencies_ms.append(elapsed)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as c:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(c) for _ in range(clients)))
        run.seconds = time.perf_counter() - started
    await asyncio.to_thread(wait_for_notices, bot, len(opened))
    for unit, sent in opened.items():
        arrived = bot.arrivals.get(unit + 1)
        if arrived is None:
            run.notices_missing += 1
        else:
            run.notice_lags_ms.append((arrived - sent) * 1000)
    return run


def markdown(runs: list[Run], args: argparse.Namespace) -> str:
    rows = [
        "| database | alarms | new / repeats | errors | alarms/s | alarm→ticket p50 / p99 ms "
        "| repeat p50 / p99 ms | alarm→notice p50 / p99 ms | notices missing |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        rows.append(
            f"| {r.name} | {r.alarms} | {len(r.new_latencies_ms)} / {len(r.repeat_latencies_ms)} "
            f"| {r.errors} | {r.per_second:.0f} | {percentile(r.new_latencies_ms, 0.5):.0f} / "
            f"{percentile(r.new_latencies_ms, 0.99):.0f} | "
            f"{percentile(r.repeat_latencies_ms, 0.5):.0f} / "
            f"{percentile(r.repeat_latencies_ms, 0.99):.0f} | "
            f"{percentile(r.notice_lags_ms, 0.5):.0f} / {percentile(r.notice_lags_ms, 0.99):.0f} "
            f"| {r.notices_missing} |"
        )
    load_avg = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    command = (
        f"python bench/alarms_load.py --alarms {args.alarms} --new-share {args.new_share} "
        f"--clients {args.clients} --servers {' '.join(args.servers)}"
    )
    return "\n".join(
        [
            f"`{command}` — {args.clients} concurrent keep-alive clients posting plain alarms "
            "(about "
            f"{args.new_share:.0%} for units without an active alarm, each opening a ticket with "
            "the KB diagnosis and a Telegram notice; the rest repeats of active alarms), one "
            "`aftersales serve` worker.",
            "",
            *rows,
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}; load average at the end {load_avg}. The machine was "
            "shared with other helpers' test suites during the run; the load generator, the "
            "Telegram stand-in and PostgreSQL (fsync off) run on it too.",
            "",
        ]
    )


def run_all(args: argparse.Namespace) -> list[Run]:
    workdir = Path(tempfile.mkdtemp(prefix="alarms-load-"))
    nlu = workdir / "nlu-model"
    load_or_train(nlu)
    order = workload(args.alarms, args.new_share)
    runs = []
    if "bare" in args.servers:  # the machine's ceiling in the same minutes: HTTP + JSON only
        with bare_serve(workdir) as url:
            bare = asyncio.run(load_bare("bare", url, "/bare", args.clients, args.alarms))
        runs.append(Run("bare FastAPI", bare.requests, bare.seconds, bare.errors))
        runs[-1].new_latencies_ms = bare.latencies_ms
    for name in [server for server in args.servers if server != "bare"]:
        bot = TimedBotApi(TOKEN)
        with (
            running_server(bot.app) as bot_url,
            database(name, workdir / name) as database_url,
            prepared_service(database_url, workdir / name, bot_url, max(order) + 1, nlu) as url,
        ):
            label = "SQLite" if name == "sqlite" else "PostgreSQL"
            runs.append(asyncio.run(load(label, url, order, args.clients, bot)))
        print(markdown(runs[-1:], args), flush=True)
    return runs


@contextmanager
def database(name: str, workdir: Path) -> Iterator[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    if name == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    from tests.support.postgres import PostgresServer, create_database

    server = PostgresServer()
    server.start()
    try:
        yield create_database(server.admin_url)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alarms", type=int, default=3000)
    parser.add_argument("--new-share", type=float, default=0.2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--servers", nargs="+", default=["bare", "sqlite", "postgres"])
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    runs = run_all(args)
    text = markdown(runs, args)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
