"""The notifier that sends every ticket status change to the customer on the channel the ticket
came from, in the customer's language and script, with the channels' wording."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.models import Conversation
from bot.dialogue.state import DialogueState
from channels.texts import ChannelTexts, channel_texts, text_lang
from core.channels import OutboundChannel, OutboundError, OutboundRegistry
from core.errors import NotFound
from core.logs import get_logger
from intake_api.notifications.observed_bus import ObservedBus
from intake_api.services import services
from intake_api.tickets import service as tickets
from intake_api.tickets.models import Ticket

log = get_logger(__name__)

SEND_ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 1.0
QUEUE_SIZE = 10_000


def is_status_change(payload: dict[str, Any]) -> bool:
    previous = payload.get("previous_status")
    return previous is not None and previous != payload.get("status")


async def customer_lang(session: AsyncSession, ticket: Ticket) -> str:
    """The language the customer writes in: the ticket's, in Traditional script when the
    customer's conversation is written in it."""
    lang = text_lang(ticket.lang)
    if lang != "zh" or not ticket.conversation_id:
        return lang
    conversation = await session.get(Conversation, ticket.conversation_id)
    voice = DialogueState.from_json(conversation.state).last_voice() if conversation else None
    return "zh-Hant" if voice is not None and voice.traditional else lang


async def send_with_retries(channel: OutboundChannel, recipient: str, text: str) -> None:
    """Send a customer notice; a failed send is tried again twice, then raises."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            await channel.send_text(recipient, text)
            return
        except OutboundError as exc:
            if attempt == SEND_ATTEMPTS:
                raise
            log.info("status send failed, retrying", error=str(exc), attempt=attempt)
            await asyncio.sleep(RETRY_PAUSE_SECONDS * attempt)


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
        # Told of each status change once its notice went out (or could not): what must reach
        # the customer after the notice (the CSAT survey after "resolved").
        self.followers: list[Callable[[dict[str, Any]], None]] = []

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
            for follower in list(self.followers):
                try:
                    follower(payload)
                except Exception as exc:
                    log.warning("status follower failed", error=repr(exc), **payload)

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
            text = self.texts.change_notice(
                ticket_id=ticket.public_id,
                subject=ticket.subject,
                status=str(payload["status"]),
                note=payload.get("note"),
                lang=lang,
            )
            recipient = ticket.sender_id
        await send_with_retries(channel, recipient, text)
        log.info("status sent", ticket_id=payload["ticket_id"], channel=channel.name, lang=lang)
        return True


@asynccontextmanager
async def notifications_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Send status changes through the channels' outbound registry (`services(app).outbound`, so
    after the channels' start-up); the notifier hears them on the event bus it wraps."""
    shared = services(app)
    notifier = StatusNotifier(
        sessions=shared.sessions, registry=shared.outbound, texts=channel_texts()
    )
    bus = shared.event_bus
    shared.event_bus = ObservedBus(bus, notifier.observe)
    shared.after_status_notice = notifier.followers
    task = asyncio.create_task(notifier.run(), name="status-notifier")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        shared.event_bus = bus
        shared.after_status_notice = None
