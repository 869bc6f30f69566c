"""One phone call end to end: stored first under its `call_id`, the customer's turns understood
together by the bot (through the messages desk, as `POST /v1/messages`), and the outcome made
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

import re
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue import conversations
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.language import detect_voice
from bot.dialogue.models import Conversation
from bot.dialogue.ports import TicketRequest
from bot.dialogue.prompts import fold
from bot.dialogue.slots import read_phone
from bot.dialogue.state import DialogueState
from bot.dialogue.tickets import due_text
from channels.phone.transcripts import CUSTOMER, Transcript
from core.database import unit_of_work
from core.errors import Conflict
from core.messages import MAX_TEXT_CHARS, Answer, InboundMessage, Reply
from intake_api.calls import service
from intake_api.calls.models import PhoneCall
from intake_api.messages.desk import pending_events
from intake_api.messages.flows import MessageDesk
from intake_api.storage.once import Busy, first_response, store_first

CHANNEL = "phone"
# What the bot did that leaves the customer's request open when the call has ended.
UNFINISHED = frozenset({"collect", "clarify", "fallback"})
BUSY = "the database is busy; send the call again shortly"
_CJK = re.compile(r"[\u4e00-\u9fff]")
MAX_SENDER_CHARS = 190  # a sender id is at most 200 characters


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
    replies: list[Reply]
    ticket: dict[str, Any] | None
    slots: dict[str, str]


@dataclass
class CallDesk:
    """Turns transcripts into tickets or answered conversations, with the bot and the database
    of the messages desk."""

    messages: MessageDesk

    @property
    def dialogue(self) -> DialogueEngine:
        return self.messages.dialogue

    async def receive(self, transcript: Transcript) -> dict[str, Any]:
        """The answer for this call: made now, or the stored one for a repeated `call_id`."""
        sessions = self.messages.sessions
        call_pk = await store_first(sessions, partial(_add, transcript), busy=BUSY)
        if call_pk is None:
            not_ready = Conflict(
                "this call_id is being handled or failed; retry shortly",
                call_id=transcript.call_id,
            )
            return await first_response(sessions, partial(_find, transcript.call_id), not_ready)
        try:
            return await self._understand(call_pk, transcript)
        except BaseException as exc:
            async with unit_of_work(sessions) as session:
                await service.delete(session, call_pk=call_pk)  # a retry starts afresh
            if isinstance(exc, OperationalError):
                raise Busy(BUSY) from exc
            raise

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
        answer = await self.messages.receive(inbound)
        async with unit_of_work(self.messages.sessions) as session:
            conversation_id = answer.conversation_id
            conversation = (
                await session.get(Conversation, conversation_id) if conversation_id else None
            )
            outcome = await self._conclude(session, conversation, transcript, answer, text)
            if conversation is not None and conversation.live_key is not None:
                _close(session, conversation, outcome, answer)
            body = _answer_body(transcript, answer, outcome)
            await service.mark_answered(
                session,
                call_pk=call_pk,
                conversation_id=conversation_id,
                ticket_id=outcome.ticket["id"] if outcome.ticket else None,
                response=body,
            )
            events = list(pending_events(session))
        if events and self.messages.publish:
            await self.messages.publish(events)
        return body

    async def _conclude(
        self,
        session: AsyncSession,
        conversation: Conversation | None,
        transcript: Transcript,
        answer: Answer,
        text: str,
    ) -> _Outcome:
        """What the call made: the bot's own outcome, or a ticket for a request left open."""
        lang = answer.lang or "zh"
        slots = self._slots(conversation, answer, text, lang)
        action, ticket = answer.action, answer.ticket
        state = DialogueState.from_json(conversation.state if conversation else None)
        unresolved = action == "answer" and self._still_broken(transcript)
        if ticket is not None or (action not in UNFINISHED and not unresolved):
            return _Outcome(action, list(answer.replies), ticket, slots)
        if unresolved:  # the answered fault is the one the ticket is about
            _take_answered_fault(state, slots)
        request = self._ticket_request(transcript, answer, state, slots, conversation, lang)
        ticket = await self.dialogue.tickets.create(session, request)
        reply = self.dialogue.texts.say(
            "ticket_created",
            detect_voice(text, lang, None),
            ticket_id=ticket["id"],
            priority=ticket.get("priority", ""),
            due=due_text(ticket, self.dialogue.customer_zone),
        )
        return _Outcome("ticket", [Reply(text=reply)], ticket, slots)  # not the bot's questions

    def _still_broken(self, transcript: Transcript) -> bool:
        """A later customer turn says the fix did not help ("还是不行", "still broken")."""
        texts = self.dialogue.texts
        phrases = [fold(str(p)) for group in texts.cues["no"].values() for p in group]
        telling = [p for p in phrases if len(p) >= 3 and (_CJK.search(p) or " " in p or "'" in p)]
        turns = [s.text for s in transcript.segments if s.speaker == CUSTOMER]
        if any(_says(fold(turn), phrase) for turn in turns for phrase in telling):
            return True
        return any(texts.starts_with_cue("no", turn) for turn in turns[1:])  # "No, ..." later

    def _slots(
        self, conversation: Conversation | None, answer: Answer, text: str, lang: str
    ) -> dict[str, str]:
        """The request's details from the whole call: what the bot read, then what the slot
        readers find anywhere in the customer's turns."""
        entities = {entity.type: entity.value for entity in answer.entities}
        found = self.dialogue.slot_reader(lang).from_message(text, entities)
        from_bot = dict(conversation.slots) if conversation is not None else {}
        merged = {**found, **{k: v for k, v in from_bot.items() if v}}
        return {key: str(value) for key, value in merged.items()}

    def _ticket_request(
        self,
        transcript: Transcript,
        answer: Answer,
        state: DialogueState,
        slots: dict[str, str],
        conversation: Conversation | None,
        lang: str,
    ) -> TicketRequest:
        """The ticket of the call: the details it gave, then its whole transcript."""
        customer_turns = [s.text for s in transcript.segments if s.speaker == CUSTOMER]
        symptom = max(customer_turns, key=len)  # the turn that describes the problem, mostly
        slots = {**slots, "symptom": symptom}
        category = state.request.get("category") or self.dialogue.texts.visit_category(
            answer.intent.name, "\n".join(customer_turns)
        )
        customer = {
            "channel": CHANNEL,
            "sender_id": sender_of(transcript),
            "conversation_id": conversation.id if conversation is not None else None,
            "lang": lang,
            "phone": slots.get("phone") or read_phone(transcript.caller or ""),
        }
        return self.dialogue.ticket_writer(lang).request(
            slots,
            symptom=symptom,
            category=category,
            customer=customer,
            fault_id=state.request.get("fault_id"),
            record=transcript.as_lines(),
            unknown=False,
        )


