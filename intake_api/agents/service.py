"""Agent operations over a session; the caller owns the transaction (one per request).

Ticket changes go through the tickets service (event, audit and outbox rows); what agents add of
their own (claims, first responses, activity, the CSAT survey row) is written beside them in the
same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue import conversations
from bot.dialogue.models import CONVERSATION_HANDOFF, CONVERSATION_OPEN, Conversation
from bot.dialogue.state import DialogueState
from bot.triage.policy import PRIORITIES
from channels.texts import channel_texts, text_lang
from core.channels import AGENT_ACTION  # history lines an agent wrote (name in `author`)
from core.columns import utcnow
from core.errors import Conflict, NotFound
from intake_api.agents.models import (
    AgentActivity,
    AgentClaim,
    ClaimRead,
    ConversationRead,
    Escalation,
    FirstResponse,
    HistoryLine,
    QueueItem,
)
from intake_api.audit import service as audit
from intake_api.channel_ports.conversations import NOTICE_ACTION
from intake_api.kpis.facts import store_waits
from intake_api.tickets import service as tickets
from intake_api.tickets.models import (
    NEEDS_PERSON_STATUSES,
    OPEN_STATUSES,
    Ticket,
    TicketEvent,
    TicketRead,
    TicketStatus,
    TicketUpdate,
    parse_ticket_id,
)

# A handed-off conversation without an open ticket waits in the queue at this priority.
CONVERSATION_PRIORITY = "P3"
API_KEY_ACTOR = "apikey:"  # an API key's actor: `apikey:<id>:<name>`


@dataclass
class Outcome:
    """What a unit of work changed that must be published after it commits."""

    events: list[TicketEvent] = field(default_factory=list)

    def add(self, event: TicketEvent | None) -> None:
        if event is not None:
            self.events.append(event)


# --- the queue ---------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class _Place:
    """Where an item stands in the queue: priority rank, due time, then its id."""

    priority: int
    due_at: datetime
    kind: str
    key: str


def _priority_rank(priority: str) -> int:
    return PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)


async def _places(session: AsyncSession) -> tuple[list[_Place], set[str]]:
    """Every queue item ranked, read from a few light columns; and the handed-off
    conversation ids."""
    waiting = await session.execute(
        select(
            Ticket.id,
            Ticket.priority,
            Ticket.sla_due_at,
            Ticket.resolution_due_at,
            Ticket.conversation_id,
            FirstResponse.at,
        )
        .outerjoin(FirstResponse, FirstResponse.ticket_id == Ticket.id)
        .where(Ticket.status.in_(NEEDS_PERSON_STATUSES))
    )
    places, with_ticket = [], set()
    for number, priority, response_due, resolution_due, conversation_id, answered in waiting:
        due = resolution_due if answered else response_due
        places.append(_Place(_priority_rank(priority), due, "ticket", str(number)))
        with_ticket.add(conversation_id)
    handoffs = await session.execute(
        select(Conversation.id, Conversation.updated_at).where(
            Conversation.status == CONVERSATION_HANDOFF
        )
    )
    handed_off = set()
    for conversation_id, updated_at in handoffs:
        handed_off.add(conversation_id)
        if conversation_id not in with_ticket:
            rank = _priority_rank(CONVERSATION_PRIORITY)
            places.append(_Place(rank, updated_at, "conversation", conversation_id))
    return sorted(places), handed_off


_TicketRow = TypeVar("_TicketRow", FirstResponse, Escalation)


async def _by_ticket(
    session: AsyncSession, model: type[_TicketRow], ids: Sequence[int]
) -> dict[int, list[_TicketRow]]:
    rows: dict[int, list[_TicketRow]] = {}
    if ids:
        for row in await session.scalars(select(model).where(model.ticket_id.in_(ids))):
            rows.setdefault(row.ticket_id, []).append(row)
    return rows


async def _claims(session: AsyncSession, item_ids: Iterable[str]) -> dict[str, AgentClaim]:
    ids = list(item_ids)
    if not ids:
        return {}
    rows = await session.scalars(select(AgentClaim).where(AgentClaim.item_id.in_(ids)))
    return {row.item_id: row for row in rows}


def _ticket_item(
    ticket: Ticket,
    *,
    now: datetime,
    first_response: FirstResponse | None,
    rules: list[str],
    handoff: bool,
    claim: AgentClaim | None,
) -> QueueItem:
    answered_at = first_response.at if first_response else None
    response_breached = (answered_at or now) > ticket.sla_due_at
    return QueueItem(
        id=ticket.public_id,
        kind="ticket",
        priority=ticket.priority,
        due_at=ticket.resolution_due_at if answered_at else ticket.sla_due_at,
        response_breached=response_breached,
        resolution_breached=now > ticket.resolution_due_at,
        escalated=bool(rules),
        escalation_rules=rules,
        handoff=handoff,
        claimed_by=claim.agent if claim else ticket.assignee,
        conversation_id=ticket.conversation_id,
        channel=ticket.channel,
        subject=ticket.subject,
        status=ticket.status,
        first_response_at=answered_at,
        ticket=TicketRead.of(ticket),
    )


def _conversation_item(conversation: Conversation, claim: AgentClaim | None) -> QueueItem:
    return QueueItem(
        id=conversation.id,
        kind="conversation",
        priority=CONVERSATION_PRIORITY,
        due_at=conversation.updated_at,
        response_breached=False,
        resolution_breached=False,
        escalated=False,
        escalation_rules=[],
        handoff=True,
        claimed_by=claim.agent if claim else None,
        conversation_id=conversation.id,
        channel=conversation.channel,
        subject=str(conversation.customer.get("name") or conversation.sender_id),
        status=conversation.status,
        first_response_at=None,
        ticket=None,
    )


async def queue(session: AsyncSession, *, now: datetime, limit: int) -> tuple[list[QueueItem], int]:
    """The `limit` most urgent items (open tickets needing a person, handed-off conversations
    without one), by priority then next SLA due time; and how many wait in all."""
    places, handed_off = await _places(session)
    top = places[:limit]
    numbers = [int(place.key) for place in top if place.kind == "ticket"]
    conversation_ids = [place.key for place in top if place.kind == "conversation"]
    tickets_by_number = (
        {
            ticket.id: ticket
            for ticket in await session.scalars(select(Ticket).where(Ticket.id.in_(numbers)))
        }
        if numbers
        else {}
    )
    conversations_by_id = (
        {
            conversation.id: conversation
            for conversation in await session.scalars(
                select(Conversation).where(Conversation.id.in_(conversation_ids))
            )
        }
        if conversation_ids
        else {}
    )
    firsts = await _by_ticket(session, FirstResponse, numbers)
    escalations = await _by_ticket(session, Escalation, numbers)
    claims = await _claims(
        session,
        [tickets_by_number[n].public_id for n in numbers] + conversation_ids,
    )
    items = []
    for place in top:
        if place.kind == "conversation":
            items.append(_conversation_item(conversations_by_id[place.key], claims.get(place.key)))
            continue
        ticket = tickets_by_number[int(place.key)]
        items.append(
            _ticket_item(
                ticket,
                now=now,
                first_response=next(iter(firsts.get(ticket.id, [])), None),
                rules=[row.rule for row in escalations.get(ticket.id, [])],
                handoff=ticket.conversation_id in handed_off,
                claim=claims.get(ticket.public_id),
            )
        )
    return items, len(places)


# --- claims ------------------------------------------------------------------------------------


def _claimed_elsewhere(item_id: str, holder: str) -> Conflict:
    return Conflict(f"{item_id} is claimed by {holder}", id=item_id, claimed_by=holder)


async def _check_not_claimed_by_other(
    session: AsyncSession, *, item_ids: Iterable[str], agent: str
) -> None:
    for claim in (await _claims(session, item_ids)).values():
        if claim.agent != agent:
            raise _claimed_elsewhere(claim.item_id, claim.agent)


async def _take(session: AsyncSession, *, item_id: str, agent: str) -> AgentClaim:
    """The agent's claim on `item_id`, new or kept; 409 when another agent holds it (a
    concurrent claim loses on the primary key)."""
    existing = await session.get(AgentClaim, item_id)
    if existing is not None:
        if existing.agent != agent:
            raise _claimed_elsewhere(item_id, existing.agent)
        return existing
    claim = AgentClaim(item_id=item_id, agent=agent, claimed_at=utcnow())
    try:
        async with session.begin_nested():
            session.add(claim)
    except IntegrityError:
        holder = await session.get(AgentClaim, item_id, populate_existing=True)
        raise _claimed_elsewhere(item_id, holder.agent if holder else "another agent") from None
    return claim


def _log(
    session: AsyncSession,
    *,
    agent: str,
    kind: str,
    conversation_id: str | None = None,
    ticket_id: int | None = None,
) -> None:
    session.add(
        AgentActivity(
            agent=agent,
            kind=kind,
            conversation_id=conversation_id,
            ticket_id=ticket_id,
            at=utcnow(),
        )
    )


async def _claim_ticket(
    session: AsyncSession, *, ticket: Ticket, agent: str, outcome: Outcome
) -> ClaimRead:
    if ticket.status not in OPEN_STATUSES:
        raise Conflict(
            f"ticket {ticket.public_id} is {ticket.status}; only open tickets can be claimed",
            id=ticket.public_id,
            status=ticket.status,
        )
    if ticket.assignee and ticket.assignee != agent:
        raise _claimed_elsewhere(ticket.public_id, ticket.assignee)
    claim = await _take(session, item_id=ticket.public_id, agent=agent)
    moves = TicketStatus.ASSIGNED if ticket.status in ("new", "triaged") else None
    if moves or ticket.assignee != agent:
        ticket, event = await tickets.update_ticket(
            session,
            ticket_id=ticket.public_id,
            data=TicketUpdate(status=moves, assignee=agent),
            actor=agent,
        )
        outcome.add(event)
    _log(session, agent=agent, kind="claim", ticket_id=ticket.id)
    return ClaimRead(
        id=ticket.public_id,
        claimed_by=claim.agent,
        claimed_at=claim.claimed_at,
        ticket=TicketRead.of(ticket),
    )


async def _conversation(session: AsyncSession, conversation_id: str) -> Conversation:
    conversation = await conversations.get(session, conversation_id=conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found", id=conversation_id)
    return conversation


async def claim(session: AsyncSession, *, item_id: str, agent: str, outcome: Outcome) -> ClaimRead:
    """Give a queue item (ticket or handed-off conversation) to `agent`; 409 if another agent
    has it."""
    if parse_ticket_id(item_id) is not None:
        ticket = await tickets.get(session, ticket_id=item_id)
        return await _claim_ticket(session, ticket=ticket, agent=agent, outcome=outcome)
    conversation = await _conversation(session, item_id)
    if conversation.status != CONVERSATION_HANDOFF:
        raise Conflict(
            f"conversation {item_id} is {conversation.status}, not waiting for a person",
            id=item_id,
            status=conversation.status,
        )
    taken = await _take(session, item_id=conversation.id, agent=agent)
    _log(session, agent=agent, kind="claim", conversation_id=conversation.id)
    await audit.record(
        session,
        actor=agent,
        action="conversation.claimed",
        entity="conversation",
        entity_id=conversation.id,
    )
    return ClaimRead(
        id=conversation.id, claimed_by=taken.agent, claimed_at=taken.claimed_at, ticket=None
    )


# --- conversations -----------------------------------------------------------------------------


async def _open_tickets_of(session: AsyncSession, conversation_id: str) -> list[Ticket]:
    rows = await session.scalars(
        select(Ticket)
        .where(Ticket.conversation_id == conversation_id, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.id)
    )
    return list(rows)


async def read_conversation(session: AsyncSession, *, conversation_id: str) -> ConversationRead:
    """A conversation with its history and tickets, for the agent reading it."""
    conversation = await _conversation(session, conversation_id)
    lines = await conversations.history(session, conversation_id=conversation.id)
    linked = await session.scalars(
        select(Ticket).where(Ticket.conversation_id == conversation.id).order_by(Ticket.id)
    )
    return ConversationRead(
        id=conversation.id,
        channel=conversation.channel,
        sender_id=conversation.sender_id,
        status=conversation.status,
        lang=conversation.lang,
        customer=dict(conversation.customer or {}),
        messages=[
            HistoryLine(
                direction=line.direction,
                text=line.text,
                action=line.action,
                author=line.author,
                at=line.created_at,
            )
            for line in lines
        ],
        tickets=[TicketRead.of(ticket) for ticket in linked],
    )


async def _mark_first_response(
    session: AsyncSession, *, ticket: Ticket, agent: str, at: datetime
) -> bool:
    """Stop the ticket's response clock, once, storing the wait since the hand-off that the
    KPIs read; False when a person answered before."""
    if await session.get(FirstResponse, ticket.id) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(FirstResponse(ticket_id=ticket.id, agent=agent, at=at))
    except IntegrityError:
        return False
    await session.execute(store_waits(ticket.id), execution_options={"synchronize_session": False})
    return True


@dataclass(frozen=True)
class Recipient:
    """Where a reply goes once the transaction that recorded it has committed, and in which
    language of the channels' texts (`zh`, `zh-Hant`, `en`)."""

    channel: str
    sender_id: str
    lang: str = "zh"


