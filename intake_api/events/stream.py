"""A ticket's changes in order: the stored history first, then live ones from the bus.

Live events are checked against the sequence numbers: a gap (a missed or late message) and an
idle interval both make the stream read the database again, so no change is ever skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.events import EventBus
from core.logs import get_logger
from intake_api.services import services
from intake_api.tickets import service as tickets
from intake_api.tickets.models import TicketEvent, TicketEventRead

log = get_logger(__name__)

IDLE_SECONDS = 15.0
CONVERSATION_KEY = "conversation:"  # conversation notices: never a ticket id, so no ticket stream


def event_payload(event: TicketEvent) -> dict[str, Any]:
    """What streams send for one change: `{"ticket_id", "seq", "event", "status", "at", ...}`."""
    return TicketEventRead.of(event).payload()


async def publish_committed(app: FastAPI, events: list[TicketEvent]) -> None:
    """Publish committed changes; a failure is logged, never undoes or fails the request."""
    bus: EventBus = services(app).event_bus
    for event in events:
        payload = event_payload(event)
        try:
            await bus.publish(payload["ticket_id"], payload)
        except Exception as exc:  # streams fall back to the database on their next idle tick
            log.warning("publishing a ticket event failed", error=str(exc), **payload)


async def publish_conversation_changed(
    app: FastAPI, item_id: str, ticket_id: str | None = None
) -> None:
    """Tell the agent workspaces (on every worker) that a conversation got a committed line or
    note. `item_id` is the conversation's id (a ticket's for a note on a ticket without one);
    ids only, never the customer's text. A failure is logged; open views re-check on a timer."""
    notice = {"item_id": item_id, "ticket_id": ticket_id}
    try:
        await services(app).event_bus.publish(CONVERSATION_KEY + item_id, notice)
    except Exception as exc:
        log.warning("publishing a conversation notice failed", error=str(exc), **notice)


async def _stored_after(
    sessions: async_sessionmaker[AsyncSession], ticket_id: str, after_seq: int
) -> list[dict[str, Any]]:
    async with sessions() as session:
        events = await tickets.events_after(session, ticket_id=ticket_id, after_seq=after_seq)
    return [event_payload(event) for event in events]


async def ticket_events(
    *,
    sessions: async_sessionmaker[AsyncSession],
    bus: EventBus,
    ticket_id: str,
    after_seq: int = 0,
    idle_seconds: float = IDLE_SECONDS,
) -> AsyncIterator[dict[str, Any] | None]:
    """Every change of the ticket after `after_seq`, in order, forever; `None` when idle (time
    for a keep-alive)."""
    last = after_seq
    async with bus.subscribe(ticket_id) as queue:  # subscribe first: nothing falls in between
        for payload in await _stored_after(sessions, ticket_id, last):
            last = payload["seq"]
            yield payload
        while True:
            try:  # not `wait_for`: before 3.12 it can swallow the stream's cancellation
                async with asyncio.timeout(idle_seconds):
                    live = await queue.get()
            except TimeoutError:
                batch = await _stored_after(sessions, ticket_id, last)
                if not batch:
                    yield None
            else:
                if live["seq"] <= last:
                    continue
                batch = (
                    [live]
                    if live["seq"] == last + 1
                    else await _stored_after(sessions, ticket_id, last)
                )
            for payload in batch:
                last = payload["seq"]
                yield payload
