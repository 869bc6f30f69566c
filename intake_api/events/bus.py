"""The event bus: ticket changes fanned out to the streams open in this process.

`LocalBus` fans out in-process. `RedisBus` publishes on Redis pub/sub and feeds what every worker
publishes into its local fan-out, so a stream on one worker sees changes made on another.
Publish only after the change is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from core.events import AbstractSubscription
from core.logs import get_logger

log = get_logger(__name__)

CHANNEL_PREFIX = "aftersales:ticket-events:"
QUEUE_SIZE = 1000
# Subscribing under this key receives what is published under every key (the agent workspace
# wakes on any change); no ticket or conversation id can take it.
EVERY_KEY = "*"


class LocalBus:
    """In-process fan-out; a subscriber whose queue is full misses events (its stream recovers
    them from the database by sequence number)."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}

    def deliver(self, ticket_id: str, payload: dict[str, Any]) -> None:
        every = self._queues.get(EVERY_KEY, ()) if ticket_id != EVERY_KEY else ()
        for queue in [*self._queues.get(ticket_id, ()), *every]:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(payload)

    async def publish(self, ticket_id: str, payload: dict[str, Any]) -> None:
        self.deliver(ticket_id, payload)

    def wanted(self, ticket_id: str) -> bool:
        """Whether a stream in this process would receive what is published under the key."""
        return ticket_id in self._queues or (ticket_id != EVERY_KEY and EVERY_KEY in self._queues)

    @asynccontextmanager
    async def subscribe(self, ticket_id: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._queues.setdefault(ticket_id, set()).add(queue)
        try:
            yield queue
        finally:
            subscribers = self._queues.get(ticket_id, set())
            subscribers.discard(queue)
            if not subscribers:
                self._queues.pop(ticket_id, None)


class RedisBus:
    """Redis pub/sub between workers, a `LocalBus` inside each."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._local = LocalBus()
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        """Listen to every worker's publications until `stop`."""
        self._listener = asyncio.create_task(self._listen(), name="redis-event-bus")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=10)
        except TimeoutError as exc:
            await self.stop()
            raise RuntimeError(
                "event bus: Redis (AFTERSALES_REDIS_URL) did not accept a subscription in 10 s"
            ) from exc

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                    self._ready.set()
                    async for message in pubsub.listen():
                        if message["type"] == "pmessage":
                            self._forward(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: streams recover from the database
                log.warning("event bus lost Redis, reconnecting", error=str(exc))
                await asyncio.sleep(1)

    def _forward(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        key = (channel.decode() if isinstance(channel, bytes) else channel).removeprefix(
            CHANNEL_PREFIX
        )
        if self._local.wanted(key):  # every worker hears every change; few have a stream open
            self._local.deliver(key, json.loads(message["data"]))

    async def publish(self, ticket_id: str, payload: dict[str, Any]) -> None:
        await self._redis.publish(CHANNEL_PREFIX + ticket_id, json.dumps(payload))

    def subscribe(self, ticket_id: str) -> AbstractSubscription:
        return self._local.subscribe(ticket_id)