def customer_lang(conversation: Conversation) -> str:
    """The conversation's language as the channels' texts name it, in Traditional script when
    the customer writes in it."""
    lang = text_lang(conversation.lang)
    if lang != "zh":
        return lang
    voice = DialogueState.from_json(conversation.state).last_voice()
    return "zh-Hant" if voice is not None and voice.traditional else lang


def _recipient(conversation: Conversation) -> Recipient:
    return Recipient(conversation.channel, conversation.sender_id, customer_lang(conversation))


def agent_name(agent: str, lang: str, name: str | None = None) -> str:
    """The name an agent's words go under: a signed-in agent's display name (`name`), else their
    API key's name, else (the operator's key) the channels' word for an agent in `lang`."""
    if name:
        return name
    if agent.startswith(API_KEY_ACTOR):
        name = agent[len(API_KEY_ACTOR) :].partition(":")[2].strip()
        if name:
            return name
    return channel_texts().say("agent_default_name", lang)


async def record_reply(
    session: AsyncSession,
    *,
    conversation_id: str,
    agent: str,
    text: str,
    channel_logs: Callable[[str], bool],
    name: str | None = None,
) -> tuple[Recipient, list[str]]:
    """Record an agent's reply (history, under the agent's name — `name`, a signed-in agent's
    display name, else their key's — unless the channel logs what it sends, first response of
    the open tickets, activity); the recipient and the tickets it first-answered."""
    conversation = await _conversation(session, conversation_id)
    open_tickets = await _open_tickets_of(session, conversation.id)
    await _check_not_claimed_by_other(
        session, item_ids=[conversation.id, *(t.public_id for t in open_tickets)], agent=agent
    )
    now = utcnow()
    recipient = _recipient(conversation)
    if not channel_logs(conversation.channel):
        conversations.log(
            session,
            conversation,
            direction="out",
            text=text,
            action=AGENT_ACTION,
            author=agent_name(agent, recipient.lang, name),
        )
    first_for = [
        ticket.public_id
        for ticket in open_tickets
        if await _mark_first_response(session, ticket=ticket, agent=agent, at=now)
    ]
    _log(session, agent=agent, kind="reply", conversation_id=conversation.id)
    await audit.record(
        session,
        actor=agent,
        action="conversation.agent_reply",
        entity="conversation",
        entity_id=conversation.id,
        changes={"text": text, "first_response_for": first_for},
    )
    return recipient, first_for


