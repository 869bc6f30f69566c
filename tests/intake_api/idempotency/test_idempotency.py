"""`Idempotency-Key` over HTTP on real servers (SQLite and PostgreSQL): a retried create runs
once, sequentially, concurrently and across two `aftersales serve` processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.columns import utcnow
from intake_api.idempotency.models import IdempotencyKey
from tests.intake_api.conftest import ADMIN_KEY
from tests.intake_api.test_workers_redis import _migrated_database, serving

BODY: dict[str, object] = {
    "subject": "Chiller C-200 stopped, alarm E35",
    "customer": {"name": "Li"},
}


def _create(client: httpx.Client, key: str, body: dict[str, object] = BODY) -> httpx.Response:
    return client.post("/v1/tickets", json=body, headers={"Idempotency-Key": key})


def test_a_retry_with_the_same_key_gets_the_first_ticket(admin: httpx.Client) -> None:
    first = _create(admin, "order-1")
    again = _create(admin, "order-1", dict(reversed(BODY.items())))  # same body, other order
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert admin.get("/v1/tickets").json()["total"] == 1

    other_body = _create(admin, "order-1", {"subject": "Another fault"})
    assert other_body.status_code == 422
    assert other_body.json()["error"] == "idempotency_key_reused"
    assert _create(admin, "order-2").json()["id"] != first.json()["id"]  # a new key: a new one
    admin.post("/v1/tickets", json=BODY)  # no key: runs every time, as before
    assert admin.get("/v1/tickets").json()["total"] == 3


def test_keys_belong_to_the_caller(admin: httpx.Client, base_url: str) -> None:
    created = admin.post("/v1/apikeys", json={"name": "erp", "scopes": ["tickets:write"]})
    other = {"Authorization": f"Bearer {created.json()['key']}", "Idempotency-Key": "shared"}
    mine = _create(admin, "shared").json()
    theirs = httpx.post(f"{base_url}/v1/tickets", json=BODY, headers=other, timeout=30)
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] != mine["id"]


def test_a_refused_first_request_does_not_hold_the_key(admin: httpx.Client) -> None:
    bad = _create(admin, "order-3", {"subject": "x", "priority": "P1", "customer": {"tier": "x"}})
    assert bad.status_code == 422 and bad.json()["error"] == "validation_error"
    assert _create(admin, "order-3").status_code == 201  # the key was not taken by the 422


async def test_an_expired_key_runs_again(
    admin: httpx.Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = _create(admin, "order-4").json()
    async with sessions() as session, session.begin():
        await session.execute(
            update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    later = _create(admin, "order-4", {"subject": "A new fault, a day later"})
    assert later.status_code == 201 and later.json()["id"] != first["id"]


def test_concurrent_retries_create_one_ticket(admin: httpx.Client) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _create(admin, "burst-1"), range(8)))
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert admin.get("/v1/tickets").json()["total"] == 1


def test_a_message_retried_by_key_is_answered_once(admin: httpx.Client) -> None:
    message = {"channel": "api", "sender_id": "c-1", "message_id": "m-1", "text": "hello"}
    headers = {"Idempotency-Key": "msg-1"}
    first = admin.post("/v1/messages", json=message, headers=headers)
    again = admin.post("/v1/messages", json=message, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    changed = admin.post("/v1/messages", json={**message, "text": "bye"}, headers=headers)
    assert changed.status_code == 422


def test_an_agent_action_retried_by_key_runs_once(admin: httpx.Client) -> None:
    ticket = _create(admin, "for-resolve").json()
    url = f"/v1/agent/tickets/{ticket['id']}/resolve"
    body = {"note": "Replaced the fan"}
    first = admin.post(url, json=body, headers={"Idempotency-Key": "resolve-1"})
    again = admin.post(url, json=body, headers={"Idempotency-Key": "resolve-1"})
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert admin.post(url, json=body).status_code == 409  # without the key: already resolved
    history = admin.get(f"/v1/tickets/{ticket['id']}/history").json()
    assert [event["status"] for event in history].count("resolved") == 1


@pytest.fixture(scope="module")
def two_workers(
    postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Two `aftersales serve` processes on one PostgreSQL database."""
    root: Path = tmp_path_factory.mktemp("idempotency-workers")
    env = {
        **os.environ,
        "AFTERSALES_DATABASE_URL": _migrated_database(postgres_admin_url),
        "AFTERSALES_ADMIN_KEY": ADMIN_KEY,
        "AFTERSALES_DATA_DIR": str(root / "data"),
        "AFTERSALES_LOAD_DEMO_KB": "false",
        "AFTERSALES_LOG_LEVEL": "WARNING",
    }
    with serving(env, [root / "a.log", root / "b.log"]) as urls:
        yield urls


def test_retries_on_two_workers_at_once_create_one_ticket(two_workers: list[str]) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    clients = [httpx.Client(base_url=url, headers=headers, timeout=60) for url in two_workers]
    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(lambda i: _create(clients[i % 2], "two-workers"), range(10)))
        assert {answer.status_code for answer in answers} == {201}, [a.text for a in answers]
        assert len({answer.json()["id"] for answer in answers}) == 1
        assert clients[0].get("/v1/tickets").json()["total"] == 1
    finally:
        for client in clients:
            client.close()
