"""Fixtures of the asset tests: the service on a database that holds the test KB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.settings import Settings
from intake_api.app import create_app
from tests.intake_api.assets.support import store_kb
from tests.support.server import running_server


@pytest.fixture
def base_url(intake_settings: Settings) -> Iterator[str]:
    """The whole app on a database that holds the test KB (no NLU training: a stub)."""
    store_kb(intake_settings.resolved_database_url)
    with running_server(create_app(intake_settings)) as url:
        yield url
