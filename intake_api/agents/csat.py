"""Customer satisfaction: the survey sent when a ticket is resolved, and its one answer."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.columns import utcnow
from core.errors import Conflict
from intake_api.agents.models import Csat, CsatCreate, CsatRead
from intake_api.audit import service as audit
from intake_api.tickets.models import SOLVED_STATUSES, Ticket

SURVEY = {
    "zh": "您的工单 {ticket_id} 已解决。请为本次服务打分（1-5 分，5 分最满意），也欢迎留言：{link}",
    "en": "Your ticket {ticket_id} is resolved. How satisfied are you with our service? "
    "Please rate us from 1 (poor) to 5 (excellent) and leave a comment: {link}",
}


def survey_link(ticket: Ticket, public_url: str | None) -> str:
    """The survey page of the ticket, opened with its status token (absolute when the service
    knows its public address)."""
    path = f"/csat/{ticket.public_id}?token={ticket.status_token}"
    return f"{public_url.rstrip('/')}{path}" if public_url else path


def survey_text(ticket: Ticket, public_url: str | None) -> str:
    """The survey message in the customer's language (Chinese unless the ticket says English)."""
    lang = "en" if (ticket.lang or "").lower().startswith("en") else "zh"
    return SURVEY[lang].format(ticket_id=ticket.public_id, link=survey_link(ticket, public_url))


def _answered_twice(ticket: Ticket) -> Conflict:
    return Conflict(f"ticket {ticket.public_id} already has a CSAT answer", id=ticket.public_id)


async def answer(
    session: AsyncSession, *, ticket: Ticket, data: CsatCreate, actor: str
) -> CsatRead:
    """Store the customer's answer once (409 the second time, or before resolution)."""
    if ticket.status not in SOLVED_STATUSES:
        raise Conflict(
            f"ticket {ticket.public_id} is {ticket.status}; CSAT is asked after resolution",
            id=ticket.public_id,
            status=ticket.status,
        )
    now = utcnow()
    values = dict(score=data.score, comment=data.comment, answered_at=now, answered_by=actor)
    result = await session.execute(
        update(Csat).where(Csat.ticket_id == ticket.id, Csat.score.is_(None)).values(**values)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        if await session.get(Csat, ticket.id) is not None:
            raise _answered_twice(ticket)
        try:
            async with session.begin_nested():
                session.add(Csat(ticket_id=ticket.id, **values))
        except IntegrityError:
            raise _answered_twice(ticket) from None
    await audit.record(
        session,
        actor=actor,
        action="ticket.csat",
        entity="ticket",
        entity_id=ticket.public_id,
        changes={"score": data.score, "comment": data.comment},
    )
    return CsatRead(
        ticket_id=ticket.public_id, score=data.score, comment=data.comment, answered_at=now
    )
