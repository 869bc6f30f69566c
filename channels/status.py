"""Ticket status as customers read it on their channel: the notice of a change, and the list of
their open tickets (Telegram `/status`), in their language."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue.models import Conversation
from bot.dialogue.state import DialogueState
from channels.texts import ChannelTexts, text_lang
from intake_api.messages.desk import BotTicketDesk
from intake_api.tickets.models import Ticket
from intake_api.triage import SlaPolicy


async def customer_lang(session: AsyncSession, ticket: Ticket) -> str:
    """The language the customer writes in: the ticket's, in Traditional script when the
    customer's conversation is written in it."""
    lang = text_lang(ticket.lang)
    if lang != "zh" or not ticket.conversation_id:
        return lang
    conversation = await session.get(Conversation, ticket.conversation_id)
    voice = DialogueState.from_json(conversation.state).last_voice() if conversation else None
    return "zh-Hant" if voice is not None and voice.traditional else lang


def change_notice(texts: ChannelTexts, ticket: Ticket, event: dict[str, Any], lang: str) -> str:
    """ "Your ticket T-000012 (subject) is now: in progress." and the note, if any."""
    text = texts.say(
        "status_changed",
        lang,
        ticket_id=ticket.public_id,
        subject=ticket.subject,
        status=texts.status_label(str(event["status"]), lang),
    )
    if event.get("note"):
        text += "\n" + texts.say("status_note", lang, note=event["note"])
    return text


async def open_tickets_text(
    session: AsyncSession,
    *,
    texts: ChannelTexts,
    policy: SlaPolicy,
    channel: str,
    sender_id: str,
    lang: str,
) -> str:
    """The customer's unfinished tickets on this channel, one line each, newest first."""
    customer = {"channel": channel, "sender_id": sender_id}
    tickets = await BotTicketDesk(policy).open_for(session, customer)
    if not tickets:
        return texts.say("status_none", lang)
    lines = [
        texts.say(
            "status_line",
            lang,
            ticket_id=t["id"],
            subject=t["subject"],
            status=texts.status_label(str(t["status"]), lang),
        )
        for t in tickets
    ]
    return "\n".join([texts.say("status_list", lang, count=len(tickets)), *lines])
