"""What the agent workspace reads: the inbox (open tickets and handed-off conversations,
filtered, searched, ordered by breach risk, with unread counts), a conversation's labelled
transcript with its internal notes and attachments, the context panel, and internal notes.
The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue import conversations
from bot.dialogue.models import CONVERSATION_HANDOFF, Conversation, ConversationMessage
from bot.triage.policy import PRIORITIES
from channels.texts import text_lang
from core.channels import AGENT_ACTION
from core.columns import utcnow
from core.errors import Conflict, NotFound
from intake_api.agents.models import (
    AgentClaim,
    AgentNote,
    CannedReply,
    ContextPanel,
    Equipment,
    EquipmentPanel,
    Escalation,
    FirstResponse,
    InboxFilters,
    InboxItem,
    Line,
    NoteRead,
    PastTicket,
    PriorityChange,
    ReadMark,
    Transcript,
    Workspace,
)
from intake_api.agents.service import read_conversation
from intake_api.alarms import service as alarms
from intake_api.alarms.models import Alarm, AlarmRead, IncidentRead
from intake_api.assets import service as assets
from intake_api.assets.models import Asset
from intake_api.audit import service as audit
from intake_api.channel_ports.conversations import NOTICE_ACTION
from intake_api.messages.models import StoredMessage
from intake_api.pagination import PageRequest
from intake_api.tickets import service as tickets_service
from intake_api.tickets.models import (
    OPEN_STATUSES,
    Ticket,
    TicketEvent,
    TicketRead,
    parse_ticket_id,
)
from intake_api.tickets.outcomes import REPEAT_WITHIN, customer_key, fault_key

EARLIER_TICKETS = 20  # the context panel's list of the customer's other tickets


def speaker(line: ConversationMessage) -> str:
    """Who wrote a line: customer, bot, agent (a person, named in `author`) or system (notices)."""
    if line.direction == "in":
        return "customer"
    if line.action == AGENT_ACTION:
        return "agent"
    if line.action == NOTICE_ACTION:
        return "system"
    return "bot"


# --- the inbox ---------------------------------------------------------------------------------


def _due() -> ColumnElement[datetime]:
    """The next SLA due time: the response until a person answered, then the resolution."""
    return case((FirstResponse.at.is_(None), Ticket.sla_due_at), else_=Ticket.resolution_due_at)


def _search(text: str) -> ColumnElement[bool]:
    """Ticket id, phone, serial (in the ticket's text) or customer name, phone, e-mail, sender."""
    like = f"%{text.lower()}%"
    number = parse_ticket_id(text)
    digits = "".join(ch for ch in text if ch.isdigit())
    options: list[ColumnElement[bool]] = [
        func.lower(Ticket.customer_name).like(like),
        func.lower(Ticket.customer_email).like(like),
        func.lower(Ticket.subject).like(like),
        func.lower(Ticket.description).like(like),
        Ticket.sender_id == text,
        Ticket.conversation_id == text,
    ]
    if number is not None:
        options.append(Ticket.id == number)
    if len(digits) >= 4:
        options.append(Ticket.customer_phone.like(f"%{digits}%"))
    return or_(*options)


def _ticket_filters(
    filters: InboxFilters, actor: str, product_ids: set[str] | None
) -> list[ColumnElement[bool]]:
    """The conditions an open ticket must meet to be in the filtered inbox."""
    conditions: list[ColumnElement[bool]] = [Ticket.status.in_(OPEN_STATUSES)]
    if filters.view == "mine":
        conditions.append(Ticket.assignee == actor)
    elif filters.view == "unassigned":
        conditions.append(Ticket.assignee.is_(None))
    for column, value in (
        (Ticket.skill_group, filters.skill_group),
        (Ticket.channel, filters.channel),
        (Ticket.priority, filters.priority),
        (Ticket.lang, filters.lang),
    ):
        if value:
            conditions.append(column == value)
    if product_ids is not None:
        conditions.append(Ticket.product_id.in_(product_ids or {""}))
    if filters.q:
        conditions.append(_search(filters.q))
    return conditions


@dataclass(frozen=True)
class _Row:
    due: datetime
    rank: int
    key: str
    item: InboxItem


async def _ticket_rows(
    session: AsyncSession,
    *,
    filters: InboxFilters,
    actor: str,
    now: datetime,
    product_ids: set[str] | None,
    limit: int,
) -> tuple[list[_Row], int]:
    due = _due().label("due")
    conditions = _ticket_filters(filters, actor, product_ids)
    query = (
        select(Ticket, FirstResponse.at, due)
        .outerjoin(FirstResponse, FirstResponse.ticket_id == Ticket.id)
        .where(*conditions)
        .order_by(due, Ticket.priority, Ticket.id)
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    total = int(await session.scalar(select(func.count(Ticket.id)).where(*conditions)) or 0)
    escalated = set(
        await session.scalars(
            select(Escalation.ticket_id).where(Escalation.ticket_id.in_([r[0].id for r in rows]))
        )
    )
    items = [
        _Row(
            due=row[2],
            rank=_rank(row[0].priority),
            key=row[0].public_id,
            item=InboxItem(
                id=row[0].public_id,
                kind="ticket",
                subject=row[0].subject,
                customer=row[0].customer_name or row[0].customer_phone or row[0].sender_id,
                channel=row[0].channel,
                priority=row[0].priority,
                status=row[0].status,
                skill_group=row[0].skill_group,
                product_id=row[0].product_id,
                lang=row[0].lang,
                assignee=row[0].assignee,
                conversation_id=row[0].conversation_id,
                due_at=row[2],
                due_kind="resolution" if row[1] else "response",
                seconds_left=round((row[2] - now).total_seconds()),
                escalated=row[0].id in escalated,
                unread=0,
            ),
        )
        for row in rows
    ]
    return items, total


def _rank(priority: str) -> int:
    return PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)


async def _lonely_handoffs(
    session: AsyncSession, *, filters: InboxFilters, actor: str, now: datetime
) -> list[_Row]:
    """Handed-off conversations without an open ticket (filters that need a ticket skip them)."""
    if filters.skill_group or filters.priority or filters.product_line:
        return []
    with_ticket = select(Ticket.conversation_id).where(
        Ticket.status.in_(OPEN_STATUSES), Ticket.conversation_id.is_not(None)
    )
    query = (
        select(Conversation, AgentClaim.agent)
        .outerjoin(AgentClaim, AgentClaim.item_id == Conversation.id)
        .where(Conversation.status == CONVERSATION_HANDOFF, Conversation.id.not_in(with_ticket))
    )
    if filters.channel:
        query = query.where(Conversation.channel == filters.channel)
    if filters.lang:
        query = query.where(Conversation.lang == filters.lang)
    if filters.view == "mine":
        query = query.where(AgentClaim.agent == actor)
    elif filters.view == "unassigned":
        query = query.where(AgentClaim.agent.is_(None))
    if filters.q:
        query = query.where(or_(Conversation.id == filters.q, Conversation.sender_id == filters.q))
    rows = []
    for conversation, holder in await session.execute(query.limit(500)):
        name = str(conversation.customer.get("name") or conversation.sender_id)
        rows.append(
            _Row(
                due=conversation.updated_at,
                rank=_rank("P3"),
                key=conversation.id,
                item=InboxItem(
                    id=conversation.id,
                    kind="conversation",
                    subject=f"{name} asked for a person",
                    customer=name,
                    channel=conversation.channel,
                    priority="P3",
                    status=conversation.status,
                    lang=conversation.lang,
                    assignee=holder,
                    conversation_id=conversation.id,
                    due_at=None,
                    seconds_left=None,
                    unread=0,
                ),
            )
        )
    return rows


async def _unread(session: AsyncSession, *, actor: str, ids: Sequence[str]) -> dict[str, int]:
    """Customer lines each conversation got since the agent last read it."""
    if not ids:
        return {}
    mark = (
        select(ReadMark.conversation_id, ReadMark.read_at)
        .where(ReadMark.agent == actor, ReadMark.conversation_id.in_(ids))
        .subquery()
    )
    rows = await session.execute(
        select(ConversationMessage.conversation_id, func.count())
        .outerjoin(mark, mark.c.conversation_id == ConversationMessage.conversation_id)
        .where(
            ConversationMessage.conversation_id.in_(ids),
            ConversationMessage.direction == "in",
            or_(mark.c.read_at.is_(None), ConversationMessage.created_at > mark.c.read_at),
        )
        .group_by(ConversationMessage.conversation_id)
    )
    return {str(conversation_id): int(count) for conversation_id, count in rows}


async def inbox(
    session: AsyncSession,
    *,
    filters: InboxFilters,
    actor: str,
    product_ids: set[str] | None,
    limit: int,
) -> tuple[list[InboxItem], int]:
    """The `limit` items at most risk of breaching first (earliest next due time, most overdue
    first; then priority), and how many match in all."""
    now = utcnow()
    tickets, total = await _ticket_rows(
        session, filters=filters, actor=actor, now=now, product_ids=product_ids, limit=limit
    )
    lonely = await _lonely_handoffs(session, filters=filters, actor=actor, now=now)
    rows = sorted([*tickets, *lonely], key=lambda row: (row.due, row.rank, row.key))[:limit]
    unread = await _unread(
        session, actor=actor, ids=[r.item.conversation_id for r in rows if r.item.conversation_id]
    )
    items = [
        row.item.model_copy(update={"unread": unread.get(row.item.conversation_id or "", 0)})
        for row in rows
    ]
    return items, total + len(lonely)


async def mark_read(session: AsyncSession, *, actor: str, conversation_id: str) -> None:
    """The agent has read the conversation up to now."""
    mark = await session.get(ReadMark, (actor, conversation_id))
    if mark is None:
        session.add(ReadMark(agent=actor, conversation_id=conversation_id, read_at=utcnow()))
    else:
        mark.read_at = utcnow()


# --- the transcript ----------------------------------------------------------------------------


def _links(attachments: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """The attachments a customer sent: a web address when they have one, and the stored
    file's id (`file_id`, empty when not stored) that the page matches to the conversation's
    signed file list."""
    links = []
    for attachment in attachments or []:
        url = str(attachment.get("url") or "")
        links.append(
            {
                "type": str(attachment.get("type") or "file"),
                "name": str(attachment.get("name") or attachment.get("type") or "attachment"),
                "url": url if url.startswith(("http://", "https://")) else "",
                "file_id": str(attachment.get("file_id") or ""),
            }
        )
    return links


async def transcript(session: AsyncSession, *, conversation: Conversation) -> Transcript:
    """Every line of the conversation labelled by speaker, its customer's attachments, and the
    internal notes (agents only)."""
    lines = await session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation.id)
        .order_by(ConversationMessage.id)
    )
    inbound = await session.execute(
        select(StoredMessage.message_id, StoredMessage.attachments).where(
            StoredMessage.conversation_id == conversation.id,
            StoredMessage.attachments.is_not(None),
        )
    )
    attachments = {message_id: _links(found) for message_id, found in inbound}
    notes = await session.scalars(
        select(AgentNote).where(AgentNote.conversation_id == conversation.id).order_by(AgentNote.id)
    )
    return Transcript(
        lines=[
            Line(
                speaker=speaker(line),
                author=line.author,
                text=line.text,
                action=line.action,
                at=line.created_at,
                attachments=attachments.get(line.message_id or "", []),
            )
            for line in lines
        ],
        notes=[NoteRead(author=n.author, text=n.text, at=n.at) for n in notes],
    )


