"""Telling a unit's contacts that their machine raised an alarm, and taking their answer.

`AlarmNotices` runs after the alarm's transaction: for each contact on a channel this process
can send to (`OutboundRegistry`: WeChat, Telegram, web chat) it opens or continues the
contact's conversation, writes the notice into it and leaves the dialogue waiting for the
answer (`core.assets.ALARM_STAGE`, the diagnosis frame filled with the unit's model, code,
serial and site), then sends the notice in the customer's language with the ticket's status
link. The alarm notes when its notice was written (`notified_at`, in the same transaction), so
a notice the service did not get to before it stopped is sent after the restart (`resume`).
`AlarmReplies` is the dialogue's `AlarmFollowUp`: "需要上门" books the visit (the ticket
moves to in progress), "已经处理好了" asks an agent to verify (a note, the ticket triaged).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from bot.dialogue import conversations
from bot.dialogue.frame import Frame
from bot.dialogue.models import Conversation
from bot.dialogue.state import DialogueState
from core.assets import ALARM_STAGE, ALARM_TICKET
from core.channels import OutboundError, OutboundRegistry
from core.columns import utcnow
from core.database import Sessions
from core.logs import get_logger
from intake_api.alarms import service
from intake_api.alarms.diagnosis import product_name
from intake_api.alarms.flows import write_unit
from intake_api.alarms.models import Alarm
from intake_api.assets.models import Asset
from intake_api.messages.desk import pending_events
from intake_api.notifications.status import send_with_retries
from intake_api.tickets import service as tickets
from intake_api.tickets.models import TRANSITIONS, Ticket, TicketStatus, TicketUpdate
from knowledge_base.answers import normalize_lang
from knowledge_base.graph import KnowledgeGraph

log = get_logger(__name__)

QUEUE_SIZE = 10_000
# Workers writing notices, each whatever is queued up to `NOTICE_BATCH` in one transaction,
# then sending them at once (one HTTP call per contact).
NOTICE_WORKERS = 4
NOTICE_BATCH = 50
# Notices one worker sends at once (NOTICE_WORKERS times this in all): more only queue in the
# HTTP client's pool, whose bookkeeping grows with every waiting request, and a chat API
# limits a bot's rate anyway.
SENDERS = 4
WRITE_ATTEMPTS = 3
CONVERSATION_IDLE = timedelta(hours=24)
# After a restart, notices of tickets opened this recently and never written are sent.
RESUME_WITHIN = timedelta(hours=24)
NOTICE = {
    "zh": "【设备报警】您的 {product}（序列号 {serial}）报警 {what}。我们已建立工单 "
    "{ticket_id}，进度：{link}\n需要工程师上门请回复“需要上门”；如果已经处理好了请回复"
    "“已经处理好了”。",
    "zh-Hant": "【設備報警】您的 {product}（序號 {serial}）報警 {what}。我們已建立工單 "
    "{ticket_id}，進度：{link}\n需要工程師上門請回覆「需要上門」；如果已經處理好了請回覆"
    "「已經處理好了」。",
    "en": "Alarm on your {product} (serial {serial}): {what}. We opened ticket "
    '{ticket_id}; follow it here: {link}\nReply "send an engineer" for a visit, or '
    '"already fixed" if it is solved.',
}
REPLIES = {
    "visit": {
        "zh": "好的，已为工单 {ticket_id} 安排工程师上门（{site}），工程师出发前会联系您。",
        "zh-Hant": "好的，已為工單 {ticket_id} 安排工程師上門（{site}），工程師出發前會聯繫您。",
        "en": "Done: an engineer visit is booked on ticket {ticket_id} ({site}); the engineer "
        "will call before coming.",
    },
    "fixed": {
        "zh": "收到，已请客服确认工单 {ticket_id} 的处理结果。",
        "zh-Hant": "收到，已請客服確認工單 {ticket_id} 的處理結果。",
        "en": "Thank you. An agent will verify ticket {ticket_id} and close it.",
    },
}
CUES = {
    "visit": re.compile(r"上门|上門|派人|派工程师|来修|visit|send (an |someone|somebody|a )"),
    "fixed": re.compile(
        r"(已经|已經)?(处理|處理|修|解决|解決)好了|已(解决|解決|修复|修復|处理|處理)|"
        r"\b(already )?(fixed|solved|resolved)\b|works again"
    ),
}
NOTES = {
    "visit": "Customer asks for an on-site visit ({channel}): {text}",
    "fixed": "Customer says it is fixed ({channel}): {text}. Please verify before resolving.",
}
SEPARATOR = {"zh": "：", "zh-Hant": "：", "en": " "}
MOVES = {"visit": TicketStatus.IN_PROGRESS, "fixed": TicketStatus.TRIAGED}


def _lang(lang: str) -> str:
    language = normalize_lang(lang)
    return language if language in NOTICE else "zh"


def status_link(base_url: str | None, ticket: Ticket) -> str:
    path = f"/v1/tickets/{ticket.public_id}/events?token={ticket.status_token}"
    return f"{base_url or ''}{path}"


@dataclass(frozen=True)
class Outgoing:
    """One notice written into a contact's conversation, to send after the commit."""

    alarm_id: str
    channel: str
    recipient: str
    text: str


