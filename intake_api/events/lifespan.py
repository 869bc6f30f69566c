"""Start-up of the event bus: Redis pub/sub when `redis_url` is set, else in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from core.settings import Settings
from intake_api.events.bus import LocalBus, RedisBus


@asynccontextmanager
async def events_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Put the bus on `app.state.event_bus` for the life of the app."""
    settings: Settings = app.state.settings
    if not settings.redis_url:
        app.state.event_bus = LocalBus()
        yield
        return
    redis = Redis.from_url(settings.redis_url)
    bus = RedisBus(redis)
    await bus.start()
    app.state.event_bus = bus
    try:
        yield
    finally:
        await bus.stop()
        await redis.aclose()