async def add_note(
    session: AsyncSession,
    *,
    conversation_id: str | None,
    ticket_id: int | None,
    actor: str,
    author: str,
    text: str,
) -> NoteRead:
    """An internal note: kept apart from the conversation's lines, so no channel ever sends it."""
    note = AgentNote(
        conversation_id=conversation_id, ticket_id=ticket_id, author=author, text=text, at=utcnow()
    )
    session.add(note)
    await audit.record(
        session,
        actor=actor,
        action="conversation.internal_note",
        entity="conversation" if conversation_id else "ticket",
        entity_id=conversation_id or str(ticket_id),
        changes={"text": text, "author": author},
    )
    return NoteRead(author=author, text=text, at=note.at)


# --- the context panel -------------------------------------------------------------------------


async def _registered_unit(
    session: AsyncSession,
    ticket: Ticket | None,
    conversation: Conversation | None,
    slots: dict[str, Any],
    product: Any,
) -> Asset | None:
    """The customer's unit in the asset registry: the serial the bot collected, else the unit
    whose alarm opened the ticket, else the one unit (of the ticket's product, if known) the
    customer is a contact of."""
    serial = slots.get("serial") or (
        await alarms.serial_of_ticket(session, ticket.id) if ticket is not None else None
    )
    if serial:
        found = await assets.find(session, serial=str(serial))
        if found is not None:
            return found
    if conversation is None:
        return None
    units = await assets.of_contact(
        session, channel=conversation.channel, sender_id=conversation.sender_id
    )
    fitting = [unit for unit in units if not product or unit.product_id == product]
    return fitting[0] if len(fitting) == 1 else None


