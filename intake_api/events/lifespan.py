"""Start-up of the event bus: Redis pub/sub when `redis_url` is set, else in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from core.settings import Settings
from intake_api.events.bus import LocalBus, RedisBus
from intake_api.services import services


@asynccontextmanager
async def events_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Put the bus on `services(app).event_bus` for the life of the app."""
    settings: Settings = services(app).settings
    if not settings.redis_url:
        services(app).event_bus = LocalBus()
        yield
        return
    redis = Redis.from_url(settings.redis_url)
    bus = RedisBus(redis)
    await bus.start()
    services(app).event_bus = bus
    try:
        yield
    finally:
        await bus.stop()
        await redis.aclose()
