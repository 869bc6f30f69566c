"""Rate limits per API key and per sender (429 + Retry-After)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from redis.asyncio import Redis

from core.settings import Settings
from intake_api.app import create_app
from intake_api.limits.buckets import RedisRateLimiter
from tests.intake_api.conftest import ADMIN_KEY
from tests.support.postgres import free_port
from tests.support.server import running_server


@pytest.fixture
def strict_server(intake_settings: Settings) -> Iterator[str]:
    """A server allowing 5 requests a minute per key and 2 tickets a minute per sender."""
    settings = intake_settings.model_copy(
        update={"rate_limit_per_key_per_minute": 5, "rate_limit_per_sender_per_minute": 2}
    )
    with running_server(create_app(settings)) as url:
        yield url


@pytest.fixture
def strict(strict_server: str) -> Iterator[httpx.Client]:
    """A client with a key of its own (not the admin key) on the strict server."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    body = {"name": "crm", "scopes": ["tickets:read", "tickets:write"]}
    created = httpx.post(f"{strict_server}/v1/apikeys", json=body, headers=admin)
    headers = {"Authorization": f"Bearer {created.json()['key']}"}
    with httpx.Client(base_url=strict_server, headers=headers) as client:
        yield client


def test_the_admin_key_is_not_rate_limited(strict_server: str) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=strict_server, headers=headers) as operator:
        answers = [operator.get("/v1/tickets").status_code for _ in range(8)]
        body = {"subject": "hello", "channel": "web", "sender_id": "alice"}
        tickets = [operator.post("/v1/tickets", json=body).status_code for _ in range(3)]
    assert answers == [200] * 8
    assert tickets == [201] * 3


def test_a_key_over_its_rate_gets_429_with_retry_after(strict: httpx.Client) -> None:
    answers = [strict.get("/v1/tickets") for _ in range(7)]
    assert [a.status_code for a in answers[:5]] == [200] * 5
    limited = answers[5]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert "rate limit" in limited.json()["message"]


def test_one_sender_over_its_rate_gets_429(strict: httpx.Client) -> None:
    def ticket(sender: str) -> int:
        body = {"subject": "hello", "channel": "web", "sender_id": sender}
        return strict.post("/v1/tickets", json=body).status_code

    assert [ticket("alice"), ticket("alice"), ticket("alice")] == [201, 201, 429]
    assert ticket("bob") == 201


async def test_an_unreachable_redis_limiter_lets_requests_through() -> None:
    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert await RedisRateLimiter(redis).acquire("key:x", per_minute=1) is None
    finally:
        await redis.aclose()


def gateway_key(server: str) -> dict[str, str]:
    """The headers of a new channel gateway's key (`messages:write`; a sender limit applies)."""
    body = {"name": "channel-gateway", "scopes": ["messages:write"]}
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    created = httpx.post(f"{server}/v1/apikeys", json=body, headers=admin)
    return {"Authorization": f"Bearer {created.json()['key']}"}


def test_messages_from_one_sender_are_limited_except_for_the_admin_key(
    strict_server: str,
) -> None:
    admin, gateway = {"Authorization": f"Bearer {ADMIN_KEY}"}, gateway_key(strict_server)

    def send(headers: dict[str, str], message_id: str) -> int:
        message = {"channel": "web", "sender_id": "carol", "message_id": message_id, "text": "hi"}
        return httpx.post(
            f"{strict_server}/v1/messages", json=message, headers=headers, timeout=60
        ).status_code

    assert [send(gateway, f"g{n}") for n in range(3)] == [200, 200, 429]
    assert [send(admin, f"a{n}") for n in range(3)] == [200, 200, 200]


def test_a_repeated_message_is_answered_from_the_store_and_not_counted_for_its_sender(
    strict_server: str,
) -> None:
    gateway = gateway_key(strict_server)

    def send(message_id: str) -> httpx.Response:
        message = {"channel": "web", "sender_id": "dave", "message_id": message_id, "text": "hi"}
        return httpx.post(f"{strict_server}/v1/messages", json=message, headers=gateway, timeout=60)

    answers = [send(message_id) for message_id in ("d1", "d1", "d1", "d2", "d3")]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert [a.json()["duplicate"] for a in answers[:4]] == [False, True, True, False]