async def _equipment(
    session: AsyncSession,
    ticket: Ticket | None,
    conversation: Conversation | None,
    product_name: str | None,
) -> Equipment:
    """The unit as the ticket and the bot's slots name it, completed from the asset registry."""
    slots = dict(conversation.slots or {}) if conversation else {}
    product = (ticket.product_id if ticket else None) or slots.get("product")
    unit = await _registered_unit(session, ticket, conversation, slots, product)
    serial = slots.get("serial") or (unit.serial if unit else None)
    site = slots.get("address") or (unit.site_address if unit else None)
    product = product or (unit.product_id if unit else None)
    return Equipment(
        product_id=str(product) if product else None,
        product_name=product_name,
        serial=str(serial) if serial else None,
        site=str(site) if site else None,
        fault_id=ticket.fault_id if ticket else None,
    )


def _same_customer(ticket: Ticket) -> ColumnElement[bool]:
    options: list[ColumnElement[bool]] = []
    if ticket.customer_phone:
        options.append(Ticket.customer_phone == ticket.customer_phone)
    if ticket.customer_email:
        options.append(Ticket.customer_email == ticket.customer_email)
    if ticket.sender_id:
        options.append(and_(Ticket.channel == ticket.channel, Ticket.sender_id == ticket.sender_id))
    return or_(*options) if options else Ticket.id == ticket.id


