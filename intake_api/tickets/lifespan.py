"""Start-up of the tickets domain: the SLA policy (a bad override file stops the start) and, on
SQLite, the lock that queues this process's ticket changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bot.triage import load_policy
from core.settings import Settings
from intake_api.services import services


@asynccontextmanager
async def tickets_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Put the SLA policy on `services(app).sla_policy` and the write lock on
    `services(app).ticket_write_lock` (None on PostgreSQL, whose row locks suffice)."""
    settings: Settings = services(app).settings
    services(app).sla_policy = load_policy(settings.sla_policy_file)
    sqlite = services(app).engine.dialect.name == "sqlite"
    services(app).ticket_write_lock = asyncio.Lock() if sqlite else None
    yield
