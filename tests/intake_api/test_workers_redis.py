"""Two `aftersales serve` processes on one PostgreSQL database and a real Redis server:
a change made through one worker reaches an SSE stream opened on the other, the rate limit
of a key is shared, and two messages of one conversation sent at once to different workers are
answered in the order they were stored, each once; the same message delivered to both at once
is answered once; a KB import reaches both. Each process has a data dir of its own, as on two
hosts: these are the steps of docs/deploy.md, on loopback."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from bot.dialogue.models import Conversation, ConversationMessage
from core.database import create_engine, session_factory
from intake_api.limits.buckets import RedisRateLimiter
from intake_api.messages.models import StoredMessage
from intake_api.storage.migrate import migrate
from tests.intake_api.sse import SseReader
from tests.support.postgres import create_database, free_port
from tests.support.redis import running_redis

ADMIN_KEY = "workers-admin-key"
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
AFTERSALES = Path(sys.executable).with_name("aftersales")
NLU_MODEL = "nlu-model"  # under the data dir (intake_api.messages.lifespan.nlu_model_dir)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with running_redis() as url:
        yield url


def _start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(AFTERSALES), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 300
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start: {log.read_text(errors='replace')}")
        time.sleep(0.2)


@contextmanager
def serving(env: dict[str, str], logs: list[Path], *, hosts: bool = False) -> Iterator[list[str]]:
    """`aftersales serve` processes started one after the other; yields their URLs. They share
    the env's data dir (a later one reuses what the first one cached there, e.g. the trained NLU
    model); with `hosts`, each has a data dir of its own, as on separate hosts
    (docs/deploy.md): the first trains the NLU model, the others start from a copy of it, and
    each builds its own KB search index from the database."""
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for number, log in enumerate(logs):
            own = _host_env(env, number) if hosts else env
            process, url = _start(own, log)
            started.append((process, url))
            _wait_healthy(process, url, log)
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _host_env(env: dict[str, str], number: int) -> dict[str, str]:
    """Host `number`'s environment: a data dir of its own, holding a copy of host 0's NLU model
    (the same on every host; training it again would only take time)."""
    shared = Path(env["AFTERSALES_DATA_DIR"])
    data_dir = shared / f"host-{number}"
    if number > 0 and not data_dir.exists():
        shutil.copytree(shared / "host-0" / NLU_MODEL, data_dir / NLU_MODEL)
    return {**env, "AFTERSALES_DATA_DIR": str(data_dir)}


def _migrated_database(admin_url: str) -> str:
    """A fresh database migrated here, so that the workers need not race to migrate it."""
    url = create_database(admin_url)

    async def upgrade() -> None:
        engine = create_engine(url)
        await migrate(engine)
        await engine.dispose()

    asyncio.run(upgrade())
    return url


@pytest.fixture(scope="module")
def workers_database(postgres_admin_url: str) -> str:
    return _migrated_database(postgres_admin_url)


@pytest.fixture(scope="module")
def hosts_env(
    workers_database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """What every host gets: the database, Redis, the admin key, the web chat secret."""
    root = tmp_path_factory.mktemp("workers")
    return {
        **os.environ,
        "AFTERSALES_DATABASE_URL": workers_database,
        "AFTERSALES_REDIS_URL": redis_url,
        "AFTERSALES_ADMIN_KEY": ADMIN_KEY,
        "AFTERSALES_DATA_DIR": str(root / "data"),
        "AFTERSALES_LOAD_DEMO_KB": "false",
        "AFTERSALES_LOG_LEVEL": "WARNING",
        "AFTERSALES_WEBCHAT_SECRET": "workers-webchat-secret",  # the same on every host
    }


@pytest.fixture(scope="module")
def workers(hosts_env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """Worker A and worker B, two processes sharing the database and Redis, each with a data
    dir of its own (two hosts behind a load balancer, as docs/deploy.md sets them up)."""
    root = Path(hosts_env["AFTERSALES_DATA_DIR"]).parent
    with serving(hosts_env, [root / "a.log", root / "b.log"], hosts=True) as (first, second):
        yield first, second


async def test_a_change_on_one_worker_reaches_a_stream_on_the_other(
    workers: tuple[str, str],
) -> None:
    worker_a, worker_b = workers
    async with (
        asyncio.timeout(60),
        httpx.AsyncClient(base_url=worker_a, headers=HEADERS) as on_a,
        httpx.AsyncClient(base_url=worker_b, headers=HEADERS) as on_b,
    ):
        ticket = (await on_a.post("/v1/tickets", json={"subject": "Pump broken"})).json()
        url = f"/v1/tickets/{ticket['id']}/events"
        async with on_b.stream("GET", url, params={"token": ticket["status_token"]}) as stream:
            reader = SseReader(stream)
            assert (await reader.next_event())[1]["status"] == "new"
            for status in ("triaged", "assigned", "in_progress"):
                response = await on_a.patch(f"/v1/tickets/{ticket['id']}", json={"status": status})
                assert response.status_code == 200
                event_id, data = await reader.next_event()
                assert data["status"] == status
            assert event_id == "4"


# Long enough to take a while to read (NLU and search), so that the second message, sent just
# after it to the other worker, would be answered first if nothing kept the order.
LONG_MESSAGE = "我们那台空压机下午老是跳停，屏幕上显示报警，摸着机器外壳烫得很。" * 40


async def test_two_messages_of_one_conversation_on_two_workers_are_answered_in_order_once(
    workers: tuple[str, str], workers_database: str
) -> None:
    worker_a, worker_b = workers
    senders = [f"order-{i}" for i in range(4)]

    def body(sender: str, n: int, text: str) -> dict[str, str]:
        message_id = f"{sender}-m{n}"
        return {"channel": "test", "sender_id": sender, "message_id": message_id, "text": text}

    async def converse(on_a: httpx.AsyncClient, on_b: httpx.AsyncClient, sender: str) -> None:
        first = asyncio.create_task(on_a.post("/v1/messages", json=body(sender, 1, LONG_MESSAGE)))
        await asyncio.sleep(0.05)
        second = await on_b.post("/v1/messages", json=body(sender, 2, "谢谢"))
        assert (await first).status_code == 200 and second.status_code == 200
        again = await on_b.post("/v1/messages", json=body(sender, 1, LONG_MESSAGE))
        assert again.json()["duplicate"] is True  # the retry, on the other worker: not run again

    async with (
        asyncio.timeout(120),
        httpx.AsyncClient(base_url=worker_a, headers=HEADERS, timeout=60) as on_a,
        httpx.AsyncClient(base_url=worker_b, headers=HEADERS, timeout=60) as on_b,
    ):
        await asyncio.gather(*(converse(on_a, on_b, sender) for sender in senders))

    engine = create_engine(workers_database)
    try:
        async with session_factory(engine)() as session:
            stored = {
                sender: list(
                    await session.scalars(
                        select(StoredMessage.message_id)
                        .where(StoredMessage.sender_id == sender)
                        .order_by(StoredMessage.id)
                    )
                )
                for sender in senders
            }
    finally:
        await engine.dispose()
    for sender in senders:
        # Answered in the order stored (whichever came first), each exactly once.
        answered = await _inbound_lines(workers_database, sender)
        assert answered == stored[sender] and len(set(stored[sender])) == 2


async def _inbound_lines(database_url: str, sender: str) -> list[str | None]:
    """The message ids of the customer lines the bot answered for `sender`, in order."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            lines = await session.scalars(
                select(ConversationMessage.message_id)
                .join(Conversation)
                .where(Conversation.sender_id == sender, ConversationMessage.direction == "in")
                .order_by(ConversationMessage.id)
            )
            return list(lines)
    finally:
        await engine.dispose()