async def context(
    session: AsyncSession,
    *,
    ticket: Ticket | None,
    conversation: Conversation | None,
    product_name: str | None,
) -> ContextPanel:
    """The customer, the equipment (with the asset registry's serial and site), the customer's
    earlier tickets, the repeat-fault flag (same
    customer and fault, or product without a fault id, within 30 days before) and the due
    times."""
    customer = dict(conversation.customer or {}) if conversation else {}
    earlier: list[PastTicket] = []
    repeat_of: list[str] = []
    if ticket is not None:
        others = await session.scalars(
            select(Ticket)
            .where(_same_customer(ticket), Ticket.id != ticket.id)
            .order_by(Ticket.created_at.desc())
            .limit(EARLIER_TICKETS)
        )
        mine = fault_key(ticket.product_id, ticket.fault_id)
        for other in others:
            earlier.append(
                PastTicket(
                    id=other.public_id,
                    subject=other.subject,
                    status=other.status,
                    created_at=other.created_at,
                    fault_id=other.fault_id,
                    product_id=other.product_id,
                )
            )
            window = ticket.created_at - REPEAT_WITHIN <= other.created_at < ticket.created_at
            if mine and window and fault_key(other.product_id, other.fault_id) == mine:
                repeat_of.append(other.public_id)
    return ContextPanel(
        customer_name=(ticket.customer_name if ticket else None) or customer.get("name"),
        customer_phone=(ticket.customer_phone if ticket else None) or customer.get("phone"),
        customer_tier=(ticket.customer_tier if ticket else None) or customer.get("tier"),
        customer_key=customer_key(
            ticket.customer_phone, ticket.customer_email, ticket.channel, ticket.sender_id
        )
        if ticket
        else None,
        equipment=await _equipment(session, ticket, conversation, product_name),
        earlier_tickets=earlier,
        repeat_fault=bool(repeat_of),
        repeat_of=repeat_of,
        response_due_at=ticket.sla_due_at if ticket else None,
        resolution_due_at=ticket.resolution_due_at if ticket else None,
    )


# --- one conversation or ticket, whole -----------------------------------------------------------


def _pick(tickets: list[Ticket]) -> Ticket | None:
    """The conversation's open ticket, else its latest."""
    open_ones = [t for t in tickets if t.status in OPEN_STATUSES]
    chosen = open_ones or tickets
    return chosen[-1] if chosen else None


async def _target(session: AsyncSession, item_id: str) -> tuple[Ticket | None, Conversation | None]:
    """The ticket and conversation an inbox item (ticket id or conversation id) stands for."""
    if parse_ticket_id(item_id) is not None:
        ticket = await tickets_service.get(session, ticket_id=item_id)
        conversation = (
            await conversations.get(session, conversation_id=ticket.conversation_id)
            if ticket.conversation_id
            else None
        )
        return ticket, conversation
    conversation = await conversations.get(session, conversation_id=item_id)
    if conversation is None:
        raise NotFound(f"no ticket or conversation {item_id}", id=item_id)
    linked = await session.scalars(
        select(Ticket).where(Ticket.conversation_id == conversation.id).order_by(Ticket.id)
    )
    return _pick(list(linked)), conversation


