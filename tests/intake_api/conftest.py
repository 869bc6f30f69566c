"""Fixtures of the intake API tests: settings with an admin key, a real server, HTTP clients."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from core.settings import Settings
from intake_api.app import create_app
from tests.support.server import running_server

ADMIN_KEY = "test-admin-key-0123456789"


@pytest.fixture
def intake_settings(settings: Settings) -> Settings:
    """The shared test settings plus an admin key."""
    return settings.model_copy(update={"admin_key": ADMIN_KEY})


@pytest.fixture
def base_url(intake_settings: Settings) -> Iterator[str]:
    """A real uvicorn server of the whole app on the test database."""
    with running_server(create_app(intake_settings)) as url:
        yield url


@pytest.fixture
def admin(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client holding the admin key."""
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def anonymous(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client without a key."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


def new_ticket(client: httpx.Client, **fields: object) -> dict:
    """Create a ticket (subject defaults to a plain repair request) and return it."""
    body = {"subject": "Machine shows error E03", **fields}
    response = client.post("/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    return response.json()
