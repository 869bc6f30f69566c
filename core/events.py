"""The event bus interface: committed ticket changes fanned out to whoever listens.

The service picks the implementation (in-process, or Redis across workers); channels and
domains only publish and subscribe through this interface.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

AbstractSubscription = contextlib.AbstractAsyncContextManager["asyncio.Queue[dict[str, Any]]"]


class EventBus(Protocol):
    """Publish only after the change is committed."""

    async def publish(self, ticket_id: str, payload: dict[str, Any]) -> None:
        """Send a committed change of `ticket_id` to every subscriber of that ticket."""

    def subscribe(self, ticket_id: str) -> AbstractSubscription:
        """An async context manager yielding a queue of the ticket's payloads."""