def _add(transcript: Transcript, session: AsyncSession) -> PhoneCall:
    return service.create(session, transcript=transcript)


async def _find(call_id: str, session: AsyncSession) -> PhoneCall | None:
    return await service.get(session, call_id=call_id)


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
    session: AsyncSession, conversation: Conversation, outcome: _Outcome, answer: Answer
) -> None:
    """The call is over: its conversation keeps what the caller was told, and is closed."""
    if outcome.replies != answer.replies:
        for reply in outcome.replies:
            conversations.log(
                session, conversation, direction="out", text=reply.text, action=outcome.action
            )
    conversations.close(conversation)


def _answer_body(transcript: Transcript, answer: Answer, outcome: _Outcome) -> dict[str, Any]:
    """The answer to `POST /v1/transcripts` (stored too, for a repeat of the call)."""
    return {
        "call_id": transcript.call_id,
        "conversation_id": answer.conversation_id,
        "action": outcome.action,
        "ticket": outcome.ticket,
        "replies": [reply.model_dump(mode="json") for reply in outcome.replies],
        "intent": answer.intent.model_dump(mode="json"),
        "entities": _entities([e.model_dump(mode="json") for e in answer.entities], outcome.slots),
        "kb_hits": [hit.model_dump(mode="json") for hit in answer.kb_hits],
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
