"""Start-up of the channels: the outbound registry (`services(app).outbound`, which agents and the
status notifier send through) and every channel of `channels.registry`, each handed the
messages desk and the service's side of the ports it uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.ports import ChannelPorts
from channels.registry import CHANNELS
from core.channels import TicketEvents
from core.events import EventBus
from core.logs import get_logger
from intake_api.channel_ports.conversations import StoredConversations
from intake_api.channel_ports.tickets import ChannelTickets
from intake_api.events.stream import ticket_events
from intake_api.messages.desk import BotTicketDesk
from intake_api.services import Services, services

log = get_logger(__name__)


def ticket_stream(sessions: async_sessionmaker[AsyncSession], bus: EventBus) -> TicketEvents:
    """`TicketEvents` over the stored events and the bus (as `GET /v1/tickets/{id}/events`)."""

    def events(ticket_id: str) -> AsyncIterator[dict[str, Any] | None]:
        return ticket_events(sessions=sessions, bus=bus, ticket_id=ticket_id)

    return events


def channel_ports(shared: Services) -> ChannelPorts:
    """The ports over this app's domains (after the messages domain has started)."""
    sessions = shared.sessions
    return ChannelPorts(
        settings=shared.settings,
        intake=shared.messages,
        outbound=shared.outbound,
        tickets=ChannelTickets(sessions, BotTicketDesk(shared.sla_policy)),
        conversations=StoredConversations(
            sessions, shared.messages.dialogue.knowledge.product_names
        ),
        ticket_events=ticket_stream(sessions, shared.event_bus),
        rate_limiter=shared.rate_limiter,
    )


@asynccontextmanager
async def channels_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start every channel; each registers its outbound side when it is configured."""
    shared = services(app)
    ports = channel_ports(shared)
    async with AsyncExitStack() as stack:
        for channel in CHANNELS:
            await stack.enter_async_context(channel.lifespan(app, ports))
        log.info("channels started", outbound=shared.outbound.names or "none")
        yield