def _back_to_bot(conversation: Conversation) -> None:
    state = DialogueState.from_json(conversation.state)
    state.reset()
    conversation.state = state.to_json()
    conversation.status = CONVERSATION_OPEN
    conversation.updated_at = utcnow()


@dataclass(frozen=True)
class Handback:
    """A conversation given back to the bot, and the notice its customer gets once committed."""

    conversation: ConversationRead
    recipient: Recipient
    notice: str


async def handback(
    session: AsyncSession,
    *,
    conversation_id: str,
    agent: str,
    channel_logs: Callable[[str], bool],
) -> Handback:
    """Give a handed-off conversation back to the bot, with a notice for the customer that the
    assistant is back (kept in the history unless the channel logs what it sends); 409 when it
    is not handed off."""
    conversation = await _conversation(session, conversation_id)
    if conversation.status != CONVERSATION_HANDOFF:
        raise Conflict(
            f"conversation {conversation_id} is {conversation.status}, not with a person",
            id=conversation_id,
            status=conversation.status,
        )
    await _check_not_claimed_by_other(session, item_ids=[conversation.id], agent=agent)
    _back_to_bot(conversation)
    recipient = _recipient(conversation)
    notice = channel_texts().say("bot_back", recipient.lang)
    if not channel_logs(conversation.channel):
        conversations.log(session, conversation, direction="out", text=notice, action=NOTICE_ACTION)
    await session.execute(delete(AgentClaim).where(AgentClaim.item_id == conversation.id))
    _log(session, agent=agent, kind="handback", conversation_id=conversation.id)
    await audit.record(
        session,
        actor=agent,
        action="conversation.handback",
        entity="conversation",
        entity_id=conversation.id,
    )
    await session.flush()
    read = await read_conversation(session, conversation_id=conversation.id)
    return Handback(conversation=read, recipient=recipient, notice=notice)


