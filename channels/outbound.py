"""Outbound side of the channels: the registry of configured platforms, and the notifier that
sends every ticket status change to the customer on the channel the ticket came from, in the
customer's language.

The notifier hears the changes this process publishes on the event bus (`ObservedBus` wraps the
bus the events domain started): each change is published by exactly one worker, so with several
workers on Redis every customer still gets one message per change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.status import change_notice, customer_lang
from channels.telegram.lifespan import telegram_lifespan
from channels.texts import ChannelTexts, channel_texts
from channels.wechat.lifespan import wechat_lifespan
from core.channels import OutboundChannel, OutboundError, OutboundRegistry
from core.errors import NotFound
from core.events import AbstractSubscription, EventBus
from core.logs import get_logger
from intake_api.tickets import service as tickets

log = get_logger(__name__)

SEND_ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 1.0
QUEUE_SIZE = 10_000


class ObservedBus:
    """The event bus, also handing each payload this process publishes to an observer."""

    def __init__(self, inner: EventBus, observer: Callable[[dict[str, Any]], None]) -> None:
        self.inner = inner
        self._observer = observer

    async def publish(self, ticket_id: str, payload: dict[str, Any]) -> None:
        self._observer(payload)  # first: a bus failure must not cost the customer's update
        await self.inner.publish(ticket_id, payload)

    def subscribe(self, ticket_id: str) -> AbstractSubscription:
        return self.inner.subscribe(ticket_id)


def is_status_change(payload: dict[str, Any]) -> bool:
    previous = payload.get("previous_status")
    return previous is not None and previous != payload.get("status")


class StatusNotifier:
    """Sends ticket status changes to customers; a queue keeps requests from waiting on it."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        registry: OutboundRegistry,
        texts: ChannelTexts,
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.texts = texts
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)

    def observe(self, payload: dict[str, Any]) -> None:
        """Take a published ticket event; status changes are queued for sending."""
        if not is_status_change(payload):
            return
        try:
            self._queue.put_nowait(payload)
        except asyncio.QueueFull:
            log.warning("status notification dropped: queue full", **payload)

    async def run(self) -> None:
        """Send queued notifications until cancelled."""
        while True:
            payload = await self._queue.get()
            try:
                await self.notify(payload)
            except Exception as exc:  # one bad event must not stop the others
                log.warning("status notification failed", error=repr(exc), **payload)

    async def notify(self, payload: dict[str, Any]) -> bool:
        """Send one status change to the ticket's customer; False when there is no one to tell
        (ticket from the API or a channel not configured here)."""
        async with self.sessions() as session:
            try:
                ticket = await tickets.get(session, ticket_id=str(payload["ticket_id"]))
            except NotFound:
                return False
            channel = self.registry.get(ticket.channel)
            if channel is None or not ticket.sender_id:
                return False
            lang = await customer_lang(session, ticket)
            text = change_notice(self.texts, ticket, payload, lang)
            recipient = ticket.sender_id
        await self._send(channel, recipient, text)
        log.info("status sent", ticket_id=payload["ticket_id"], channel=channel.name, lang=lang)
        return True

    @staticmethod
    async def _send(channel: OutboundChannel, recipient: str, text: str) -> None:
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                await channel.send_text(recipient, text)
                return
            except OutboundError as exc:
                if attempt == SEND_ATTEMPTS:
                    raise
                log.info("status send failed, retrying", error=str(exc), attempt=attempt)
                await asyncio.sleep(RETRY_PAUSE_SECONDS * attempt)


ChannelLifespan = Callable[
    [FastAPI, OutboundRegistry], contextlib.AbstractAsyncContextManager[None]
]


def _channel_lifespans() -> Sequence[ChannelLifespan]:
    """Each platform's start-up: registers its outbound side when it is configured."""
    return (wechat_lifespan, telegram_lifespan)


@asynccontextmanager
async def channels_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the configured platforms and the status notifier; `app.state.outbound` is the
    registry other channels (web chat, phone) register with too."""
    registry = OutboundRegistry()
    app.state.outbound = registry
    notifier = StatusNotifier(sessions=app.state.sessions, registry=registry, texts=channel_texts())
    async with AsyncExitStack() as stack:
        for channel_lifespan in _channel_lifespans():
            await stack.enter_async_context(channel_lifespan(app, registry))
        inbound = [name for name in ("wechat", "telegram") if getattr(app.state, name, None)]
        log.info(
            "channels configured", inbound=inbound or "none", outbound=registry.names or "none"
        )
        bus = app.state.event_bus
        app.state.event_bus = ObservedBus(bus, notifier.observe)
        task = asyncio.create_task(notifier.run(), name="status-notifier")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            app.state.event_bus = bus
