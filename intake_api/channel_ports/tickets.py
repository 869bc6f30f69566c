"""`CustomerTickets` over the tickets table: what a channel shows a customer of their tickets
(Telegram `/status`, the web chat's live ticket status)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake_api.messages.desk import BotTicketDesk
from intake_api.tickets.models import Ticket

RECENT_LIMIT = 10


class ChannelTickets:
    """A customer's tickets by channel and sender id, read in a session of their own."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], desk: BotTicketDesk) -> None:
        self.sessions = sessions
        self.desk = desk

    async def open_tickets(self, channel: str, sender_id: str) -> list[dict[str, Any]]:
        """The unfinished tickets as the bot's `status` action finds them, newest first."""
        async with self.sessions() as session:
            customer = {"channel": channel, "sender_id": sender_id}
            return await self.desk.open_for(session, customer)

    async def recent_ids(self, channel: str, sender_id: str) -> list[str]:
        """The readable ids of the sender's latest tickets on the channel, newest first."""
        query = (
            select(Ticket)
            .where(Ticket.channel == channel, Ticket.sender_id == sender_id)
            .order_by(Ticket.id.desc())
            .limit(RECENT_LIMIT)
        )
        async with self.sessions() as session:
            return [ticket.public_id for ticket in await session.scalars(query)]
