"""Per-ticket KPI facts stored where they are written, so the dashboard reads them instead of
recomputing them from every conversation line.

The first-response wait (from the hand-off: the conversation's last bot line before a person's
first reply, or the ticket's creation when later, to that reply) is fixed once the reply is
recorded, since later lines come after it: it is stored with the first response
(`ticket_first_responses.wait_us`) by the same statement that the agents domain runs when it
records the reply, migration agents_0005 runs over older rows and the benchmark runs after
seeding. A row without it (written some other way) is judged from the lines as before.

Who and what a ticket is about (`customer_key`, `fault_key`) are generated columns of tickets.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Update, case, func, or_, select, update

from bot.dialogue.models import ConversationMessage
from core.channels import AGENT_ACTION
from core.epoch import epoch_us
from intake_api.agents.models import FirstResponse
from intake_api.channel_ports.conversations import NOTICE_ACTION
from intake_api.tickets.models import Ticket


def handed_off_us() -> ScalarSelect[int]:
    """Per ticket, correlated to tickets and first responses (`epoch_us`): when its response
    clock started, the later of its creation and its conversation's last bot line before a
    person's first reply; one probe of the (conversation, direction, time, action) index."""
    line = ConversationMessage
    later = case((line.created_at > Ticket.created_at, line.created_at), else_=Ticket.created_at)
    return (
        select(epoch_us(func.coalesce(func.max(later), Ticket.created_at)))
        .where(
            line.conversation_id == Ticket.conversation_id,
            line.direction == "out",
            line.created_at < FirstResponse.at,
            or_(line.action.is_(None), line.action.not_in((AGENT_ACTION, NOTICE_ACTION))),
        )
        .correlate_except(line)
        .scalar_subquery()
    )


def _recomputed_wait() -> Any:
    return epoch_us(FirstResponse.at) - handed_off_us()


def store_waits(ticket_id: int | None = None) -> Update:
    """The statement that stores the first-response wait of `ticket_id`, or of every first
    response without one (the migration's and the benchmark's backfill)."""
    wait = select(_recomputed_wait()).where(Ticket.id == FirstResponse.ticket_id)
    rows = (
        FirstResponse.wait_us.is_(None)
        if ticket_id is None
        else FirstResponse.ticket_id == ticket_id
    )
    return update(FirstResponse).where(rows).values(wait_us=wait.scalar_subquery())


def first_response_wait() -> ColumnElement[Any]:
    """The first-response wait of a ticket joined to its first response (µs): the stored one,
    or, for a row stored without it, the same definition computed from the lines."""
    return func.coalesce(FirstResponse.wait_us, _recomputed_wait())
