"""Start-up of the tickets domain: load the SLA policy once (a bad override file stops start)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from intake_api.settings import Settings
from intake_api.triage import load_policy


@asynccontextmanager
async def tickets_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Put the SLA policy on `app.state.sla_policy`."""
    settings: Settings = app.state.settings
    app.state.sla_policy = load_policy(settings.sla_policy_file)
    yield
