"""Load benchmark of machine alarms into tickets: sustained alarms per second with
de-duplication (a mix of new alarms, each opening a ticket, and repeats of active ones, each
counting up), and the p99 lag from alarm to ticket and from alarm to the customer's notice,
against a real `aftersales serve` process on SQLite and on PostgreSQL, over HTTP and over MQTT.

    python bench/alarms_load.py [--alarms 3000] [--new-share 0.2] [--clients 16]
        [--servers bare sqlite postgres] [--transports http mqtt] [--rate 500] [--batch 1]
        [--output docs/benchmarks/equipment.md]

The units are imported first with `aftersales assets import` (a CSV, one Telegram contact
each); the customer notices go to a local stand-in of the Telegram Bot API in this process,
which notes when each arrives. Alarm -> notice runs from sending the alarm to its notice
reaching the stand-in.

HTTP: `--clients` concurrent keep-alive connections post plain alarms as fast as answers come
(a minimal HTTP/1.1 client on asyncio streams: httpx cost the load generator more CPU than the
bare endpoint cost the server). A 202 comes after the alarm's commit, so alarm -> ticket is
the latency of the request that opened it. The `bare` row is a FastAPI endpoint that only
validates a JSON body (bench/tickets_load.py's) under the same client: the machine's ceiling
for any HTTP route at that moment. With `--batch N` (N > 1) each request carries N alarms
as a CloudEvents batch (`application/cloudevents-batch+json`), as a gateway that forwards
what it collected does; each alarm's latency is then its request's.

MQTT: one publisher sends the alarms at QoS 1 to a throwaway Mosquitto, paced at `--rate`
alarms per second (0: as fast as the broker takes them), the service's subscriber stores and
acknowledges them; alarms per second is all of them over the time until the last is stored
(the database polled every 50 ms), and alarm -> ticket is the ticket's `created_at` (written
in the batch's transaction, committed a few ms later) minus the time the alarm was published.

The load generator, the stand-ins, Mosquitto and PostgreSQL (the throwaway test server, fsync
off) share the machine with the service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tickets_load import bare_serve, free_port, process  # noqa: E402
from bot.nlu import load_or_train  # noqa: E402
from core.database import create_engine, session_factory  # noqa: E402
from intake_api.alarms.models import Alarm  # noqa: E402
from intake_api.tickets.models import Ticket  # noqa: E402
from tests.channels.standins import BotApiStandIn  # noqa: E402
from tests.intake_api.assets.support import store_kb  # noqa: E402
from tests.support.mosquitto import running_mosquitto  # noqa: E402
from tests.support.server import running_server  # noqa: E402

AFTERSALES = Path(sys.executable).with_name("aftersales")
KEY = "bench-admin-key"
TOKEN = "123456:BENCH-token"
CODE = "A-112"
TOPIC = "aftersales/alarms"
# Units per transport: HTTP alarms go to B-*, MQTT ones to M-* (chat ids apart by this much).
PREFIXES = {"http": ("B", 0), "mqtt": ("M", 10_000_000)}
POLL_SECONDS = 0.05
JSON = "application/json"
CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"


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
    transport: str
    alarms: int
    seconds: float
    errors: int
    new_latencies_ms: list[float] = field(default_factory=list)
    repeat_latencies_ms: list[float] = field(default_factory=list)
    notice_lags_ms: list[float] = field(default_factory=list)
    notices_missing: int = 0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    service_cpu_seconds: float = float("nan")

    @property
    def per_second(self) -> float:
        return self.alarms / self.seconds


def service_cpu() -> float:
    """CPU seconds (user + system) used so far by this process's server children (`aftersales
    serve`, the bare uvicorn): their cost per alarm, which the machine's other load barely
    changes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = stat.with_name("cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and (b"serve" in cmdline or b"uvicorn" in cmdline):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


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


def serial(transport: str, unit: int) -> str:
    return f"{PREFIXES[transport][0]}-{unit:06d}"


def chat_id(transport: str, unit: int) -> int:
    return PREFIXES[transport][1] + unit + 1


def units_csv(path: Path, units: int) -> Path:
    lines = ["serial,product_id,customer_name,customer_tier,contact_channel,contact_sender_id"]
    tiers = ("strategic", "key", "standard")
    lines += [
        f"{serial(transport, n)},HX-37,Plant {n},{tiers[n % 3]},telegram,{chat_id(transport, n)}"
        for transport in PREFIXES
        for n in range(units)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def alarm_body(transport: str, unit: int) -> bytes:
    return json.dumps(
        {"serial": serial(transport, unit), "code": CODE, "severity": "major"}
    ).encode()


class RawHttp:
    """One keep-alive HTTP/1.1 connection posting JSON: the least client work per request,
    so that the load generator is not what the figures measure."""

    def __init__(self, url: str, headers: dict[str, str], content_type: str = JSON) -> None:
        self.content_type = content_type
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.head}"
            f"Content-Type: {self.content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(request.encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(head[9:12]), await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def closed_loop(
    url: str,
    path: str,
    bodies: list[bytes],
    clients: int,
    answered: Callable[[int, int, bytes, float, float], None],
    content_type: str = JSON,
) -> float:
    """Post every body from `clients` connections, each sending its next one on the answer;
    `answered(index, status, body, sent_at, ms)` for each; answers the seconds it took."""
    queue = iter(range(len(bodies)))

    async def client_loop() -> None:
        client = RawHttp(url, {"Authorization": f"Bearer {KEY}"}, content_type)
        try:
            for index in queue:
                sent, start = time.time(), time.perf_counter()
                status, body = await client.post(path, bodies[index])
                answered(index, status, body, sent, (time.perf_counter() - start) * 1000)
        finally:
            client.close()

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return time.perf_counter() - started


async def load_bare(url: str, alarms: int, clients: int) -> Run:
    """The bare endpoint under the same client and concurrency."""
    run = Run("bare FastAPI", "http", alarms, 0.0, 0)
    body = json.dumps({"subject": "bench", "description": "bare"}).encode()

    def answered(_: int, status: int, __: bytes, ___: float, ms: float) -> None:
        if status != 201:
            run.errors += 1
        else:
            run.new_latencies_ms.append(ms)

    run.seconds = await closed_loop(url, "/bare", [body] * alarms, clients, answered)
    return run


def batch_body(units: list[int]) -> bytes:
    """Structured CloudEvents of the units' alarms, as one batched body."""
    return json.dumps(
        [
            {
                "specversion": "1.0",
                "id": f"{n}-{unit}",
                "source": "/bench/gateway",
                "type": "com.example.equipment.alarm",
                "data": json.loads(alarm_body("http", unit)),
            }
            for n, unit in enumerate(units)
        ]
    ).encode()


async def load_http(
    name: str, url: str, order: list[int], clients: int, bot: TimedBotApi, batch: int = 1
) -> Run:
    """Every alarm of `order` over HTTP from `clients` connections, one a request or `batch`
    a request (CloudEvents' batched mode; each alarm's latency is its request's); then the
    notices."""
    opened: dict[int, float] = {}  # unit -> when the alarm that opened its ticket was sent
    run = Run(name if batch == 1 else f"{name}, batches of {batch}", "http", len(order), 0.0, 0)
    requests = [order[at : at + batch] for at in range(0, len(order), batch)]

    def answered(index: int, status: int, body: bytes, sent: float, ms: float) -> None:
        if status != 202:
            run.errors += len(requests[index])
            return
        answer = json.loads(body)
        alarms = answer["alarms"] if batch > 1 else [answer["alarm"]]
        for unit, alarm in zip(requests[index], alarms, strict=True):
            if alarm["count"] == 1:
                opened[unit] = sent
                run.new_latencies_ms.append(ms)
            else:
                run.repeat_latencies_ms.append(ms)

    if batch == 1:
        bodies, media = [alarm_body("http", unit) for unit in order], JSON
    else:
        bodies, media = [batch_body(units) for units in requests], CLOUDEVENTS_BATCH
    run.seconds = await closed_loop(url, "/v1/alarms", bodies, clients, answered, media)
    await notices(run, bot, "http", opened)
    return run


async def notices(run: Run, bot: TimedBotApi, transport: str, opened: dict[int, float]) -> None:
    """Wait for the notice of every opened ticket; note each one's lag, or that it is missing."""
    chats = {unit: chat_id(transport, unit) for unit in opened}

    async def all_arrived() -> bool:
        return all(chat in bot.arrivals for chat in chats.values())

    await until(all_arrived, within=120)
    for unit, sent in opened.items():
        arrived = bot.arrivals.get(chats[unit])
        if arrived is None:
            run.notices_missing += 1
        else:
            run.notice_lags_ms.append((arrived - sent) * 1000)


Stored = Callable[[str], Awaitable[int]]


async def until(check: Callable[[], Awaitable[bool]], *, within: float) -> None:
    """Poll `check` (another process's database, another thread's stand-in: nothing to wait
    on) every `POLL_SECONDS` until it holds or `within` seconds pass."""
    deadline = time.monotonic() + within
    while not await check() and time.monotonic() < deadline:  # noqa: ASYNC110 - polling
        await asyncio.sleep(POLL_SECONDS)


@asynccontextmanager
async def counting(database_url: str) -> AsyncIterator[Stored]:
    """How many alarms of units whose serial starts with a prefix are stored (sum of counts)."""
    engine = create_engine(database_url)
    sessions = session_factory(engine)

    async def stored(prefix: str) -> int:
        async with sessions() as session:
            total = await session.scalar(
                select(func.coalesce(func.sum(Alarm.count), 0)).where(
                    Alarm.serial.like(f"{prefix}%")
                )
            )
        return int(total or 0)

    try:
        yield stored
    finally:
        await engine.dispose()


def mqtt_publisher(broker: str) -> paho.Client:
    """The plant's gateway: QoS 1, its own window of unacknowledged messages wide open."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-gateway")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", int(broker.rsplit(":", 1)[1]))
    client.loop_start()
    return client


async def subscribed(client: paho.Client, stored: Stored) -> None:
    """Wait until the service's subscription is live: the broker keeps QoS 1 messages only for
    a subscribed session (probe alarms of an unregistered unit, outside the counts)."""
    deadline = time.monotonic() + 180
    probe = json.dumps({"serial": "PROBE", "code": CODE}).encode()
    while time.monotonic() < deadline:
        client.publish(f"{TOPIC}/probe", probe, qos=1)
        await asyncio.sleep(1)
        if await stored("PROBE"):
            return
    raise SystemExit("the service's MQTT subscription did not come up")


async def load_mqtt(
    name: str, broker: str, database_url: str, order: list[int], rate: float, bot: TimedBotApi
) -> Run:
    """Every alarm of `order` published at QoS 1, paced at `rate` a second (0: unpaced); the
    run lasts until the last one is stored; then the tickets' and notices' lags."""
    run = Run(name, "mqtt", len(order), 0.0, 0)
    opened: dict[int, float] = {}
    client = mqtt_publisher(broker)
    try:
        async with counting(database_url) as stored:
            await subscribed(client, stored)
            started = time.perf_counter()
            for index, unit in enumerate(order):
                if rate and (ahead := started + index / rate - time.perf_counter()) > 0:
                    await asyncio.sleep(ahead)
                opened.setdefault(unit, time.time())
                client.publish(f"{TOPIC}/plant-{unit % 50}", alarm_body("mqtt", unit), qos=1)

            async def all_stored() -> bool:
                return await stored("M-") >= len(order)

            await until(all_stored, within=300)
            run.seconds = time.perf_counter() - started
            run.errors = len(order) - await stored("M-")
            created = await ticket_times(database_url)
    finally:
        client.loop_stop()
        client.disconnect()
    for unit, sent in opened.items():
        if (at := created.get(serial("mqtt", unit))) is not None:
            run.new_latencies_ms.append((at - sent) * 1000)
    await notices(run, bot, "mqtt", opened)
    return run


async def ticket_times(database_url: str) -> dict[str, float]:
    """When each M-* unit's ticket was created (epoch seconds)."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(Alarm.serial, Ticket.created_at)
                .join(Ticket, Ticket.id == Alarm.ticket_id)
                .where(Alarm.serial.like("M-%"))
            )
            return {serial: created.timestamp() for serial, created in rows.all()}
    finally:
        await engine.dispose()


def service_env(database_url: str, data_dir: Path, bot_api: str, broker: str) -> dict[str, str]:
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
        AFTERSALES_MQTT_URL=broker,
        AFTERSALES_MQTT_TOPIC=f"{TOPIC}/#",
        AFTERSALES_MQTT_CLIENT_ID="bench-service",
    )
    return env


@contextmanager
def prepared_service(
    database_url: str, workdir: Path, bot_api: str, broker: str, units: int, nlu: Path
) -> Iterator[str]:
    """The units imported and `aftersales serve` running on `database_url`."""
    data_dir = workdir / "data"
    shutil.copytree(nlu, data_dir / "nlu-model")
    env = service_env(database_url, data_dir, bot_api, broker)
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


def cell(values: list[float]) -> str:
    return f"{percentile(values, 0.5):.0f} / {percentile(values, 0.99):.0f}"


def markdown(runs: list[Run], args: argparse.Namespace) -> str:
    rows = [
        "| database | via | alarms | new / repeats | errors | alarms/s | alarm→ticket p50 / p99 ms "
        "| repeat p50 / p99 ms | alarm→notice p50 / p99 ms | notices missing "
        "| service CPU ms/alarm | load avg |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in runs:
        repeats = r.alarms - len(r.new_latencies_ms) if r.transport == "mqtt" else None
        rows.append(
            f"| {r.name} | {r.transport} | {r.alarms} | {len(r.new_latencies_ms)} / "
            f"{len(r.repeat_latencies_ms) if repeats is None else repeats} | {r.errors} "
            f"| {r.per_second:.0f} | {cell(r.new_latencies_ms)} | "
            f"{cell(r.repeat_latencies_ms) if repeats is None else '–'} | "
            f"{cell(r.notice_lags_ms)} | {r.notices_missing} | "
            f"{r.service_cpu_seconds * 1000 / r.alarms:.1f} | "
            f"{', '.join(f'{v:.1f}' for v in r.load)} |"
        )
    command = (
        f"python bench/alarms_load.py --alarms {args.alarms} --new-share {args.new_share} "
        f"--clients {args.clients} --servers {' '.join(args.servers)} "
        f"--transports {' '.join(args.transports)} --rate {args.rate:g} --batch {args.batch}"
    )
    return "\n".join(
        [
            f"`{command}` — plain alarms, about {args.new_share:.0%} for units without an "
            "active alarm (each opening a ticket with the KB diagnosis and a Telegram notice), "
            f"the rest repeats of active alarms; HTTP from {args.clients} keep-alive "
            "connections, MQTT from one QoS 1 publisher"
            + (f" paced at {args.rate:g}/s" if args.rate else "")
            + "; one `aftersales serve` worker. Load average (1, 5, 15 min) at each row's end.",
            "",
            *rows,
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}. The machine was shared with other helpers' test "
            "suites during the run; the load generator, the Telegram stand-in, Mosquitto and "
            "PostgreSQL (fsync off) run on it too.",
            "",
        ]
    )


def measured(load: Coroutine[Any, Any, Run]) -> Run:
    """Run one load, noting the service's CPU seconds over it and the load average after."""
    cpu = service_cpu()
    run = asyncio.run(load)
    run.service_cpu_seconds = service_cpu() - cpu
    run.load = os.getloadavg()
    print(markdown_row(run), flush=True)
    return run


def markdown_row(run: Run) -> str:
    return (
        f"{run.name} {run.transport}: {run.per_second:.0f}/s, errors {run.errors}, ticket "
        f"{cell(run.new_latencies_ms)} ms, notice {cell(run.notice_lags_ms)} ms, "
        f"load {run.load}"
    )


def run_all(args: argparse.Namespace) -> list[Run]:
    workdir = Path(tempfile.mkdtemp(prefix="alarms-load-"))
    nlu = workdir / "nlu-model"
    load_or_train(nlu)
    order = workload(args.alarms, args.new_share)
    runs = []
    if "bare" in args.servers:  # the machine's ceiling in the same minutes: HTTP + JSON only
        with bare_serve(workdir) as url:
            runs.append(measured(load_bare(url, args.alarms, args.clients)))
    for name in [server for server in args.servers if server != "bare"]:
        bot = TimedBotApi(TOKEN)
        label = "SQLite" if name == "sqlite" else "PostgreSQL"
        with (
            running_server(bot.app) as bot_url,
            running_mosquitto() as broker,
            database(name, workdir / name) as database_url,
            prepared_service(
                database_url, workdir / name, bot_url, broker, max(order) + 1, nlu
            ) as url,
        ):
            if "http" in args.transports:
                http = load_http(label, url, order, args.clients, bot, args.batch)
                runs.append(measured(http))
            if "mqtt" in args.transports:
                mqtt = load_mqtt(label, broker, database_url, order, args.rate, bot)
                runs.append(measured(mqtt))
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
    parser.add_argument("--transports", nargs="+", default=["http", "mqtt"])
    parser.add_argument("--rate", type=float, default=0, help="MQTT alarms a second; 0: unpaced")
    parser.add_argument(
        "--batch", type=int, default=1, help="HTTP alarms a request (>1: CloudEvents batches)"
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    runs = run_all(args)
    text = markdown(runs, args)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