# --- resolution --------------------------------------------------------------------------------


async def resolve(
    session: AsyncSession, *, ticket_id: str, agent: str, note: str, outcome: Outcome
) -> Ticket:
    """Resolve the ticket with a note (a new ticket is assigned to the agent first) and give its
    handed-off conversation back to the bot; the published resolution brings the CSAT survey."""
    ticket = await tickets.get(session, ticket_id=ticket_id)
    await _check_not_claimed_by_other(session, item_ids=[ticket.public_id], agent=agent)
    if ticket.status not in OPEN_STATUSES:
        raise Conflict(
            f"ticket {ticket.public_id} is already {ticket.status}",
            id=ticket.public_id,
            status=ticket.status,
        )
    if ticket.status == TicketStatus.NEW:  # new tickets cannot be resolved before assignment
        ticket, event = await tickets.update_ticket(
            session,
            ticket_id=ticket.public_id,
            data=TicketUpdate(status=TicketStatus.ASSIGNED, assignee=ticket.assignee or agent),
            actor=agent,
        )
        outcome.add(event)
    ticket, event = await tickets.update_ticket(
        session,
        ticket_id=ticket.public_id,
        data=TicketUpdate(
            status=TicketStatus.RESOLVED, note=note, assignee=ticket.assignee or agent
        ),
        actor=agent,
    )
    outcome.add(event)
    if ticket.conversation_id:
        conversation = await conversations.get(session, conversation_id=ticket.conversation_id)
        if conversation is not None and conversation.status == CONVERSATION_HANDOFF:
            _back_to_bot(conversation)
    _log(session, agent=agent, kind="resolve", ticket_id=ticket.id)
    return ticket


