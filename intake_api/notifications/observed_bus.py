"""The event bus, also handing each payload this process publishes to an observer (the status
notifier, the CSAT survey sender): each change is published by exactly one worker, so with
several workers on Redis every customer still gets one message per change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.events import AbstractSubscription, EventBus


class ObservedBus:
    """Wraps the bus the events domain started; subscriptions go to it unchanged."""

    def __init__(self, inner: EventBus, observer: Callable[[dict[str, Any]], None]) -> None:
        self.inner = inner
        self._observer = observer

    async def publish(self, ticket_id: str, payload: dict[str, Any]) -> None:
        self._observer(payload)  # first: a bus failure must not cost the customer's update
        await self.inner.publish(ticket_id, payload)

    def subscribe(self, ticket_id: str) -> AbstractSubscription:
        return self.inner.subscribe(ticket_id)
