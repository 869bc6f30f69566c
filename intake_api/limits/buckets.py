"""Token buckets: in-process by default, in Redis when several workers share the limits."""

from __future__ import annotations

import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.logs import get_logger

log = get_logger(__name__)


class MemoryRateLimiter:
    """Buckets in a dict; full buckets are dropped when the dict grows large."""

    max_buckets = 100_000

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}

    async def acquire(self, key: str, *, per_minute: int) -> float | None:
        now = time.monotonic()
        rate = per_minute / 60.0
        tokens, last = self._buckets.get(key, (float(per_minute), now))
        tokens = min(float(per_minute), tokens + (now - last) * rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / rate
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > self.max_buckets:
            self._prune(now)
        return None

    def _prune(self, now: float) -> None:
        full_after = 60.0  # any bucket untouched for a minute has refilled
        self._buckets = {
            key: value for key, value in self._buckets.items() if now - value[1] < full_after
        }


_TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    """The same bucket as a Lua script, atomic across every worker using the Redis server."""

    def __init__(self, redis: Redis, namespace: str = "aftersales:ratelimit:") -> None:
        self._redis = redis
        self._namespace = namespace
        self._script = redis.register_script(_TOKEN_BUCKET_LUA)

    async def acquire(self, key: str, *, per_minute: int) -> float | None:
        """As the in-process bucket; while Redis is unreachable requests are let through (a
        limiter outage must not become an API outage)."""
        rate = per_minute / 60.0
        try:
            wait = float(
                await self._script(
                    keys=[self._namespace + key], args=[rate, per_minute, f"{time.time():.6f}"]
                )
            )
        except RedisError as exc:
            log.warning("rate limiter cannot reach Redis; request allowed", error=str(exc))
            return None
        return wait or None
