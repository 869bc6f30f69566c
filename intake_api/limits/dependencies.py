"""Rate-limit checks for routes, and the lifespan that picks the limiter."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

from core.errors import RateLimited
from core.settings import Settings
from intake_api.limits.body_size import BodySizeLimit
from intake_api.limits.buckets import MemoryRateLimiter, RedisRateLimiter
from intake_api.services import services


async def _check(request: Request, key: str, per_minute: int, what: str) -> None:
    limiter = services(request.app).rate_limiter
    if per_minute <= 0:
        return
    wait = await limiter.acquire(key, per_minute=per_minute)
    if wait is not None:
        retry_after = max(1, math.ceil(wait))
        raise RateLimited(
            f"rate limit of {per_minute} requests per minute exceeded for {what}; "
            f"retry after {retry_after} s",
            retry_after_seconds=retry_after,
        )


async def check_key_rate(request: Request, actor: str) -> None:
    """429 when the caller (API key) is over `rate_limit_per_key_per_minute`."""
    settings: Settings = services(request.app).settings
    await _check(request, f"key:{actor}", settings.rate_limit_per_key_per_minute, "this API key")


async def check_sender_rate(request: Request, channel: str | None, sender_id: str) -> None:
    """429 when one customer (channel + sender) is over `rate_limit_per_sender_per_minute`."""
    settings: Settings = services(request.app).settings
    await _check(
        request,
        f"sender:{channel or '-'}:{sender_id}",
        settings.rate_limit_per_sender_per_minute,
        f"sender {sender_id}",
    )


async def _rate_limited_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    retry_after = exc.detail.get("retry_after_seconds", 1)
    return JSONResponse(
        status_code=exc.status_code,
        content={"error": exc.code, "message": exc.message, "detail": exc.detail},
        headers={"Retry-After": str(retry_after)},
    )


def install_limits(app: FastAPI, settings: Settings) -> None:
    """Body size middleware and the 429 answer with Retry-After."""
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_exception_handler(RateLimited, _rate_limited_handler)


@asynccontextmanager
async def limits_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Token buckets in Redis when `redis_url` is set (shared by workers), else in-process."""
    settings: Settings = services(app).settings
    if not settings.redis_url:
        services(app).rate_limiter = MemoryRateLimiter()
        yield
        return
    redis = Redis.from_url(settings.redis_url)
    services(app).rate_limiter = RedisRateLimiter(redis)
    try:
        yield
    finally:
        await redis.aclose()