async def open_item(
    session: AsyncSession, *, item_id: str, actor: str, product_names: dict[str, str]
) -> Workspace:
    """An inbox item as the workspace shows it (and read up to now by `actor`)."""
    ticket, conversation = await _target(session, item_id)
    read = (
        await read_conversation(session, conversation_id=conversation.id) if conversation else None
    )
    if conversation is not None:
        await mark_read(session, actor=actor, conversation_id=conversation.id)
    said = (
        await transcript(session, conversation=conversation)
        if conversation
        else Transcript(lines=[], notes=[])
    )
    if conversation is None and ticket is not None:
        notes = await session.scalars(
            select(AgentNote).where(AgentNote.ticket_id == ticket.id).order_by(AgentNote.id)
        )
        said.notes = [NoteRead(author=n.author, text=n.text, at=n.at) for n in notes]
    product = ticket.product_id if ticket else None
    return Workspace(
        conversation=read,
        summary=ticket.description if ticket else None,
        transcript=said,
        ticket=TicketRead.of(ticket) if ticket else None,
        context=await context(
            session,
            ticket=ticket,
            conversation=conversation,
            product_name=product_names.get(product or ""),
        ),
    )


async def note_on(
    session: AsyncSession, *, item_id: str, actor: str, author: str, text: str
) -> NoteRead:
    """An internal note on an inbox item (its conversation and its ticket)."""
    ticket, conversation = await _target(session, item_id)
    return await add_note(
        session,
        conversation_id=conversation.id if conversation else None,
        ticket_id=ticket.id if ticket else None,
        actor=actor,
        author=author,
        text=text,
    )


async def latest_customer_text(session: AsyncSession, *, item_id: str) -> tuple[str, str]:
    """The customer's latest words on an inbox item and their language (`zh`/`en`): the last
    customer line, else the ticket's subject."""
    ticket, conversation = await _target(session, item_id)
    lang = text_lang(conversation.lang if conversation else ticket.lang if ticket else None)
    lang = "en" if lang == "en" else "zh"
    if conversation is not None:
        last = await session.scalar(
            select(ConversationMessage.text)
            .where(
                ConversationMessage.conversation_id == conversation.id,
                ConversationMessage.direction == "in",
            )
            .order_by(ConversationMessage.id.desc())
            .limit(1)
        )
        if last:
            return last, lang
    return (ticket.subject if ticket else ""), lang


def canned_replies(lang: str) -> list[CannedReply]:
    """The bundled canned replies in `lang` (zh or en)."""
    return [
        CannedReply(id=item["id"], title=item["title"][lang], text=item["text"][lang])
        for item in _canned()
    ]


@lru_cache(maxsize=1)
def _canned() -> list[dict[str, Any]]:
    raw = resources.files("intake_api.agents").joinpath("data/canned.yml").read_text("utf-8")
    return list(yaml.safe_load(raw))


async def change_priority(
    session: AsyncSession, *, ticket_id: str, data: PriorityChange, actor: str
) -> tuple[Ticket, TicketEvent]:
    """Set the ticket's priority (its event says who and why; streamed, audited, delivered)."""
    ticket = await tickets_service.get(session, ticket_id=ticket_id)
    if ticket.status not in OPEN_STATUSES:
        raise Conflict(
            f"ticket {ticket.public_id} is {ticket.status}; only open tickets change priority",
            id=ticket.public_id,
            status=ticket.status,
        )
    note = data.note or f"priority {ticket.priority} → {data.priority}"
    return await tickets_service.escalate(
        session, ticket_id=ticket.public_id, priority=data.priority, note=note, actor=actor
    )


async def equipment(session: AsyncSession, *, limit: int) -> EquipmentPanel:
    """The Equipment panel, from the alarm queries of `GET /v1/alarms?status=unmatched` and
    `GET /v1/alarms/incidents?status=open`: agents see what no ticket carries yet."""
    page = PageRequest(limit=limit, offset=0, column=Alarm.last_seen_at, descending=True)
    rows, total = await alarms.get_all(session, status="unmatched", page=page)
    found = await alarms.incidents(session, status="open", limit=limit)
    return EquipmentPanel(
        unmatched=[AlarmRead.of(row) for row in rows],
        unmatched_total=total,
        incidents=[IncidentRead.of(incident, children) for incident, children in found],
    )


async def high_water(session: AsyncSession) -> tuple[int, int, int]:
    """The newest conversation line, ticket event and note: a change in any moves the inbox."""
    row = (
        await session.execute(
            select(
                select(func.max(ConversationMessage.id)).scalar_subquery(),
                select(func.max(TicketEvent.id)).scalar_subquery(),
                select(func.max(AgentNote.id)).scalar_subquery(),
            )
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)