async def test_one_message_delivered_to_both_workers_at_once_is_answered_once(
    workers: tuple[str, str], workers_database: str
) -> None:
    """A platform that retries on another connection: the same channel+message_id reaches both
    workers at the same moment; the bot runs once, and both get its answer."""
    worker_a, worker_b = workers
    senders = [f"twice-{i}" for i in range(4)]

    async def deliver_twice(on_a: httpx.AsyncClient, on_b: httpx.AsyncClient, sender: str) -> None:
        body = {"channel": "test", "sender_id": sender, "message_id": f"{sender}-m1"}
        body["text"] = "HX-37 面板上显示A-141，机器停了"
        first, second = await asyncio.gather(
            on_a.post("/v1/messages", json=body), on_b.post("/v1/messages", json=body)
        )
        assert first.status_code == 200 and second.status_code == 200
        answers = [first.json(), second.json()]
        assert sorted(answer["duplicate"] for answer in answers) == [False, True]
        assert answers[0]["replies"] == answers[1]["replies"]

    async with (
        asyncio.timeout(120),
        httpx.AsyncClient(base_url=worker_a, headers=HEADERS, timeout=60) as on_a,
        httpx.AsyncClient(base_url=worker_b, headers=HEADERS, timeout=60) as on_b,
    ):
        await asyncio.gather(*(deliver_twice(on_a, on_b, sender) for sender in senders))
    for sender in senders:
        assert await _inbound_lines(workers_database, sender) == [f"{sender}-m1"]


