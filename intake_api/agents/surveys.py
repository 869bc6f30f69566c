"""The CSAT survey: sent to the customer on their channel after every resolution, however the
ticket was resolved (agent console, `PATCH /v1/tickets`, a backend).

The sender hears the ticket changes this process publishes (each change is published by exactly
one worker), and the survey row (`csat.surveyed_at`) makes sure a ticket is surveyed once even
when it is resolved again after a reopen.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from core.columns import utcnow
from core.database import unit_of_work
from core.errors import NotFound
from core.logs import get_logger
from intake_api.agents.csat import survey_text
from intake_api.agents.delivery import send_to_customer
from intake_api.agents.models import Csat
from intake_api.services import public_base_url, services
from intake_api.tickets import service as tickets

log = get_logger(__name__)

QUEUE_SIZE = 10_000


def is_resolution(payload: dict[str, Any]) -> bool:
    return payload.get("status") == "resolved" and payload.get("previous_status") not in (
        None,
        "resolved",
    )


class SurveySender:
    """Queues resolutions as they are published and sends their surveys in the background."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)

    def observe(self, payload: dict[str, Any]) -> None:
        if not is_resolution(payload):
            return
        try:
            self._queue.put_nowait(str(payload["ticket_id"]))
        except asyncio.QueueFull:
            log.warning("CSAT survey dropped: queue full", ticket_id=payload["ticket_id"])

    async def run(self) -> None:
        """Send queued surveys until cancelled."""
        while True:
            ticket_id = await self._queue.get()
            try:
                await self.send(ticket_id)
            except Exception as exc:  # one failed survey must not stop the others
                log.warning("CSAT survey failed", ticket_id=ticket_id, error=repr(exc))

    async def send(self, ticket_id: str) -> bool:
        """Survey the ticket's customer unless surveyed before; whether the channel took it."""
        try:
            async with unit_of_work(services(self.app).sessions) as session:
                ticket = await tickets.get(session, ticket_id=ticket_id)
                if await session.get(Csat, ticket.id) is not None:
                    return False
                session.add(Csat(ticket_id=ticket.id, surveyed_at=utcnow()))
                await session.flush()
        except (NotFound, IntegrityError):  # gone, or another worker surveys it
            return False
        text = survey_text(ticket, public_base_url(self.app))
        sent = await send_to_customer(
            self.app, channel=ticket.channel, recipient=ticket.sender_id, text=text
        )
        log.info("CSAT survey", ticket_id=ticket_id, delivered=sent.delivered, error=sent.error)
        return sent.delivered
