"""One phone call end to end: stored first under its `call_id`, the customer's turns understood
together by the bot (the same store-first path as `POST /v1/messages`), and the outcome made
final, because a call cannot answer the bot's follow-up questions:

- the bot answered from the knowledge base, reported a status or made small talk: the call is
  an answered conversation;
- the bot made a ticket (hand-over, complaint): that ticket;
- anything else (a repair, installation or maintenance request whose form it began to fill, a
  fault it could not answer, a question it could not place, or a fault it answered while the
  customer says in the call that the fix did not help): a ticket with every detail the customer
  gave anywhere in the call (model, code, address, phone, urgency, serial).

The conversation is closed when the call is done, and the call row keeps the transcript with
the conversation and ticket it made. A second delivery of a `call_id` gets the first answer.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue import conversations
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.language import detect_voice
from bot.dialogue.models import Conversation
from bot.dialogue.ports import TicketRequest
from bot.dialogue.prompts import fold
from bot.dialogue.slots import SLOT_ORDER, UNKNOWN, SlotReader, read_phone
from bot.dialogue.state import DialogueState
from channels.base import answer
from channels.phone import service
from channels.phone.transcripts import CUSTOMER, Transcript
from core.database import unit_of_work
from core.errors import Conflict, ServiceError
from core.messages import MAX_TEXT_CHARS, InboundMessage
from intake_api.events.stream import publish_committed
from intake_api.messages.desk import BotTicketDesk, pending_events

CHANNEL = "phone"
# What the bot did that leaves the customer's request open when the call has ended.
UNFINISHED = frozenset({"collect", "clarify", "fallback"})
DUPLICATE_WAIT_SECONDS = 30.0
MAX_DESCRIPTION_CHARS = 19_000
_CJK = re.compile(r"[\u4e00-\u9fff]")
MAX_SENDER_CHARS = 190  # a sender id is at most 200 characters


class Busy(ServiceError):
    """The call could not be stored or understood now; sending it again is safe."""

    status_code = 503
    code = "busy"


def sender_of(transcript: Transcript) -> str:
    """The caller's number (so their calls share their ticket lookups), else the caller's name
    as the call system gave it, else the call itself."""
    phone = read_phone(transcript.caller or "")
    if phone:
        return f"tel:{phone}"
    if transcript.caller:
        return f"caller:{transcript.caller[:MAX_SENDER_CHARS]}"
    return f"call:{transcript.call_id[:MAX_SENDER_CHARS]}"


@dataclass
class _Outcome:
    action: str
    replies: list[dict[str, str]]
    ticket: dict[str, Any] | None
    slots: dict[str, str]


class CallDesk:
    """Turns transcripts into tickets or answered conversations."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.sessions = app.state.sessions

    @property
    def dialogue(self) -> DialogueEngine:
        return self.app.state.messages.dialogue

    async def receive(self, transcript: Transcript) -> dict[str, Any]:
        """The answer for this call: made now, or the stored one for a repeated `call_id`."""
        call_pk = await self._store(transcript)
        if call_pk is None:
            return await self._replay(transcript.call_id)
        try:
            return await self._understand(call_pk, transcript)
        except BaseException as exc:
            async with unit_of_work(self.sessions) as session:
                await service.delete(session, call_pk=call_pk)  # a retry starts afresh
            if isinstance(exc, OperationalError):
                raise Busy("the database is busy; send the call again shortly") from exc
            raise

    async def _store(self, transcript: Transcript) -> int | None:
        try:
            async with unit_of_work(self.sessions) as session:
                call = service.create(session, transcript=transcript)
                await session.flush()
                return call.id
        except IntegrityError:
            return None

    async def _replay(self, call_id: str) -> dict[str, Any]:
        """The first delivery's answer, waiting while it is still being made."""
        waited, pause = 0.0, 0.02
        while waited < DUPLICATE_WAIT_SECONDS:
            async with self.sessions() as session:
                call = await service.get(session, call_id=call_id)
            if call is not None and call.response is not None:
                return {**call.response, "duplicate": True}
            if call is None:  # the first delivery failed and was forgotten
                break
            await asyncio.sleep(pause)
            waited, pause = waited + pause, min(pause * 2, 0.5)
        raise Conflict("this call_id is being handled or failed; retry shortly", call_id=call_id)

    async def _understand(self, call_pk: int, transcript: Transcript) -> dict[str, Any]:
        text = transcript.customer_text()[:MAX_TEXT_CHARS]
        phone = read_phone(transcript.caller or "")
        inbound = InboundMessage(
            channel=CHANNEL,
            sender_id=sender_of(transcript),
            message_id=transcript.call_id,
            text=text,
            customer={"phone": phone} if phone else None,
        )
        response = (await answer(self.app, inbound)).model_dump(mode="json")
        async with unit_of_work(self.sessions) as session:
            conversation_id = str(response.get("conversation_id") or "")
            conversation = (
                await session.get(Conversation, conversation_id) if conversation_id else None
            )
            outcome = await self._conclude(session, conversation, transcript, response, text)
            if conversation is not None and conversation.live_key is not None:
                _close(session, conversation, outcome, response)
            body = _answer_body(transcript, response, outcome)
            await service.mark_answered(
                session,
                call_pk=call_pk,
                conversation_id=conversation_id,
                ticket_id=outcome.ticket["id"] if outcome.ticket else None,
                response=body,
            )
            events = list(pending_events(session))
        if events:
            await publish_committed(self.app, events)
        return body

    async def _conclude(
        self,
        session: AsyncSession,
        conversation: Conversation | None,
        transcript: Transcript,
        response: dict[str, Any],
        text: str,
    ) -> _Outcome:
        """What the call made: the bot's own outcome, or a ticket for a request left open."""
        lang = str(response.get("lang") or "zh")
        slots = self._slots(conversation, response, text, lang)
        replies = list(response.get("replies") or [])
        action, ticket = str(response["action"]), response.get("ticket")
        state = DialogueState.from_json(conversation.state if conversation else None)
        unresolved = action == "answer" and self._still_broken(transcript)
        if ticket is not None or (action not in UNFINISHED and not unresolved):
            return _Outcome(action, replies, ticket, slots)
        if unresolved:  # the answered fault is the one the ticket is about
            _take_answered_fault(state, slots)
        request = self._ticket_request(transcript, response, state, slots, conversation, lang)
        ticket = await BotTicketDesk(self.app.state.sla_policy).create(session, request)
        reply = self.dialogue.texts.say(
            "ticket_created",
            detect_voice(text, lang, None),
            ticket_id=ticket["id"],
            priority=ticket.get("priority", ""),
            due=_due(ticket),
        )
        return _Outcome("ticket", [{"text": reply}], ticket, slots)  # not the bot's questions

    def _still_broken(self, transcript: Transcript) -> bool:
        """A later customer turn says the fix did not help ("还是不行", "still broken")."""
        texts = self.dialogue.texts
        phrases = [fold(str(p)) for group in texts.cues["no"].values() for p in group]
        telling = [p for p in phrases if len(p) >= 3 and (_CJK.search(p) or " " in p or "'" in p)]
        turns = [s.text for s in transcript.segments if s.speaker == CUSTOMER]
        if any(_says(fold(turn), phrase) for turn in turns for phrase in telling):
            return True
        return any(texts.starts_with_cue("no", turn) for turn in turns[1:])  # "No, ..." later

    def _reader(self, lang: str) -> SlotReader:
        knowledge = self.dialogue.knowledge
        return SlotReader(
            self.dialogue.texts,
            lambda text: sorted(knowledge.mentions(text).products),
            knowledge.product_names(lang),
        )

    def _slots(
        self,
        conversation: Conversation | None,
        response: dict[str, Any],
        text: str,
        lang: str,
    ) -> dict[str, str]:
        """The request's details from the whole call: what the bot read, then what the slot
        readers find anywhere in the customer's turns."""
        entities = {e["type"]: e["value"] for e in response.get("entities") or []}
        found = self._reader(lang).from_message(text, entities)
        from_bot = dict(conversation.slots) if conversation is not None else {}
        merged = {**found, **{k: v for k, v in from_bot.items() if v and v != UNKNOWN}}
        return {key: str(value) for key, value in merged.items()}

    def _ticket_request(
        self,
        transcript: Transcript,
        response: dict[str, Any],
        state: DialogueState,
        slots: dict[str, str],
        conversation: Conversation | None,
        lang: str,
    ) -> TicketRequest:
        texts = self.dialogue.texts
        intent = str((response.get("intent") or {}).get("name") or "")
        customer_turns = [s.text for s in transcript.segments if s.speaker == CUSTOMER]
        symptom = max(customer_turns, key=len)  # the turn that describes the problem, mostly
        slots = {**slots, "symptom": symptom}
        product = slots.get("product")
        name = self._reader(lang).product_name(product) if product else ""
        summary = "\n".join(
            f"{texts.label(slot, lang)}: {self._slot_text(slot, slots[slot], lang)}"
            for slot in SLOT_ORDER
            if slots.get(slot)
        )
        description = f"{summary}\n\n{transcript.as_lines()}".strip()[:MAX_DESCRIPTION_CHARS]
        customer = {
            "channel": CHANNEL,
            "sender_id": sender_of(transcript),
            "conversation_id": conversation.id if conversation is not None else None,
            "lang": lang,
            "phone": slots.get("phone") or read_phone(transcript.caller or ""),
        }
        return TicketRequest(
            subject=(f"{name}: {symptom}" if name else symptom)[:200],
            description=description,
            category=state.request.get("category")
            or texts.visit_category(intent, "\n".join(customer_turns)),
            customer=customer,
            product_id=product,
            fault_id=state.request.get("fault_id"),
            urgency=slots.get("urgency"),
            details=slots,
        )

    def _slot_text(self, slot: str, value: str, lang: str) -> str:
        if slot == "product":
            return self._reader(lang).product_name(value)
        if slot == "urgency":
            return self.dialogue.texts.urgency_label(value, lang)
        return value


