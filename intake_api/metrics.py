"""`GET /metrics`: Prometheus text format of the default registry (process metrics, the
counters domains keep) plus gauges read from the database at scrape time, so every worker
reports the same service-wide state."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue.models import Conversation, ConversationMessage
from core.columns import utcnow
from intake_api.agents import service as agents
from intake_api.services import services
from intake_api.tickets.models import Ticket

router = APIRouter(tags=["health"])

TICKETS = Gauge("aftersales_tickets", "Tickets by status.", ["status"])
QUEUE = Gauge("aftersales_agent_queue_length", "Items waiting for a person in the agent queue.")
SLA_BREACHES = Gauge(
    "aftersales_sla_breaches",
    "Open tickets past their due time: response (no person answered yet) or resolution.",
    ["kind"],
)
MESSAGES = Gauge(
    "aftersales_messages",
    "Conversation lines by channel, direction (in: customer, out: bot/agent) and action.",
    ["channel", "direction", "action"],
)


async def _refresh(session: AsyncSession) -> None:
    """Set the gauges from the database (label sets that vanished are dropped)."""
    by_status = await session.execute(select(Ticket.status, func.count()).group_by(Ticket.status))
    TICKETS.clear()
    for status, count in by_status:
        TICKETS.labels(status=status).set(count)
    QUEUE.set(await agents.queue_length(session))
    for kind, count in (await agents.open_breaches(session, now=utcnow())).items():
        SLA_BREACHES.labels(kind=kind).set(count)
    lines = await session.execute(
        select(
            Conversation.channel,
            ConversationMessage.direction,
            ConversationMessage.action,
            func.count(),
        )
        .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        .group_by(Conversation.channel, ConversationMessage.direction, ConversationMessage.action)
    )
    MESSAGES.clear()
    for channel, direction, action, count in lines:
        MESSAGES.labels(channel=channel, direction=direction, action=action or "customer").set(
            count
        )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus scrape endpoint (no key: bind it to a private network)."""
    async with services(request.app).sessions() as session:
        await _refresh(session)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
