"""The service starts on a migrated database and answers its liveness probe."""

from __future__ import annotations

import httpx

from core.settings import Settings
from intake_api.app import create_app
from tests.support.server import running_server


def test_healthz_on_a_real_server(settings: Settings) -> None:
    with running_server(create_app(settings)) as base_url:
        response = httpx.get(f"{base_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
