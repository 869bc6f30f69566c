"""The dialogue manager: one customer message in, the bot's action and replies out.

Each call loads the sender's conversation from the database, decides with `policy`, updates the
state and the history in the caller's transaction, and returns the `Answer` of the message
contract (`core.messages`). Nothing is kept in memory between messages, so any worker continues
any conversation, also after a restart.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue import conversations
from bot.dialogue.buttons import buttons_after
from bot.dialogue.language import Voice, detect_voice
from bot.dialogue.models import CONVERSATION_HANDOFF, Conversation, utcnow
from bot.dialogue.policy import (
    COMPLAINT,
    GOODBYE,
    HANDOFF,
    REPAIR,
    SMALLTALK,
    STATUS,
    THANKS,
    KbDecision,
    Understanding,
    decide,
    pick_candidate,
    route_message,
)
from bot.dialogue.ports import Candidate, Interpreter, Knowledge, TicketDesk, TicketRequest
from bot.dialogue.prompts import DialogueTexts
from bot.dialogue.slots import SLOT_ORDER, SlotReader
from bot.dialogue.state import CLARIFY, COLLECT, CONFIRM, FEEDBACK, DialogueState
from bot.dialogue.tickets import TicketWriter
from core.messages import Answer, Entity, InboundMessage, Intent, KbHit, Reply

TOP_K = 5
# A first message this long describes the problem well enough to stand as the symptom.
MIN_SYMPTOM_CHARS = {"zh": 8, "en": 20}


@dataclass
class Reading:
    """What can be worked out from a message before its transaction: the NLU's reading and the
    KB search of its text (the CPU-heavy parts, kept out of the database's write lock)."""

    understanding: Understanding
    searches: dict[tuple[str, str], list[Candidate]] = field(default_factory=dict)


@dataclass
class _Context:
    """Everything one step of the dialogue reads and changes."""

    session: AsyncSession
    conversation: Conversation
    state: DialogueState
    voice: Voice
    understanding: Understanding
    inbound: InboundMessage
    slots: dict[str, Any]
    searches: dict[tuple[str, str], list[Candidate]]


class DialogueEngine:
    """Decides, per message, to answer from the KB, clarify, collect a ticket, report a status,
    hand over to a person, or make small talk."""

    def __init__(
        self,
        *,
        knowledge: Knowledge,
        interpreter: Interpreter,
        tickets: TicketDesk,
        texts: DialogueTexts | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.interpreter = interpreter
        self.tickets = tickets
        self.texts = texts or DialogueTexts.load()
        # One reading at a time: the encoders already use every core, and concurrent readings
        # from request threads only fight over them (8 senders: 3x fewer messages a second).
        self._reading = threading.Lock()

    def read(self, inbound: InboundMessage) -> Reading:
        """NLU and KB search of a message (CPU-bound: callers run it before their transaction;
        the search is in the language the text is written in, which most turns then use)."""
        with self._reading:
            parsed = self.interpreter.parse(inbound.text)
            lang = detect_voice(inbound.text, inbound.lang, None).lang
            hits = self.knowledge.search(inbound.text, lang, TOP_K)
        return Reading(Understanding.from_parse(inbound.text, parsed), {(inbound.text, lang): hits})

    async def handle(
        self, session: AsyncSession, inbound: InboundMessage, reading: Reading | None = None
    ) -> Answer:
        """Run one message through the dialogue in the caller's transaction."""
        if reading is None:
            reading = await asyncio.to_thread(self.read, inbound)
        understanding = reading.understanding
        conversation = await conversations.open_live(
            session,
            channel=inbound.channel,
            sender_id=inbound.sender_id,
            lang=inbound.lang or "zh",
            customer=inbound.customer_facts(),
            idle_after=timedelta(minutes=self.texts.inactivity_minutes),
        )
        state = DialogueState.from_json(conversation.state)
        voice = detect_voice(inbound.text, inbound.lang, state.last_voice())
        ctx = _Context(
            session,
            conversation,
            state,
            voice,
            understanding,
            inbound,
            dict(conversation.slots),
            reading.searches,
        )
        conversations.log(
            session, conversation, direction="in", text=inbound.text, message_id=inbound.message_id
        )
        turn = await self._step(ctx)
        self._save(ctx, turn)
        return turn

    # --- routing ----------------------------------------------------------------------------

    async def _step(self, ctx: _Context) -> Answer:
        state = ctx.state
        if ctx.conversation.status == CONVERSATION_HANDOFF:
            return self._turn(ctx, "handoff", [self._say(ctx, "handoff_waiting")])
        route = route_message(self.texts, ctx.understanding)
        if route in (HANDOFF, COMPLAINT):
            return await self._handoff(ctx, complaint=route == COMPLAINT)
        if state.stage in (COLLECT, CONFIRM):
            if self._means(ctx, "cancel"):
                state.reset()
                ctx.slots = {}
                return self._turn(ctx, "smalltalk", [self._say(ctx, "cancelled")])
            if state.stage == COLLECT:
                return await self._collect_reply(ctx)
            return await self._confirm_reply(ctx)
        if state.stage == FEEDBACK and route not in (STATUS, REPAIR):
            if self._means(ctx, "yes") or route == THANKS:
                state.reset()
                return self._turn(ctx, "smalltalk", [self._say(ctx, "solved")])
            if self._means(ctx, "no"):
                return self._not_solved(ctx)
        if state.stage == CLARIFY and route not in (STATUS, REPAIR):
            picked = self._clarified(ctx)
            if picked is not None:
                return self._answer(ctx, picked, [picked])
        state.reset()
        ctx.slots = {}
        if route == STATUS:
            return await self._status(ctx)
        if route == REPAIR:
            return self._start_collect(ctx, await self._search(ctx, ctx.inbound.text))
        if route in SMALLTALK:
            return await self._smalltalk(ctx, route)
        return await self._question(ctx)

    def _means(self, ctx: _Context, cue: str) -> bool:
        """A short answer: yes / no / cancel, by the NLU intent or by the cue words."""
        routed = self.texts.route_of(ctx.understanding.intent)
        by_intent = {"yes": "affirm", "no": "deny", "cancel": "cancel"}[cue]
        confident = ctx.understanding.confidence >= self.texts.intent_threshold
        by_cue = self.texts.starts_with_cue(cue, ctx.inbound.text)
        return (confident and routed == by_intent) or by_cue

    # --- knowledge base ---------------------------------------------------------------------

    async def _search(self, ctx: _Context, text: str) -> list[Candidate]:
        """The search done before the transaction, else one off the event loop."""
        key = (text, ctx.voice.lang)
        if key not in ctx.searches:
            ctx.searches[key] = await asyncio.to_thread(
                self.knowledge.search, text, ctx.voice.lang, TOP_K
            )
        return ctx.searches[key]

    def _decide(self, ctx: _Context, hits: list[Candidate], text: str) -> KbDecision:
        knowledge, understanding = self.knowledge, ctx.understanding
        bar = knowledge.answer_confidence
        if (
            understanding.intent in self.texts.cautious_intents
            and understanding.confidence >= self.texts.intent_threshold
        ):
            bar = max(bar, self.texts.cautious_confidence)
        return decide(hits, knowledge.mentions(text), knowledge.threshold, bar)

    async def _question(self, ctx: _Context) -> Answer:
        text = ctx.inbound.text
        hits = await self._search(ctx, text)
        decision = self._decide(ctx, hits, text)
        if decision.kind == "answer" and decision.item is not None:
            return self._answer(ctx, decision.item, hits)
        if decision.kind == "clarify":
            ctx.state.stage, ctx.state.query = CLARIFY, text
            ctx.state.clarify_facet = decision.facet
            ctx.state.candidates = [_candidate_json(c) for c in decision.candidates]
            key = "clarify_product" if decision.facet == "products" else "clarify_code"
            names = self._option_names(ctx, decision.facet or "", decision.options)
            reply = self._say(ctx, key, options=" / ".join(names))
            return self._turn(ctx, "clarify", [reply], hits=list(decision.candidates))
        return await self._fallback(ctx, hits)

    def _option_names(self, ctx: _Context, facet: str, options: tuple[str, ...]) -> list[str]:
        if facet != "products":
            return list(options)
        names = self.knowledge.product_names(ctx.voice.lang)
        return [names.get(option, option) for option in options]

    def _clarified(self, ctx: _Context) -> Candidate | None:
        """The candidate the reply to a clarifying question names (model or code), if any."""
        candidates = [Candidate(**c) for c in ctx.state.candidates]
        mentions = self.knowledge.mentions(ctx.inbound.text)
        return pick_candidate(candidates, ctx.state.clarify_facet or "", mentions)

    def _answer(self, ctx: _Context, item: Candidate, hits: list[Candidate]) -> Answer:
        text = self.knowledge.answer(item.id, ctx.voice.lang)
        query = ctx.state.query or ctx.inbound.text  # after a clarification: the first question
        ctx.state.reset()
        ctx.state.stage, ctx.state.answered_item, ctx.state.query = FEEDBACK, item.id, query
        ctx.state.candidates = [_candidate_json(item)]
        ordered = [item, *[h for h in hits if h.id != item.id]]
        replies = [ctx.voice.render(text), self._say(ctx, "ask_solved")]
        return self._turn(ctx, "answer", replies, hits=ordered)

    async def _fallback(self, ctx: _Context, hits: list[Candidate]) -> Answer:
        """No good answer; the second one in a row hands the conversation to a person."""
        ctx.state.fallbacks += 1
        if ctx.state.fallbacks >= self.texts.max_fallbacks:
            return await self._handoff(ctx, complaint=False)
        return self._turn(ctx, "fallback", [self._say(ctx, "fallback")], hits=hits)

    # --- repair requests --------------------------------------------------------------------

    def slot_reader(self, lang: str) -> SlotReader:
        """The repair form's reader, with the knowledge base's products named in `lang`."""
        names = self.knowledge.product_names(lang)
        return SlotReader(
            self.texts, lambda text: sorted(self.knowledge.mentions(text).products), names
        )

    def ticket_writer(self, lang: str) -> TicketWriter:
        """Writes request summaries and tickets in `lang` (the dialogue's and a call's)."""
        return TicketWriter(self.texts, self.slot_reader(lang), lang)

    def _reader(self, ctx: _Context) -> SlotReader:
        return self.slot_reader(ctx.voice.lang)

    def _start_collect(self, ctx: _Context, hits: list[Candidate]) -> Answer:
        text, lang = ctx.inbound.text, ctx.voice.lang
        reader = self._reader(ctx)
        slots = reader.from_message(text, ctx.understanding.entity_map())
        if ctx.inbound.customer_facts().get("phone"):
            slots.setdefault("phone", ctx.inbound.customer_facts()["phone"])
        decision = self._decide(ctx, hits, text)
        fault = decision.item if decision.kind == "answer" and decision.item else None
        if fault is not None and fault.type == "fault":
            ctx.state.request["fault_id"] = fault.id
            if len(fault.products) == 1:
                slots.setdefault("product", fault.products[0])
        if len(text) >= MIN_SYMPTOM_CHARS.get(lang, 20):
            slots.setdefault("symptom", text)
        ctx.slots = slots
        ctx.state.stage = COLLECT
        ctx.state.request["category"] = self.texts.visit_category(ctx.understanding.intent, text)
        ctx.state.request["text"] = text
        return self._ask_next(ctx, hits=[fault] if fault else [])

    def _not_solved(self, ctx: _Context) -> Answer:
        """The KB answer did not help: go to the repair form with the fault filled in."""
        item = Candidate(**ctx.state.candidates[0]) if ctx.state.candidates else None
        query = ctx.state.query or ""
        ctx.state.reset()
        reader = self._reader(ctx)
        slots = reader.from_message(query, {})
        if ctx.inbound.customer_facts().get("phone"):
            slots.setdefault("phone", ctx.inbound.customer_facts()["phone"])
        if item is not None:
            ctx.state.request["fault_id"] = item.id if item.type == "fault" else None
            if len(item.products) == 1:
                slots.setdefault("product", item.products[0])
            slots.setdefault("symptom", query or item.title)
        ctx.slots = slots
        ctx.state.stage = COLLECT
        ctx.state.request.update(category="repair", text=query)
        offer = self._say(ctx, "not_solved_offer")
        return self._ask_next(ctx, lead=[offer])

    def _ask_next(
        self, ctx: _Context, lead: list[str] | None = None, hits: list[Candidate] | None = None
    ) -> Answer:
        missing = next((slot for slot in SLOT_ORDER if not ctx.slots.get(slot)), None)
        replies = list(lead or [])
        if missing is None:
            ctx.state.stage, ctx.state.pending_slot = CONFIRM, None
            replies.append(self._say(ctx, "confirm", summary=self._summary(ctx)))
        else:
            ctx.state.pending_slot = missing
            options = self._reader(ctx).product_options() if missing == "product" else ""
            replies.append(self._say(ctx, f"ask_{missing}", options=options))
        return self._turn(ctx, "collect", replies, hits=hits or [])

    async def _collect_reply(self, ctx: _Context) -> Answer:
        slot = ctx.state.pending_slot or SLOT_ORDER[0]
        reader = self._reader(ctx)
        entities = ctx.understanding.entity_map()
        value = reader.answer(slot, ctx.inbound.text, entities)
        if value.value is not None:
            ctx.slots[slot] = value.value
        for other, found in reader.from_message(ctx.inbound.text, entities).items():
            if other != slot and not ctx.slots.get(other):
                ctx.slots[other] = found
        if value.error and not ctx.slots.get(slot):
            return self._ask_next(ctx, lead=[self._say(ctx, value.error)])
        return self._ask_next(ctx)

    async def _confirm_reply(self, ctx: _Context) -> Answer:
        if self._means(ctx, "yes"):
            return await self._create_ticket(ctx)
        reader = self._reader(ctx)
        corrections = reader.from_message(ctx.inbound.text, ctx.understanding.entity_map())
        if corrections:
            ctx.slots.update(corrections)
            return self._ask_next(ctx)
        if self._means(ctx, "no"):
            return self._turn(ctx, "collect", [self._say(ctx, "correct_what")])
        return self._ask_next(ctx)

    def _summary(self, ctx: _Context) -> str:
        return self.ticket_writer(ctx.voice.lang).summary(ctx.slots)

    async def _create_ticket(self, ctx: _Context) -> Answer:
        request = self._ticket_request(ctx, ctx.state.request.get("category") or "repair")
        ticket = await self.tickets.create(ctx.session, request)
        ctx.state.reset()
        ctx.slots = {}
        reply = self._say(
            ctx,
            "ticket_created",
            ticket_id=ticket["id"],
            priority=ticket.get("priority", ""),
            due=_short_time(ticket.get("sla_due_at") or ticket.get("response_due_at")),
        )
        return self._turn(ctx, "ticket", [reply], ticket=ticket)

    def _ticket_request(self, ctx: _Context, category: str) -> TicketRequest:
        """The form's details; the customer's message itself when the form is still empty."""
        slots = ctx.slots
        symptom = str(slots.get("symptom") or ctx.state.request.get("text") or ctx.inbound.text)
        return self.ticket_writer(ctx.voice.lang).request(
            slots,
            symptom=symptom,
            category=category,
            customer=self._customer(ctx),
            fault_id=ctx.state.request.get("fault_id"),
            record="" if slots else ctx.inbound.text,
        )

    def _customer(self, ctx: _Context) -> dict[str, Any]:
        customer = dict(ctx.conversation.customer or {})
        customer.update(
            channel=ctx.inbound.channel,
            sender_id=ctx.inbound.sender_id,
            conversation_id=ctx.conversation.id,
            lang=ctx.voice.lang,
        )
        if ctx.slots.get("phone") and not customer.get("phone"):
            customer["phone"] = ctx.slots["phone"]
        return customer

    # --- status, hand-over, small talk ------------------------------------------------------

    async def _status(self, ctx: _Context) -> Answer:
        customer = self._customer(ctx)
        ticket_id = ctx.understanding.entity("ticket_id") or self.texts.ticket_id(ctx.inbound.text)
        if ticket_id:
            ticket = await self.tickets.get(ctx.session, ticket_id, customer)
            if ticket is None:
                reply = self._say(ctx, "status_not_found", ticket_id=ticket_id)
                return self._turn(ctx, "status", [reply])
            return self._turn(ctx, "status", [self._status_line(ctx, ticket)], ticket=ticket)
        tickets = await self.tickets.open_for(ctx.session, customer)
        if not tickets:
            return self._turn(ctx, "status", [self._say(ctx, "status_none")])
        lines = "\n".join(self._status_line(ctx, t) for t in tickets)
        reply = self._say(ctx, "status_list", count=len(tickets), lines=lines)
        only = tickets[0] if len(tickets) == 1 else None
        return self._turn(ctx, "status", [reply], ticket=only, tickets=tickets)

    def _status_line(self, ctx: _Context, ticket: dict[str, Any]) -> str:
        return self._say(
            ctx,
            "status_one",
            ticket_id=ticket["id"],
            status=self.texts.status_label(str(ticket.get("status")), ctx.voice.lang),
            priority=ticket.get("priority", ""),
            subject=ticket.get("subject", ""),
        )

    async def _handoff(self, ctx: _Context, *, complaint: bool) -> Answer:
        """A person takes over: the conversation is marked for agents and a ticket says why."""
        category = "complaint" if complaint else (ctx.state.request.get("category") or "other")
        request = self._ticket_request(ctx, category)
        ticket = await self.tickets.create(ctx.session, request)
        ctx.state.reset()
        ctx.state.stage = "handoff"
        ctx.conversation.status = CONVERSATION_HANDOFF
        key = "handoff_complaint" if complaint else "handoff"
        line = self._say(ctx, "ticket_line", ticket_id=ticket["id"])
        return self._turn(ctx, "handoff", [self._say(ctx, key, ticket_line=line)], ticket=ticket)

    async def _smalltalk(self, ctx: _Context, route: str) -> Answer:
        if not self.texts.is_cue(route, ctx.inbound.text):
            # "Hi, my BM-2 shows E01": the greeting does not hide a question the KB can answer.
            text = ctx.inbound.text
            hits = await self._search(ctx, text)
            decision = self._decide(ctx, hits, text)
            if decision.kind == "answer" and decision.item is not None:
                return self._answer(ctx, decision.item, hits)
        if route == GOODBYE:
            conversations.close(ctx.conversation)
        return self._turn(ctx, "smalltalk", [self._say(ctx, route)])

    # --- output -----------------------------------------------------------------------------

    def _say(self, ctx: _Context, key: str, **values: object) -> str:
        return self.texts.say(key, ctx.voice, **values)

    def _turn(
        self,
        ctx: _Context,
        action: str,
        replies: list[str],
        *,
        hits: list[Candidate] | None = None,
        ticket: dict[str, Any] | None = None,
        tickets: list[dict[str, Any]] | None = None,
    ) -> Answer:
        return Answer(
            conversation_id=ctx.conversation.id,
            action=action,
            replies=[Reply(text=text) for text in replies],
            buttons=buttons_after(ctx.state, ctx.voice, self.knowledge.product_names),
            intent=Intent(name=ctx.understanding.intent, confidence=ctx.understanding.confidence),
            entities=[Entity(**entity) for entity in self._entities(ctx)],
            lang=ctx.voice.lang,
            kb_hits=[
                KbHit(id=h.id, type=h.type, score=round(h.score, 4), title=h.title)
                for h in hits or []
            ],
            ticket=ticket,
            tickets=tickets or [],
            message_id=ctx.inbound.message_id,
        )

    def _entities(self, ctx: _Context) -> list[dict[str, str]]:
        """The NLU's entities, plus products and codes the knowledge base recognizes."""
        entities = list(ctx.understanding.entities)
        mentions = self.knowledge.mentions(ctx.inbound.text)
        for kind, values in (("product", mentions.products), ("alarm_code", mentions.codes)):
            for value in sorted(values):
                if not any(e["type"] == kind and e["value"] == value for e in entities):
                    entities.append({"type": kind, "value": value})
        return entities

    def _save(self, ctx: _Context, turn: Answer) -> None:
        conversation = ctx.conversation
        if turn.action != "fallback":
            ctx.state.fallbacks = 0
        ctx.state.voice = ctx.voice.as_dict()
        conversation.state = ctx.state.to_json()
        conversation.slots = dict(ctx.slots)
        conversation.lang = ctx.voice.lang
        conversation.updated_at = utcnow()
        for reply in turn.texts:
            conversations.log(
                ctx.session, conversation, direction="out", text=reply, action=turn.action
            )


def _candidate_json(candidate: Candidate) -> dict[str, Any]:
    return {
        "id": candidate.id,
        "type": candidate.type,
        "score": candidate.score,
        "title": candidate.title,
        "products": list(candidate.products),
        "codes": list(candidate.codes),
    }


def _short_time(value: object) -> str:
    """A due time as `YYYY-MM-DD HH:MM` UTC for a chat reply."""
    text = str(value or "")
    return text[:16].replace("T", " ") + (" UTC" if text else "")