# --- counts for monitoring ---------------------------------------------------------------------


async def queue_length(session: AsyncSession) -> int:
    """How many items `queue` lists, counted in the database."""
    waiting = select(Ticket.id).where(Ticket.status.in_(NEEDS_PERSON_STATUSES))
    with_ticket = select(Ticket.conversation_id).where(
        Ticket.status.in_(NEEDS_PERSON_STATUSES), Ticket.conversation_id.is_not(None)
    )
    lonely = select(Conversation.id).where(
        Conversation.status == CONVERSATION_HANDOFF, Conversation.id.not_in(with_ticket)
    )
    tickets_waiting = await session.scalar(select(func.count()).select_from(waiting.subquery()))
    conversations_waiting = await session.scalar(
        select(func.count()).select_from(lonely.subquery())
    )
    return int(tickets_waiting or 0) + int(conversations_waiting or 0)


async def open_breaches(session: AsyncSession, *, now: datetime) -> dict[str, int]:
    """Open tickets past their response due time without a person's answer, and past their
    resolution due time."""
    unanswered = select(FirstResponse.ticket_id)
    response = await session.scalar(
        select(func.count(Ticket.id)).where(
            Ticket.status.in_(OPEN_STATUSES), Ticket.sla_due_at < now, Ticket.id.not_in(unanswered)
        )
    )
    resolution = await session.scalar(
        select(func.count(Ticket.id)).where(
            Ticket.status.in_(OPEN_STATUSES), Ticket.resolution_due_at < now
        )
    )
    return {"response": int(response or 0), "resolution": int(resolution or 0)}


# --- reassignment --------------------------------------------------------------------------------


async def reassign(
    session: AsyncSession, *, ticket_id: str, assignee: str, actor: str, outcome: Outcome
) -> Ticket:
    """Give the ticket (and its conversation's claim) to `assignee`, from whoever held it; a
    new or triaged ticket becomes assigned."""
    ticket = await tickets.get(session, ticket_id=ticket_id)
    if ticket.status not in OPEN_STATUSES:
        raise Conflict(
            f"ticket {ticket.public_id} is {ticket.status}; only open tickets can be reassigned",
            id=ticket.public_id,
            status=ticket.status,
        )
    held = [ticket.public_id, *([ticket.conversation_id] if ticket.conversation_id else [])]
    await session.execute(delete(AgentClaim).where(AgentClaim.item_id.in_(held)))
    for item_id in held:
        session.add(AgentClaim(item_id=item_id, agent=assignee, claimed_at=utcnow()))
    moves = TicketStatus.ASSIGNED if ticket.status in ("new", "triaged") else None
    ticket, event = await tickets.update_ticket(
        session,
        ticket_id=ticket.public_id,
        data=TicketUpdate(status=moves, assignee=assignee),
        actor=actor,
    )
    outcome.add(event)
    _log(session, agent=actor, kind="assign", ticket_id=ticket.id)
    return ticket