async def test_a_drained_host_answers_the_message_it_has_taken(
    workers: tuple[str, str], hosts_env: dict[str, str], workers_database: str
) -> None:
    """SIGTERM while a message is being answered (docs/deploy.md, draining a host): the host
    stops only after the answer is committed and sent."""
    env = _host_env(hosts_env, 2)  # a third host, with the first one's NLU model
    log = Path(hosts_env["AFTERSALES_DATA_DIR"]).parent / "c.log"
    process, url = _start(env, log)
    engine = create_engine(workers_database)
    sessions = session_factory(engine)

    async def status() -> str | None:
        async with sessions() as session:
            query = select(StoredMessage.status).where(StoredMessage.message_id == "drain-1-m1")
            return await session.scalar(query)

    try:
        _wait_healthy(process, url, log)
        body = {"channel": "test", "sender_id": "drain-1", "message_id": "drain-1-m1"}
        body["text"] = LONG_MESSAGE
        async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=60) as client:
            sent = asyncio.create_task(client.post("/v1/messages", json=body))
            for _ in range(3000):  # taken: the row is stored before the bot reads it
                if await status() is not None:
                    break
                await asyncio.sleep(0.02)
            process.terminate()
            response = await sent
        assert response.status_code == 200
        assert await status() == "answered"  # not "failed" (the bot's apology), not left open
        assert await asyncio.to_thread(process.wait, 60) is not None
    finally:
        await engine.dispose()
        if process.poll() is None:
            process.kill()


KB_UPDATE = """version: 1
faqs:
  - id: FAQ-weekend-hotline
    questions: {zh: [周末热线有人值班吗], en: [is the hotline staffed at weekends]}
    answer: {zh: 周六周日九点到五点有人值班。, en: "Saturday and Sunday, nine to five."}
"""


def test_a_kb_import_reaches_every_host(
    workers: tuple[str, str], workers_database: str, tmp_path: Path
) -> None:
    """`aftersales kb import` on any machine writes the store; each host sees the revision move
    and brings its own index up to date."""
    kb = tmp_path / "kb.yaml"
    kb.write_text(KB_UPDATE, encoding="utf-8")
    env = {
        **os.environ,
        "AFTERSALES_DATABASE_URL": workers_database,
        "AFTERSALES_DATA_DIR": str(tmp_path / "admin-data"),
        "AFTERSALES_LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [str(AFTERSALES), "kb", "import", str(kb)], env=env, capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    deadline = time.monotonic() + 90
    for url in workers:
        with httpx.Client(base_url=url, timeout=30) as client:
            while _top_hit(client, "周末热线有人值班吗") != "FAQ-weekend-hotline":
                assert time.monotonic() < deadline, f"{url} does not find the imported FAQ"
                time.sleep(0.5)


def _top_hit(client: httpx.Client, text: str) -> str | None:
    hits = client.get("/v1/kb/search", params={"q": text}).json()
    return hits[0]["id"] if hits else None


async def test_redis_rate_limit_is_shared_between_limiters(redis_url: str) -> None:
    first, second = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        a, b = RedisRateLimiter(first), RedisRateLimiter(second)
        allowed = [
            await limiter.acquire("key:shared", per_minute=4) for limiter in (a, b, a, b, a, b)
        ]
    finally:
        await first.aclose()
        await second.aclose()
    assert allowed[:4] == [None] * 4
    assert all(wait is not None and wait > 0 for wait in allowed[4:])