class AlarmNotices:
    """Queues alarms that opened tickets and tells their units' contacts (never blocking the
    alarm's request): whatever is queued (up to `NOTICE_BATCH`) is written in one transaction,
    then sent at once."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        registry: OutboundRegistry,
        graph: Callable[[], KnowledgeGraph],
        base_url: Callable[[], str | None],
        write_lock: asyncio.Lock | None = None,
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.graph = graph
        self.base_url = base_url
        self.write_lock = write_lock  # SQLite: queue behind this process's other writers
        self._queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)

    async def enqueue(self, alarm: Alarm) -> None:
        try:
            self._queue.put_nowait(alarm.id)
        except asyncio.QueueFull:
            log.warning("alarm notice dropped: queue full", alarm_id=alarm.id)

    async def resume(self, *, within: timedelta = RESUME_WITHIN) -> int:
        """Queue the notices of recent tickets that were never written (the service stopped
        between an alarm's commit and its notice); answers how many."""
        async with self.sessions() as session:
            pending = await session.scalars(
                select(Alarm.id)
                .where(
                    Alarm.ticket_id.is_not(None),
                    Alarm.notified_at.is_(None),
                    Alarm.first_seen_at >= utcnow() - within,
                )
                .order_by(Alarm.first_seen_at)
                .limit(QUEUE_SIZE)
            )
            ids = list(pending)
        for alarm_id in ids:
            self._queue.put_nowait(alarm_id)
        return len(ids)

    async def run(self) -> None:
        """Send queued notices until cancelled (`NOTICE_WORKERS` of these run at once)."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < NOTICE_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self.tell(batch)
            except Exception as exc:  # one bad batch must not stop the others
                log.warning("alarm notices failed", alarm_ids=batch, error=repr(exc))

    async def tell(self, alarm_ids: list[str]) -> int:
        """Write the notices into each reachable contact's conversation, then send them;
        answers how many contacts were told."""
        outgoing = await self._written(alarm_ids)
        waiting = iter(outgoing)

        async def sender() -> None:
            for notice in waiting:  # (one iterator: each notice is taken by one sender)
                await self._send(notice)

        await asyncio.gather(*(sender() for _ in range(min(SENDERS, len(outgoing)))))
        return len(outgoing)

    async def _send(self, notice: Outgoing) -> None:
        channel = self.registry.get(notice.channel)
        if channel is None:
            return
        try:
            await send_with_retries(channel, notice.recipient, notice.text)
        except OutboundError as exc:
            log.warning("alarm notice not delivered", error=str(exc), alarm_id=notice.alarm_id)

    async def _written(self, alarm_ids: list[str]) -> list[Outgoing]:
        """The notices, written into the conversations; again when a notice or message to the
        same contact changed a conversation at the same moment, and one alarm at a time when
        the batch keeps failing (one bad alarm must not hold the others back)."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                async with write_unit(self.sessions, self.write_lock) as session:
                    return await self._prepare(session, alarm_ids)
            except (IntegrityError, StaleDataError):
                if attempt < WRITE_ATTEMPTS:
                    continue
                if len(alarm_ids) == 1:
                    raise
        written: list[Outgoing] = []
        for alarm_id in alarm_ids:
            try:
                written += await self._written([alarm_id])
            except (IntegrityError, StaleDataError) as exc:
                log.warning("alarm notice not written", alarm_id=alarm_id, error=repr(exc))
        return written

    async def _prepare(self, session: AsyncSession, alarm_ids: list[str]) -> list[Outgoing]:
        """The batch's notices not written yet, marked written (`notified_at`), each unit,
        ticket and contacts read in one query per table."""
        alarms = list(
            await session.scalars(
                select(Alarm)
                .where(
                    Alarm.id.in_(alarm_ids),
                    Alarm.ticket_id.is_not(None),
                    Alarm.notified_at.is_(None),
                )
                .order_by(Alarm.serial, Alarm.code)  # the alarm writer's lock order
                .with_for_update()
            )
        )
        units = await service.units(session, {alarm.serial for alarm in alarms})
        ticket_ids = {alarm.ticket_id for alarm in alarms}
        found = await session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)))
        tickets_by_id = {ticket.id: ticket for ticket in found}
        outgoing = []
        opened: dict[tuple[str, str], Conversation] = {}
        with session.no_autoflush:  # the batch's rows go in at the commit, together
            for alarm in alarms:
                alarm.notified_at = utcnow()
                asset, ticket = units.get(alarm.serial), tickets_by_id.get(alarm.ticket_id or 0)
                if asset is None or ticket is None:
                    continue
                text = self._notice(alarm, asset, ticket)
                for contact in asset.contacts:
                    if self.registry.get(contact.channel) is None:
                        continue
                    await self._into_conversation(
                        session,
                        opened,
                        (contact.channel, contact.sender_id),
                        asset,
                        alarm,
                        ticket,
                        text,
                    )
                    outgoing.append(Outgoing(alarm.id, contact.channel, contact.sender_id, text))
        return outgoing

    def _notice(self, alarm: Alarm, asset: Asset, ticket: Ticket) -> str:
        lang = _lang(asset.lang)
        graph = self.graph()
        title = ticket.subject.split(": ", 1)[1] if ": " in ticket.subject else ""
        return NOTICE[lang].format(
            product=product_name(graph, asset.product_id, lang),
            serial=asset.serial,
            what=f"{alarm.code}{SEPARATOR[lang]}{title}" if title else alarm.code,
            ticket_id=ticket.public_id,
            link=status_link(self.base_url(), ticket),
        )

    @staticmethod
    async def _into_conversation(
        session: AsyncSession,
        opened: dict[tuple[str, str], Conversation],
        contact: tuple[str, str],
        asset: Asset,
        alarm: Alarm,
        ticket: Ticket,
        text: str,
    ) -> None:
        """The notice as the service's line of the contact's conversation, which now waits
        for the answer with the unit's facts in its diagnosis frame and form. `opened`: the
        conversations this transaction opened or found (not flushed yet, so not found by a
        query), by (channel, sender id)."""
        channel, sender_id = contact
        customer = {"name": asset.customer_name, "phone": asset.customer_phone}
        conversation = opened.get(contact) or await conversations.open_live(
            session,
            channel=channel,
            sender_id=sender_id,
            lang=asset.lang,
            customer={key: value for key, value in customer.items() if value}
            | {"tier": asset.customer_tier},
            idle_after=CONVERSATION_IDLE,
        )
        opened[contact] = conversation
        conversations.log(session, conversation, direction="out", text=text, action="ticket")
        state = DialogueState.from_json(conversation.state)
        state.reset()
        state.stage = ALARM_STAGE
        state.request = {ALARM_TICKET: ticket.public_id, "fault_id": ticket.fault_id}
        frame = Frame.from_json(state.frame).next_topic()
        frame.products, frame.codes = [asset.product_id], [alarm.code]
        frame.serial, frame.site = asset.serial, asset.site_address
        state.frame = frame.to_json()
        conversation.state = state.to_json()
        slots: dict[str, str | None] = {"product": asset.product_id, "serial": asset.serial}
        slots |= {"address": asset.site_address, "phone": asset.customer_phone}
        conversation.slots = {key: value for key, value in slots.items() if value}
        conversation.updated_at = utcnow()  # the notice is the conversation's latest turn


class AlarmReplies:
    """The dialogue's `AlarmFollowUp` (core.assets): moves the alarm's ticket on the answer;
    its event is published with the message's own after the commit."""

    async def answer(
        self, session: AsyncSession, *, ticket_id: str, text: str, lang: str
    ) -> str | None:
        kind = next((name for name, cue in CUES.items() if cue.search(text.lower())), None)
        if kind is None:
            return None
        ticket = await tickets.get(session, ticket_id=ticket_id)
        target = MOVES[kind]
        moves = target in TRANSITIONS[TicketStatus(ticket.status)]
        note = NOTES[kind].format(channel=ticket.channel or "", text=text.strip()[:500])
        _, event = await tickets.update_ticket(
            session,
            ticket_id=ticket_id,
            data=TicketUpdate(status=target if moves else None, note=note),
            actor="customer",
        )
        if event is not None:
            pending_events(session).append(event)
        site = await session.scalar(
            select(Asset.site_address)
            .join(Alarm, Alarm.serial == Asset.serial)
            .where(Alarm.ticket_id == ticket.id)
        )
        return REPLIES[kind][_lang(lang)].format(ticket_id=ticket_id, site=site or "")