def _says(text: str, phrase: str) -> bool:
    if _CJK.search(phrase):
        return phrase in text
    return re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", text) is not None


def _take_answered_fault(state: DialogueState, slots: dict[str, str]) -> None:
    """The fault the bot answered with, and its model when it has only one, for the ticket."""
    answered = state.candidates[0] if state.candidates else {}
    if answered.get("type") == "fault":
        state.request["fault_id"] = answered["id"]
        products = answered.get("products") or []
        if len(products) == 1:
            slots.setdefault("product", products[0])


def _close(
    session: AsyncSession,
    conversation: Conversation,
    outcome: _Outcome,
    response: dict[str, Any],
) -> None:
    """The call is over: its conversation keeps what the caller was told, and is closed."""
    if outcome.replies != response["replies"]:
        for reply in outcome.replies:
            conversations.log(
                session, conversation, direction="out", text=reply["text"], action=outcome.action
            )
    conversations.close(conversation)


def _answer_body(
    transcript: Transcript, response: dict[str, Any], outcome: _Outcome
) -> dict[str, Any]:
    """The answer to `POST /v1/transcripts` (stored too, for a repeat of the call)."""
    return {
        "call_id": transcript.call_id,
        "conversation_id": str(response.get("conversation_id") or ""),
        "action": outcome.action,
        "ticket": outcome.ticket,
        "replies": outcome.replies,
        "intent": response.get("intent"),
        "entities": _entities(response.get("entities") or [], outcome.slots),
        "kb_hits": response.get("kb_hits") or [],
        "format": transcript.format,
        "segments": len(transcript.segments),
    }


def _entities(entities: list[dict[str, str]], slots: dict[str, str]) -> list[dict[str, str]]:
    """The bot's entities, and the request details read across the call's turns."""
    found = list(entities)
    for kind, value in slots.items():
        if kind != "symptom" and not any(e["type"] == kind and e["value"] == value for e in found):
            found.append({"type": kind, "value": value})
    return found


def _due(ticket: dict[str, Any]) -> str:
    """When the first response is due, as `YYYY-MM-DD HH:MM UTC`."""
    text = str(ticket.get("sla_due_at") or "")
    return f"{text[:16].replace('T', ' ')} UTC" if text else ""
