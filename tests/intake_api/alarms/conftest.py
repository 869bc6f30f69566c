"""Fixtures of the alarm tests: the asset tests' service (a database holding the test KB)."""

from __future__ import annotations

from tests.intake_api.assets.conftest import base_url  # noqa: F401  (the same service)
