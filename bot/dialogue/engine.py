"""The dialogue manager: one customer message in, the bot's action and replies out.

Each call loads the sender's conversation from the database, decides with `policy`, updates the
state and the history in the caller's transaction, and returns the `Answer` of the message
contract (`core.messages`). Nothing is kept in memory between messages, so any worker continues
any conversation, also after a restart.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue import conversations
from bot.dialogue.buttons import buttons_after
from bot.dialogue.embedding import PendingEmbeddings
from bot.dialogue.frame import Frame, FrameReader, unknown_models
from bot.dialogue.language import Voice, detect_voice
from bot.dialogue.models import CONVERSATION_HANDOFF, Conversation, utcnow
from bot.dialogue.policy import (
    COMPLAINT,
    GOODBYE,
    HANDOFF,
    QUESTION,
    REPAIR,
    SMALLTALK,
    STATUS,
    THANKS,
    KbDecision,
    Understanding,
    decide,
    decide_by_category,
    decide_by_code,
    decide_by_faq_lead,
    faq_for_line,
    for_some_lines,
    in_scope,
    in_suggestion_band,
    only_the_model,
    phrase_match,
    pick_candidate,
    route_message,
)
from bot.dialogue.ports import (
    Candidate,
    Interpreter,
    Knowledge,
    Mentions,
    TicketDesk,
    TicketRequest,
    lead_of,
)
from bot.dialogue.prompts import DialogueTexts, fold
from bot.dialogue.slots import SLOT_ORDER, SlotReader
from bot.dialogue.state import CLARIFY, COLLECT, FEEDBACK, TICKETED, DialogueState
from bot.dialogue.tickets import TicketWriter, due_text
from bot.media.codes import PhotoText
from bot.media.replies import with_photo
from core.assets import ALARM_STAGE, ALARM_TICKET, AlarmFollowUp, UnitLookup
from core.messages import Answer, Entity, InboundMessage, Intent, KbHit, Reply
from knowledge_base.retrieval import says_no_alarm
from knowledge_base.text import has_chinese, services_named, to_mandarin, to_simplified

# The customers' clock when the service names none (AFTERSALES_CUSTOMER_TIMEZONE).
DEFAULT_CUSTOMER_ZONE = "Asia/Shanghai"
TOP_K = 5
COMPLAINT_CATEGORY = "complaint"  # kb-format's category of the FAQ saying how to complain
# Details a customer may add to the ticket just made (a model named then is a new question).
TICKET_DETAILS = frozenset({"urgency", "address", "phone", "serial"})
MAX_NOTE_CHARS = 10_000  # a ticket note's limit
# A first message this long describes the problem well enough to stand as the symptom.
MIN_SYMPTOM_CHARS = {"zh": 8, "en": 20}
# The possessive a name leaves behind ("吸干机的吸附剂" → "的吸附剂"): it ranks FAQs that say
# "…的保修" above what the rest of the words ask.
_LEFT_OF_NAME = re.compile(r"\s[的嘅](?!确)")
# What separates the units of a list ("NC-5HP and NE-12F", "一台岛柜和两台风幕柜").
_LIST_PARTS = re.compile(r"\s+(?:and|&)\s+|[,，、;；和及与跟]|\s+plus\s+")
# A message that asks something: a question mark, a question word or particle of Chinese, an
# English question word, or an auxiliary before its subject ("can we", "is it"). Not a bare
# auxiliary: "readings are fine now, thanks" says it works.
_QUESTION = re.compile(
    r"[?？]|吗|呢$|怎么|如何|能不能|可不可以|可唔可以|点样|點樣|几时|幾時|多久|幾耐|几耐"
    r"|\b(how|what|where|which|why)\b"
    r"|\b(can|could|do|does|did|is|are|should|will|would)\s+"
    r"(i|we|you|it|they|this|that|these|those|there|the|my|our)\b",
    re.IGNORECASE,
)


@dataclass
class Reading:
    """What can be worked out from a message before its transaction: the NLU's reading and the
    KB search of its text (the CPU-heavy parts, kept out of the database's write lock)."""

    understanding: Understanding
    searches: dict[tuple[str, str], list[Candidate]] = field(default_factory=dict)
    # What the customer's photos showed (bot.media); its codes and models are in the text read.
    photo: PhotoText | None = None


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
    frame: Frame = field(default_factory=Frame)
    codes_asked: bool = False  # the message answers "which of these codes?"


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
        customer_zone: tzinfo | str = DEFAULT_CUSTOMER_ZONE,
    ) -> None:
        self.knowledge = knowledge
        self.interpreter = interpreter
        self.tickets = tickets
        self.texts = texts or DialogueTexts.load()
        # The clock the customers read (due and visit times in replies); the composition root
        # passes the service's setting, the bot never reads settings itself.
        self.customer_zone = (
            ZoneInfo(customer_zone) if isinstance(customer_zone, str) else customer_zone
        )
        # One reading at a time: the encoders already use every core, and concurrent readings
        # from request threads only fight over them (8 senders: 3x fewer messages a second).
        self._reading = threading.Lock()
        self._embeddings = PendingEmbeddings()
        # The frame reader of the KB's current product names (rebuilt after a KB import).
        self._frames: tuple[tuple[tuple[str, ...], tuple[str, ...]], FrameReader] | None = None
        # Takes the customer's answer to a machine alarm notice (set by the service, if any).
        self.alarm_follow_up: AlarmFollowUp | None = None
        # The installed units: a serial or a known contact names the equipment (if any).
        self.units: UnitLookup | None = None

    def read(self, inbound: InboundMessage) -> Reading:
        """NLU and KB search of a message (CPU-bound: callers run it before their transaction;
        the search is in the language the text is written in, which most turns then use)."""
        if not inbound.text:  # only a photo with nothing legible: nothing to read
            return Reading(Understanding.from_parse("", {}))
        query = self.frame_reader().search_text(inbound.text)
        forms = list(dict.fromkeys([inbound.text, to_mandarin(inbound.text)]))
        nlu_texts = [pair for form in forms for pair in self.interpreter.sentence_embeddings(form)]
        self._embeddings.add(nlu_texts, query)
        with self._reading:
            self._embeddings.embed(self.knowledge)  # this reading's texts and those queued
            parsed = _surest(self.interpreter.parse(form) for form in forms)
            lang = detect_voice(inbound.text, inbound.lang, None).lang
            hits = self.knowledge.search(query, lang, TOP_K)
        return Reading(Understanding.from_parse(inbound.text, parsed), {(query, lang): hits})

    def frame_reader(self) -> FrameReader:
        """Reads messages into the diagnosis frame (the KB's models and codes, frame.yml); a kind
        of equipment the KB's own names, aliases or lines, or its components' names, use is
        never "not ours" (a kiosk's receipt printer, a coffee machine's boiler)."""
        names, parts = self.knowledge.own_words(), self.knowledge.part_words()
        graph_key = (tuple(names), tuple(parts))
        if self._frames is None or self._frames[0] != graph_key:
            reader = FrameReader(
                self.texts,
                self.knowledge.mentions,
                names,
                known=self.knowledge.uses_word,
                named=self.knowledge.named_products,
                parts=parts,
            )
            self._frames = (graph_key, reader)
        return self._frames[1]

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
            Frame.from_json(state.frame),
        )
        conversations.log(
            session, conversation, direction="in", text=inbound.text, message_id=inbound.message_id
        )
        await self._known_unit(ctx)
        turn = await self._step(ctx) if inbound.text else self._turn(ctx, "clarify", [])
        if reading.photo is not None:
            turn = with_photo(turn, reading.photo)
        self._save(ctx, turn)
        return turn

    # --- routing ----------------------------------------------------------------------------

    async def _step(self, ctx: _Context) -> Answer:
        state = ctx.state
        route = route_message(self.texts, ctx.understanding)
        if ctx.conversation.status == CONVERSATION_HANDOFF:
            return await self._while_waiting(ctx, route)
        if state.stage == ALARM_STAGE:
            followed = await self._alarm_answer(ctx)
            if followed is not None:
                return followed
        if route == COMPLAINT and state.stage == FEEDBACK and self._fix_failed(ctx):
            route = QUESTION  # the answer's feedback below books the visit
        if route in (COMPLAINT, STATUS) and await self._reports_a_fault(ctx, route):
            route = QUESTION
        if route in (HANDOFF, COMPLAINT):
            return await self._handoff(ctx, complaint=route == COMPLAINT)
        if state.stage == TICKETED and route != STATUS:
            added = await self._ticket_details(ctx)
            if added is not None:
                return added
        if state.stage == COLLECT and route == STATUS:
            # "那个工单的进度怎么样了" while the form waits: the customer asks about an earlier
            # request, the new one is not theirs to fill in.
            state.reset()
            ctx.slots = {}
            return await self._status(ctx)
        if state.stage == COLLECT:
            if self._means(ctx, "cancel"):
                state.reset()
                ctx.slots = {}
                return self._turn(ctx, "smalltalk", [self._say(ctx, "cancelled")])
            return await self._collect_reply(ctx)
        if state.stage == FEEDBACK and route not in (STATUS, REPAIR):
            later = self.frame_reader().later_topic(ctx.inbound.text)
            if later:
                # "好的我去看看同步器。顺便问下你们热线几点下班": the answer is being tried,
                # another question follows.
                state.reset()
                ctx.inbound = ctx.inbound.model_copy(update={"text": later})
                return await self._question(ctx)
            if self._means(ctx, "yes") or route == THANKS:
                asked = self._asked_besides(ctx)
                if asked:
                    # "ok. different question, how do I update the firmware?"
                    self._close_problem(ctx)
                    ctx.inbound = ctx.inbound.model_copy(update={"text": asked})
                    return await self._question(ctx)
                return self._solved(ctx)
            if _phrase(self.texts, "restate", ctx.inbound.text):
                # "no, I meant the taste": the answer was to another question, not a failed fix.
                state.reset()
                ctx.frame = ctx.frame.next_topic()
                return await self._question(ctx)
            named = self._message_mentions(ctx)
            news = (named.codes - set(ctx.frame.codes)) or (
                named.products - set(ctx.frame.products)
            )
            # "不对，是AL82": a correction of what was asked, not "it did not help".
            not_solved = self._means(ctx, "no") or _phrase(
                self.texts, "not_solved", ctx.inbound.text
            )
            if not_solved and not news:
                return await self._not_solved(ctx)
            if not not_solved and not news and self._says_solved(ctx):
                return self._solved(ctx)
        if state.stage == CLARIFY and route not in (STATUS, REPAIR):
            ctx.codes_asked = state.clarify_facet == "codes"
            if self._declined(ctx):
                return await self._handoff(ctx, complaint=False)
            if state.clarify_facet == "frame_product" and self._model_unknown(ctx):
                return self._turn(ctx, "clarify", [self._say(ctx, "model_unknown")])
            if state.options:
                chosen = self._pick_option(ctx)
                if chosen is not None and chosen.get("item"):
                    item = Candidate(**chosen["item"])
                    return self._answer(ctx, item, [item])
                if chosen is not None:
                    state.reset()
                    return await self._question(ctx, read=False)
            else:
                picked = self._clarified(ctx)
                if picked is not None:
                    return await self._picked(ctx, picked)
        state.reset()
        ctx.slots = {}
        if route == STATUS:
            return await self._status(ctx)
        if route == REPAIR:
            self._read_frame(ctx)
            decision, hits = await self._kb_decision(ctx)
            return await self._start_collect(ctx, hits, decision)
        if route in SMALLTALK:
            return await self._smalltalk(ctx, route)
        return await self._question(ctx)

    async def _known_unit(self, ctx: _Context) -> None:
        """The unit the message or its sender identifies: its model, serial and site go into
        the frame when it has none, its customer and tier into the conversation."""
        if self.units is None:
            return
        inbound = ctx.inbound
        unit = await self.units.find(
            ctx.session, channel=inbound.channel, sender_id=inbound.sender_id, text=inbound.text
        )
        if unit is None:
            return
        frame = ctx.frame
        frame.products = frame.products or [unit.product_id]
        frame.serial, frame.site = frame.serial or unit.serial, frame.site or unit.site
        ctx.conversation.customer = {**unit.customer, **(ctx.conversation.customer or {})}

    async def _alarm_answer(self, ctx: _Context) -> Answer | None:
        """The customer answers an alarm notice: the service moves the alarm's ticket."""
        ticket_id = ctx.state.request.get(ALARM_TICKET)
        if self.alarm_follow_up is None or not ticket_id:
            return None
        reply = await self.alarm_follow_up.answer(
            ctx.session, ticket_id=ticket_id, text=ctx.inbound.text, lang=ctx.voice.lang
        )
        if reply is None:
            return None
        ctx.state.reset()
        return self._turn(ctx, "status", [reply])

    def _fix_failed(self, ctx: _Context) -> bool:
        """ "重新穿過都係斷，搞唔掂" after an answer: the fix did not work, said with feeling. The
        NLU may read a complaint; no complaint phrase says one, and a visit is what helps."""
        text = ctx.inbound.text
        return _phrase(self.texts, "not_solved", text) and not _phrase(self.texts, COMPLAINT, text)

    def _solved(self, ctx: _Context) -> Answer:
        self._close_problem(ctx)
        return self._turn(ctx, "smalltalk", [self._say(ctx, "solved")])

    def _close_problem(self, ctx: _Context) -> None:
        """The problem is solved: the next one may be another unit's ("another thing, E1"), so
        the frame keeps only the unit the sender is known by."""
        ctx.state.reset()
        ctx.frame = ctx.frame.after_solved()

    def _says_solved(self, ctx: _Context) -> bool:
        """ "Blew the dust out and the fan runs again. sorted, thanks": it works now, said in a
        sentence (dialogue.yml phrases `solved`), and nothing is asked."""
        text = ctx.inbound.text
        return _phrase(self.texts, "solved", text) and not _QUESTION.search(text)

    def _asked_besides(self, ctx: _Context) -> str | None:
        """What a "yes" or "thanks" goes on to ask ("ok. different question, how do I update
        the firmware on it?"): the rest of the message when it opens another topic or is a
        question; None when it only confirms."""
        rest = self.texts.after_cue("yes", ctx.inbound.text)
        if rest is None:
            rest = self.texts.after_cue(THANKS, ctx.inbound.text)
        if not rest:
            return None
        if self.frame_reader().opens_new_topic(rest) or _QUESTION.search(rest):
            return rest
        return None

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

    def _decide(
        self,
        ctx: _Context,
        hits: list[Candidate],
        text: str,
        mentions: Mentions | None = None,
    ) -> KbDecision:
        knowledge = self.knowledge
        mentions = mentions if mentions is not None else knowledge.mentions(text)
        hits = in_scope(hits, mentions)
        bar = knowledge.answer_confidence
        cautious = self._cautious(ctx)
        if cautious:
            bar = max(bar, self.texts.cautious_confidence)
        lines = self._line_of(ctx) if mentions.codes and not mentions.products else None
        decision = decide(hits, mentions, knowledge.threshold, bar, lines)
        decision = self._faq_asked_instead(ctx, decision, hits) or decision
        if (
            decision.item is not None
            and decision.item.type == "fault"
            and self._not_a_fault(ctx)
            and not self._sure_fault(decision.item, hits)
        ):
            return KbDecision("fallback")
        if decision.kind == "fallback" and not cautious:
            settled = (
                decide_by_code(hits, mentions, lines)
                or decide_by_category(
                    hits, mentions, self._asked_category(ctx), self._category_floor(ctx, hits)
                )
                or self._decide_by_faq_lead(ctx, hits, mentions)
                or self._decide_by_service(ctx, hits, mentions)
            )
            if settled is not None:
                return settled
        return decision

    def _faq_asked_instead(
        self, ctx: _Context, decision: KbDecision, hits: list[Candidate]
    ) -> KbDecision | None:
        """The answer is an FAQ of another category than the one the NLU is sure the question
        is of (`category_sure_intent`), or a fault when it is nearly certain
        (`category_agree_intent`), and an FAQ of that category is the next one in the middle
        band (`suggest_confidence`): "喷码机的墨路多长时间要保养一次" asks for the maintenance
        interval, not the warranty's length its words share; "HS-50 的 warranty 有多久，门封条包
        不包" for the warranty, not the door's fault."""
        item = decision.item
        if decision.kind != "answer" or item is None:
            return None
        understanding, texts = ctx.understanding, self.texts
        sure = texts.category_sure_intent if item.type == "faq" else texts.category_agree_intent
        if understanding.confidence < sure:
            return None
        category = texts.intent_categories.get(understanding.intent)
        if category is None or item.category == category:
            return None
        for hit in hits[1:3]:
            if hit.type == "faq" and hit.category == category:
                confident = (hit.confidence or 0.0) >= texts.suggest_confidence
                return KbDecision("answer", item=hit) if confident else None
        return None

    def _decide_by_faq_lead(
        self, ctx: _Context, hits: list[Candidate], mentions: Mentions
    ) -> KbDecision | None:
        """A service question (dialogue.yml `intent_categories`, at `faq_lead_intent`) whose best
        hit is an FAQ well ahead of the rest (`decide_by_faq_lead`); a general service question
        the NLU is sure of (`sure_service_*`) needs only the lead, not a score or confidence
        floor."""
        understanding, texts = ctx.understanding, self.texts
        sure = understanding.confidence >= texts.sure_service_intent
        if sure and understanding.intent in texts.sure_service_intents:
            return decide_by_faq_lead(hits, mentions, 0.0, texts.sure_service_lead, 0.0)
        if understanding.intent not in texts.intent_categories:
            return None
        if understanding.confidence < texts.faq_lead_intent:
            return None
        threshold = self.knowledge.threshold
        return decide_by_faq_lead(hits, mentions, threshold, texts.faq_lead, texts.faq_lead_floor)

    def _decide_by_service(
        self, ctx: _Context, hits: list[Candidate], mentions: Mentions
    ) -> KbDecision | None:
        """The message names an after-sales service (the hotline, the warranty …; dialect.yml
        `service_words`) and the best hit is an FAQ whose question names the same one, ahead of
        the next hit by `faq_lead`: the two readings agree ("你们热线周六上班吗", the hotline FAQ
        under the score bar). For the hotline and the app (dialogue.yml `unmistakable_services`)
        no lead is needed when no other hit names the service too ("24 hour emergency number?",
        a complaint FAQ close behind)."""
        top = hits[0] if hits else None
        if top is None or top.type != "faq" or not _fits(top, mentions):
            return None
        asked = services_named(ctx.inbound.text) & self.knowledge.faq_services(top.id)
        if not asked:
            return None
        if lead_of(hits) >= self.texts.faq_lead:
            return KbDecision("answer", item=top)
        if not (asked & set(self.texts.unmistakable_services) or self._certain_of(ctx, top)):
            return None
        if any(asked & self.knowledge.faq_services(h.id) for h in hits[1:] if h.type == "faq"):
            return None
        return KbDecision("answer", item=top)

    def _certain_of(self, ctx: _Context, faq: Candidate) -> bool:
        """The NLU is nearly certain (`category_agree_intent`) that the question is of the FAQ's
        category: with the words naming the service and the FAQ naming it too, three readings
        agree ("另外，保修多久？" after an answer: the warranty FAQ at 0.13, the maintenance FAQ
        close behind)."""
        understanding, texts = ctx.understanding, self.texts
        if understanding.confidence < texts.category_agree_intent:
            return False
        return texts.intent_categories.get(understanding.intent) == faq.category

    def _sure_fault(self, item: Candidate, hits: list[Candidate]) -> bool:
        """`item` is the best hit, a fault the search picks surely (dialogue.yml
        `sure_fault_*`)."""
        top = hits[0] if hits else None
        return (
            top is not None
            and top.id == item.id
            and top.type == "fault"
            and (top.confidence or 0.0) >= self.texts.sure_fault_confidence
            and lead_of(hits) >= self.texts.sure_fault_lead
        )

    def _not_a_fault(self, ctx: _Context) -> bool:
        """The NLU reads a question no fault answers (dialogue.yml `not_a_fault_intents`)."""
        understanding = ctx.understanding
        return (
            understanding.intent in self.texts.not_a_fault_intents
            and understanding.confidence >= self.texts.not_a_fault_confidence
        )

    def _asked_category(self, ctx: _Context) -> str | None:
        """The FAQ category the message asks about: how to complain (the phrases of a question
        about the process and of a complaint, which route it as a question, not a complaint),
        else what the NLU reads (dialogue.yml `intent_categories`)."""
        understanding = ctx.understanding
        if self._asks_how_to_complain(ctx):
            return COMPLAINT_CATEGORY
        if understanding.confidence < self.texts.intent_threshold:
            return None
        return self.texts.intent_categories.get(understanding.intent)

    def _asks_how_to_complain(self, ctx: _Context) -> bool:
        """Phrases of a question about the process ("who do I …", "向哪个部门") and of a
        complaint (or the NLU's reading of one)."""
        text = ctx.inbound.text
        return _phrase(self.texts, "process_question", text) and self._about_complaints(ctx)

    def _about_complaints(self, ctx: _Context) -> bool:
        """The message speaks of a complaint: a complaint phrase, or the NLU's confident reading
        ("对服务不满意应该向哪个部门反映")."""
        understanding = ctx.understanding
        confident = understanding.confidence >= self.texts.intent_threshold
        by_intent = confident and self.texts.route_of(understanding.intent) == COMPLAINT
        return by_intent or _phrase(self.texts, COMPLAINT, ctx.inbound.text)

    def _category_floor(self, ctx: _Context, hits: list[Candidate]) -> float:
        """The confidence an FAQ of the asked category needs: lower when the NLU is sure, none
        when it is nearly certain and the FAQ leads the search clearly, or when the phrases ask
        how to complain."""
        texts, confidence = self.texts, ctx.understanding.confidence
        if confidence >= texts.category_agree_intent and self._clear_lead(hits):
            return 0.0
        if self._asks_how_to_complain(ctx):
            # The phrases say what is asked, the search ranks the complaint FAQ first: the
            # FAQ's own words ("who do I complain to about the last visit?") may share little.
            return 0.0
        if confidence >= texts.category_sure_intent:
            return texts.category_sure_confidence
        return texts.category_confidence

    def _clear_lead(self, hits: list[Candidate]) -> bool:
        """The best hit is over the search's bar and ahead of the next by `sure_service_lead`."""
        if not hits:
            return False
        clear = lead_of(hits) >= self.texts.sure_service_lead
        return clear and hits[0].score >= self.knowledge.threshold

    def _cautious(self, ctx: _Context) -> bool:
        """A price question: answered only at dialogue.yml's `cautious_confidence`."""
        return self._reads_as(ctx, self.texts.cautious_intents)

    def _reads_as(self, ctx: _Context, intents: tuple[str, ...]) -> bool:
        understanding = ctx.understanding
        return (
            understanding.intent in intents
            and understanding.confidence >= self.texts.intent_threshold
        )

    # --- the diagnosis frame ----------------------------------------------------------------

    def _read_frame(self, ctx: _Context) -> None:
        """Fold the customer's message into the frame; a topic switch starts a new one."""
        reader = self.frame_reader()
        text = ctx.inbound.text
        if reader.opens_new_topic(text):
            ctx.frame = ctx.frame.next_topic()
        reader.update(ctx.frame, text)

    def _message_mentions(self, ctx: _Context) -> Mentions:
        """The models and codes the message names (without those it takes back), with the
        frame's models when the message names none."""
        reader = self.frame_reader()
        products: set[str] = set()
        codes: set[str] = set()
        unknown: set[str] = set()
        kinds: set[str] = set()
        kept = []
        for clause, negated in reader.clauses(ctx.inbound.text) or [(ctx.inbound.text, False)]:
            if negated:
                continue
            kept.append(clause)
            found = self.knowledge.mentions(clause)
            products |= found.products
            codes |= found.codes
            unknown |= found.unknown_codes
            kinds |= found.kinds
        if not products and len(kept) > 1:
            # The words of a name and the code may stand in different clauses ("部储能机…，出A205").
            products = set(self.knowledge.mentions(", ".join(kept)).products)
        if not products:
            products = set(ctx.frame.products)
        return Mentions(frozenset(products), frozenset(codes), frozenset(unknown), frozenset(kinds))

    async def _reports_a_fault(self, ctx: _Context, route: str) -> bool:
        """Whether a complaint or a status request only the NLU reads, and not surely, is a
        question the KB knows (dialogue.yml `nlu_alone_sure`): its best hit reaches the band
        where "did you mean …?" is offered. A complaint or a status request says so in words
        (or a ticket number) or is read surely; a fault report the NLU mistakes for one is
        answered ("implement on my FT-904 sinks when parked", check_status 0.51)."""
        understanding, text = ctx.understanding, ctx.inbound.text
        if understanding.confidence >= self.texts.nlu_alone_sure or phrase_match(
            self.texts, route, text
        ):
            return False
        if route == STATUS and (understanding.entity("ticket_id") or self.texts.ticket_id(text)):
            return False
        query = self.frame_reader().search_text(text)
        hits = await self._search(ctx, query)
        best = hits[0].confidence if hits else None
        return (best or 0.0) >= self.texts.suggest_confidence or (
            self._decide(ctx, hits, query, self._message_mentions(ctx)).kind == "answer"
        )

    async def _kb_decision(self, ctx: _Context) -> tuple[KbDecision, list[Candidate]]:
        """The decision on the message alone, else on the whole frame (its models, codes and
        the customer's words so far)."""
        reader = self.frame_reader()
        text = ctx.inbound.text
        query = reader.search_text(text)
        mentions = self._message_mentions(ctx)
        hits = in_scope(await self._search(ctx, query), mentions)
        decision = self._sole_suggestion(ctx, self._decide(ctx, hits, query, mentions), hits)
        if await self._a_guess(ctx, decision, hits, query, mentions):
            decision = KbDecision("fallback")
        if decision.kind == "fallback":
            found = await self._decide_without_names(ctx, mentions)
            if found is not None:
                return found
        frame = ctx.frame
        # "AC-300" after "视镜里看不到油": the model alone picks one of its faults; what the
        # customer described is in the frame.
        names_only = bool(frame.texts) and reader.names_only(text)
        if decision.kind == "answer" and not names_only:
            return decision, hits
        own = self.knowledge.mentions(text)
        earlier = (
            len(frame.texts) >= 2
            or names_only  # "DW-50H" after "洗完碗有白膜"
            or set(frame.products) - own.products
            or set(frame.codes) - own.codes
        )
        frame_query = reader.frame_query(frame)
        if earlier and frame_query != query:
            frame_hits = await self._search(ctx, frame_query)
            frame_mentions = Mentions(
                frozenset(frame.products),
                frozenset(frame.codes),
                frozenset() if frame.codes else mentions.unknown_codes,
            )
            frame_decision = self._sole_suggestion(
                ctx, self._decide(ctx, frame_hits, frame_query, frame_mentions), frame_hits
            )
            if await self._a_guess(ctx, frame_decision, frame_hits, frame_query, frame_mentions):
                frame_decision = KbDecision("fallback")
            if frame_decision.kind != "fallback" or reader.names_only(text):
                # A reply naming only the equipment ("KS70R嚟㗎") has no words of its own to
                # search: what is offered next comes from the frame's.
                return frame_decision, frame_hits
            if decision.kind == "fallback" and _surer(frame_hits, hits, frame_mentions):
                # "咔咔咔咁，好似刮到嘢" after "what does the NE-12F show?": the frame's items,
                # with the model, are what to offer.
                return frame_decision, frame_hits
        return decision, hits

    def _sole_suggestion(
        self, ctx: _Context, decision: KbDecision, hits: list[Candidate]
    ) -> KbDecision:
        """A fallback whose middle band holds one item, a fault of the model the customer
        named, every other hit under half its confidence, once the customer has answered a
        question of ours ("the electric one" after "which equipment?"): "did you mean" with one
        option asks what the search already says; it is the answer. Not for an FAQ, which fits
        any model (on the readable sets the sole FAQs were as often wrong as right), nor beside
        a code the model does not have, nor for a first message (on a never-read set a single
        message about what the KB does not cover was answered so)."""
        frame = ctx.frame
        if decision.kind != "fallback" or not frame.asked:
            return decision
        if self._cautious(ctx) or self._not_a_fault(ctx):
            return decision
        if self.knowledge.mentions(ctx.inbound.text).unknown_codes:
            return decision
        offered = self._suggestable(ctx, hits)
        if len(offered) != 1 or offered[0].type != "fault":
            return decision
        if not set(offered[0].products) & set(frame.products):
            return decision
        return KbDecision("answer", item=offered[0])

    async def _a_guess(
        self,
        ctx: _Context,
        decision: KbDecision,
        hits: list[Candidate],
        text: str,
        mentions: Mentions,
    ) -> bool:
        """The answer is a fault the model alone picked: the customer named the equipment and
        no code, and said nothing else ("液压折弯机" → "PB-110"); or the model's faults with and
        without codes are about as close (`only_the_model`) and their words without the model
        ("having an issue with my solar setup") do not find that fault in the middle band
        (dialogue.yml `suggest_confidence`) by themselves. The code or what they see is asked
        for instead."""
        item = decision.item
        if decision.kind != "answer" or item is None or item.type != "fault":
            return False
        if mentions.codes or says_no_alarm(text):
            return False
        if not self._description(ctx):
            return True
        if not only_the_model(hits, mentions, self.knowledge.threshold):
            return False
        found = await self._description_hits(ctx)
        top = found[0] if found else None
        if top is None or top.id != item.id:
            return True
        return (top.confidence or 0.0) < self.texts.suggest_confidence

    async def _described(self, ctx: _Context, mentions: Mentions) -> list[Candidate]:
        """The model's items that the customer's words without the model find, when the best
        of them is in the middle band (dialogue.yml `suggest_confidence`): they said what they
        see ("AL700 啲鐵落返去嗰陣砰一聲"), and asking for the code or what they see makes them
        repeat it."""
        if "items" in ctx.frame.asked:
            return []
        found = await self._description_hits(ctx)
        fitting = [h for h in found if _fits(h, mentions)]
        if not fitting or found[0].id != fitting[0].id:
            return []
        if (fitting[0].confidence or 0.0) < self.texts.suggest_confidence:
            return []
        floor = self.texts.suggest_confidence / 2
        return [h for h in fitting[:3] if (h.confidence or 0.0) >= floor]

    async def _description_hits(self, ctx: _Context) -> list[Candidate]:
        """The search for the customer's words without the model (`_description`)."""
        description = self._description(ctx)
        if not description:
            return []
        return await self._search(ctx, self.frame_reader().search_text(description))

    def _general_faq(self, ctx: _Context, hits: list[Candidate]) -> Candidate | None:
        """The best hit when it is an FAQ for every product, ahead of the next hit by
        `faq_lead`, and over the search's bar or of the category the NLU reads ("how often
        should we lube the tredmill deck"): which equipment it is would not change the answer,
        so it is offered rather than asked."""
        top = hits[0] if hits else None
        if "items" in ctx.frame.asked or top is None or top.type != "faq" or top.products:
            return None
        if lead_of(hits) < self.texts.faq_lead:
            return None
        if top.score < self.knowledge.threshold and top.category != self._asked_category(ctx):
            return None
        return top

    async def _decide_without_names(
        self, ctx: _Context, mentions: Mentions
    ) -> tuple[KbDecision, list[Candidate]] | None:
        """The message names a model and no code, and its words without the names answer it
        ("新店要装一台KC-2020，电源要多大": the model's name ranks its faults above the
        installation FAQ the rest of the words find). Not a price question (the NLU's or
        dialogue.yml `price_question`): without the model, "how much is a replacement battery
        for the EF25?" finds the battery's FAQ."""
        text = ctx.inbound.text
        if not self.knowledge.mentions(text).products or mentions.codes or self._cautious(ctx):
            return None
        if _phrase(self.texts, "price_question", text):
            return None
        # First without the names as written; then without every name in either script
        # ("搬部立風櫃去第二間舖"). Not only the latter: a fault keeps a kind written in
        # Traditional ("急凍房凍唔落" says which unit is cold).
        for words in dict.fromkeys(
            (self._without_names(text), self._without_names(to_simplified(text)))
        ):
            found = await self._decide_on_words(ctx, words, mentions)
            if found is not None:
                return found
        return None

    async def _decide_on_words(
        self, ctx: _Context, words: str, mentions: Mentions
    ) -> tuple[KbDecision, list[Candidate]] | None:
        """An answer that fits the named models for `words`, by the search or, for a question
        about the equipment, by the NLU's agreeing reading (`_question_about_it`)."""
        if not words:
            return None
        query = self.frame_reader().search_text(words)
        hits = in_scope(await self._search(ctx, query), mentions)
        decision = self._decide(ctx, hits, query, mentions)
        if decision.kind != "answer":
            decision = self._question_about_it(ctx, hits, mentions) or decision
        if decision.kind != "answer" or decision.item is None or not _fits(decision.item, mentions):
            return None
        return decision, hits

    def _question_about_it(
        self, ctx: _Context, hits: list[Candidate], mentions: Mentions
    ) -> KbDecision | None:
        """Without the model's name the best hit is an FAQ of the category the NLU reads,
        even unsurely (at `faq_lead_intent`): "拷边机多长时间换一次油" is a maintenance question
        about the overlocker, not one of its faults, and the two readings agree."""
        understanding = ctx.understanding
        if understanding.confidence < self.texts.faq_lead_intent:
            return None
        category = self.texts.intent_categories.get(understanding.intent)
        rival = hits[1] if len(hits) > 1 else None
        if rival is not None and rival.type == "faq" and rival.category == category:
            return None  # two FAQs of the category: "换机油和滤芯" is maintenance or storage
        return decide_by_category(hits, mentions, category, 0.0)

    def _description(self, ctx: _Context) -> str:
        """The customer's words about the problem, without the model numbers and the names
        they named the equipment by ("液压折弯机" is a press brake's alias, not a symptom of its
        hydraulics)."""
        return self._without_names(" ".join(ctx.frame.texts) or ctx.inbound.text)

    def _without_names(self, text: str) -> str:
        """`text` without the model numbers and the names of the equipment, as they are
        written or in Simplified script ("热水机" for an alias 熱水機): "AS-450" goes whole,
        not as the shorter alias "AS-45" and a leftover "0"."""
        names = (*self.knowledge.own_words(), *self.knowledge.product_names("en"))
        for pattern in _name_patterns(names):
            text = pattern.sub(" ", text)
        return " ".join(_LEFT_OF_NAME.sub(" ", f" {text}").split())

    def _asks_to_buy(self, ctx: _Context) -> bool:
        """Whether we sell a machine, or buying one (dialogue.yml `sales_question`: "你们的注塑机
        有卖吗"): for sales, not the after-sales knowledge base. Not about parts (`sales_parts`,
        or a component the KB names: "想买几个空滤")."""
        text = ctx.inbound.text
        if not _phrase(self.texts, "sales_question", text):
            return False
        if _phrase(self.texts, "sales_parts", text):
            return False
        folded = fold(text)
        return not any(len(w) >= 2 and fold(w) in folded for w in self.knowledge.part_words())

    def _not_ours(self, ctx: _Context) -> bool:
        """Another maker's equipment, or a model we do not make ("ND-300M"): kept in the frame,
        so that the code the next message reads out is not answered with ours."""
        frame = ctx.frame
        if frame.other_maker:
            return True
        mentions = self.knowledge.mentions(ctx.inbound.text)
        unknown = unknown_models(ctx.inbound.text, mentions, self.knowledge.product_names("en"))
        if unknown:
            frame.other_maker = unknown[0]
        return bool(unknown)

    def _model_unknown(self, ctx: _Context) -> bool:
        """ "不知道型号" to "which equipment?", naming no unit or code of ours."""
        text = ctx.inbound.text
        if not _phrase(self.texts, "model_unknown", text):
            return False
        mentions = self.knowledge.mentions(text)
        return not (mentions.products or mentions.codes or mentions.kinds)

    def _declined(self, ctx: _Context) -> bool:
        return self.texts.is_cue("declined", ctx.inbound.text) or self.texts.starts_with_cue(
            "declined", ctx.inbound.text
        )

    def _pick_option(self, ctx: _Context) -> dict[str, Any] | None:
        """The option a reply to a clarifying question picks, by number or by its words; for
        "which equipment?" the frame takes its models."""
        options = ctx.state.options
        text = fold(ctx.inbound.text)
        chosen = None
        # To "which equipment?" the model a reply names comes before the labels' words ("the
        # 350 pulse one": the VM-350P, though the other line's label says "pulse" too); to
        # "did you mean …?" after them.
        named_first = not any(o.get("item") for o in options)
        if text.isdigit() and 1 <= int(text) <= len(options):
            chosen = options[int(text) - 1]
        elif named_first and (picked := self._option_named(ctx, options)):
            return picked
        else:
            scored = [(_overlap(text, fold(o["label"])), n) for n, o in enumerate(options)]
            best = max(scored, default=(0, 0))
            if best[0] > 0 and [score for score, _ in scored].count(best[0]) == 1:
                chosen = options[best[1]]
        if chosen is None:
            return None if named_first else self._option_named(ctx, options)
        if chosen.get("item"):
            return chosen
        if not self.knowledge.mentions(ctx.inbound.text).products:
            # "工业用的那台" picks the line by its words, and may also say which of its models.
            among = list(chosen["products"])
            named = self.knowledge.named_products(ctx.inbound.text, among)
            if _beyond_label(text, fold(chosen["label"])):
                # "激光机切不透板子" picks the line and says what is wrong: the frame keeps it.
                self.frame_reader().update(ctx.frame, ctx.inbound.text)
            ctx.frame.products = sorted(named) or among
        else:
            self.frame_reader().update(ctx.frame, ctx.inbound.text)
        return chosen

    def _option_named(self, ctx: _Context, options: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The option whose one model the words of the reply name ("三相那台"); the frame takes
        that model. To "did you mean …?" such a reply ("冷水的那台") names the equipment, not
        an item: the frame takes the model and the question is put again."""
        among = [p for option in options for p in option.get("products") or []]
        named = self.knowledge.named_products(ctx.inbound.text, among)
        chosen = next((o for o in options if named & set(o.get("products") or [])), None)
        if chosen is None:
            return None
        # "GP-47泵車報L09": the code the reply reads out stays in the frame for the messages
        # after it (its other words only name the unit: "the big one" is no symptom).
        codes = self.knowledge.mentions(ctx.inbound.text).codes
        if codes:
            ctx.frame.codes = sorted(codes)
        ctx.frame.products = sorted(named)
        return {"products": sorted(named)} if chosen.get("item") else chosen

    async def _ask_missing(self, ctx: _Context, hits: list[Candidate]) -> Answer:
        """No answer yet: ask for what the frame lacks (which equipment, then which code or
        what the customer sees), once each; then admit it."""
        frame = ctx.frame
        again = self._offered_again(ctx, hits)
        if again is not None:
            return self._answer(ctx, again, hits)
        if self._reads_as(ctx, self.texts.no_question_intents):  # prices, off-topic
            # No question about the equipment; an FAQ in the middle band is still offered to
            # what the NLU takes for off-topic ("买农机的补贴咋弄"), never to a price question.
            offered = [] if self._cautious(ctx) else self._suggestions(ctx, hits)
            return self._offer(ctx, offered) if offered else await self._fallback(ctx, hits)
        unknown = self.knowledge.mentions(ctx.inbound.text).unknown_codes
        # "製冰機點算" names the equipment and nothing else: what is wrong with it is asked,
        # whatever the search ranks first.
        about_fault = bool(hits) and hits[0].type == "fault"
        about_fault = about_fault or self.frame_reader().names_only(ctx.inbound.text)
        asks_code = (
            about_fault
            and frame.products
            and not (frame.codes or unknown)
            and "code" not in frame.asked
        )
        model = Mentions(frozenset(frame.products))
        described: list[Candidate] = []
        if asks_code and only_the_model(hits, model, self.knowledge.threshold):
            described = await self._described(ctx, model)
            if not described:
                return self._ask_code(ctx)  # before "did you mean": the words picked none
        suggestions = self._suggestions(ctx, hits)
        if suggestions:
            return self._offer(ctx, suggestions)
        if self._may_ask_product(ctx):
            general = self._general_faq(ctx, hits)
            if general is not None:
                return self._offer_new(ctx, [general])
            # "零食機唔收散紙": the kind of equipment says which products, and what the customer
            # sees finds their items; "which equipment?" would ask what they just said.
            kinds = self.knowledge.mentions(ctx.inbound.text).kinds
            described = await self._described(ctx, Mentions(kinds)) if kinds else []
            if described:
                return self._offer_new(ctx, described)
            return self._ask_product(ctx, kinds=kinds)
        if asks_code:
            # Searched only now: the middle band offered nothing.
            described = described or await self._described(ctx, model)
            return self._offer_new(ctx, described) if described else self._ask_code(ctx)
        return await self._fallback(ctx, hits)

    def _offer_new(self, ctx: _Context, items: list[Candidate]) -> Answer:
        """ "Did you mean …?" with items found besides the middle band (`_suggestions`)."""
        ctx.frame.asked.append("items")
        return self._offer(ctx, items)

    def _may_ask_product(self, ctx: _Context) -> bool:
        """Which equipment is not known, not asked yet, and the KB has more than one line."""
        frame = ctx.frame
        if frame.products or frame.codes or "product" in frame.asked:
            return False
        return len(self._lines(ctx)) >= 2

    def _which_line(self, ctx: _Context, item: Candidate, hits: list[Candidate]) -> bool:
        """The answer found is one line's FAQ, another line's (or every line's) competes, and
        the customer has not said which equipment (`for_some_lines`)."""
        if not self._may_ask_product(ctx):
            return False
        mentions = self._message_mentions(ctx)
        return for_some_lines(item, hits, mentions, self.knowledge.threshold)

    def _ask_product(
        self, ctx: _Context, hits: Sequence[Candidate] = (), kinds: frozenset[str] = frozenset()
    ) -> Answer:
        """ "Which equipment?" with the KB's product lines as options; to a question each line
        answers with its own FAQ (`for_some_lines`), each option carries its line's. The kind
        of equipment the customer named ("蒸烤箱坏了") keeps only its lines, and within one line
        the options are its models: asking which kind would ask what they just said."""
        lines = self._lines(ctx)
        named = [(label, ids) for label, ids in lines if kinds & set(ids)]
        prompt = "clarify_frame_product"
        if len(named) == 1 and len(named[0][1]) >= 2:
            # Every model of the line: a kind may be written two ways ("软水机" for a 软水器).
            names = self.knowledge.product_names(ctx.voice.lang)
            lines = [(names.get(pid, pid), [pid]) for pid in named[0][1]]
            prompt = "clarify_product"  # which model
        elif len(named) >= 2:
            lines = named
        ctx.frame.asked.append("product")
        state = ctx.state
        state.stage, state.clarify_facet = CLARIFY, "frame_product"
        state.options = []
        for label, ids in lines:
            option: dict[str, Any] = {"label": label, "products": ids}
            item = faq_for_line(list(hits), ids, self.knowledge.threshold) if hits else None
            if item is not None:
                option["item"] = _candidate_json(item)
            state.options.append(option)
        listed = " ".join(f"{n}. {label}" for n, (label, _) in enumerate(lines, 1))
        reply = self._say(ctx, prompt, options=listed)
        return self._turn(ctx, "clarify", [reply])

    def _offered_again(self, ctx: _Context, hits: list[Candidate]) -> Candidate | None:
        """We offered items ("did you mean …?") and the customer answered with more words
        instead of a pick ("是不是 web guide 的问题"), or we answered and they ask on about it
        ("是不是 tension 不够"): with their words the search puts the first item offered first
        again, in the middle band, or the one answered, over the search's bar. That is the one
        meant; "did you mean" with it alone would ask what the conversation already said."""
        frame = ctx.frame
        top = hits[0] if hits else None
        if top is None:
            return None
        middle = (top.confidence or 0.0) >= self.texts.suggest_confidence
        offered = middle and "items" in frame.asked and frame.offered[:1] == [top.id]
        answered = top.score >= self.knowledge.threshold and frame.suggested[-1:] == [top.id]
        return top if offered or answered else None

    def _offer(self, ctx: _Context, suggestions: list[Candidate]) -> Answer:
        """ "Did you mean …?" with the middle band's items: close to an answer, not sure enough
        to give it."""
        ctx.frame.offered = [c.id for c in suggestions]
        state = ctx.state
        state.stage, state.clarify_facet = CLARIFY, "items"
        state.options = [
            {"label": c.title or c.id, "products": list(c.products), "item": _candidate_json(c)}
            for c in suggestions
        ]
        listed = " ".join(f"{n}. {o['label']}" for n, o in enumerate(state.options, 1))
        reply = self._say(ctx, "did_you_mean", options=listed)
        return self._turn(ctx, "clarify", [reply], hits=suggestions)

    def _ask_code(self, ctx: _Context) -> Answer:
        """Ask for the alarm code the frame's model shows, or what the customer sees."""
        frame, state = ctx.frame, ctx.state
        frame.asked.append("code")
        state.stage, state.clarify_facet = CLARIFY, "frame_code"
        names = self.knowledge.product_names(ctx.voice.lang)
        product = " / ".join(names.get(p, p) for p in frame.products[:3])
        reply = self._say(ctx, "clarify_frame_code", product=product)
        return self._turn(ctx, "clarify", [reply])

    def _suggestions(self, ctx: _Context, hits: list[Candidate]) -> list[Candidate]:
        """The top items to offer as "did you mean …?": the best hit's confidence is in the
        middle band (dialogue.yml `suggest_confidence`) and it is over the search's bar, or
        under it at the answer confidence (a symptom report whose faults are close: the customer
        said what they see, and asking it again makes them repeat it) or with a clear lead
        ("及骨車成日漏油，啲白衫沾晒油跡…": 0.28, 0.57, 0.12 ahead); the items fit the models and
        codes the frame names."""
        if "items" in ctx.frame.asked:
            return []
        offered = self._suggestable(ctx, hits) or self._found_after_asking(ctx, hits)
        if offered:
            ctx.frame.asked.append("items")
        return offered

    def _found_after_asking(self, ctx: _Context, hits: list[Candidate]) -> list[Candidate]:
        """We asked what the customer sees and they told us ("個冰有陣怪味"): the model's items
        their words find over the search's bar are offered at any confidence, and those under
        it at the suggestion confidence ("停咗機之後支臂成日自己跌落嚟"), rather than saying we
        cannot answer what we asked for."""
        frame = ctx.frame
        if "code" not in frame.asked or not frame.products or self._not_ours(ctx):
            return []
        mentions = Mentions(frozenset(frame.products), frozenset(frame.codes))
        threshold, bar = self.knowledge.threshold, self.texts.suggest_confidence
        found = [h for h in hits if h.score >= threshold or (h.confidence or 0.0) >= bar]
        return [h for h in found if _fits(h, mentions)][:3]

    def _suggestable(self, ctx: _Context, hits: list[Candidate]) -> list[Candidate]:
        """`_suggestions` without asking: the items the middle band holds."""
        if not hits or self._not_ours(ctx):
            return []
        bar = self.texts.suggest_confidence
        knowledge = self.knowledge
        if not in_suggestion_band(hits, knowledge.threshold, knowledge.answer_confidence, bar):
            return []
        mentions = Mentions(frozenset(ctx.frame.products), frozenset(ctx.frame.codes))
        fitting = [h for h in hits if _fits(h, mentions)]
        if not fitting or (fitting[0].confidence or 0.0) < bar:
            return []
        floor = bar / 2
        return [h for h in fitting[:3] if (h.confidence or 0.0) >= floor]

    def _line_of(self, ctx: _Context) -> dict[str, str]:
        """Each product's line: only a code named without a model needs it (`_shared_code`)."""
        return {pid: label for label, ids in self._lines(ctx) for pid in ids}

    def _lines(self, ctx: _Context) -> list[tuple[str, list[str]]]:
        lines = getattr(self.knowledge, "product_lines", None)
        if lines is not None:
            return list(lines(ctx.voice.lang))
        names = self.knowledge.product_names(ctx.voice.lang)
        return [(name, [pid]) for pid, name in names.items()]

    async def _while_waiting(self, ctx: _Context, route: str) -> Answer:
        """A person has the conversation: the bot still answers what it can, and says that a
        person is coming."""
        if route == QUESTION:
            self._read_frame(ctx)
            decision, hits = await self._kb_decision(ctx)
            offered = [] if decision.kind == "answer" else self._suggestable(ctx, hits)
            if len(offered) == 1 and not self._cautious(ctx):
                # "等的时候问一下，你们热线周末有人吗": the middle band holds the hotline FAQ
                # alone; a person is coming to correct what it does not settle.
                decision = KbDecision("answer", item=offered[0])
            if decision.kind == "answer" and decision.item is not None and not self._not_ours(ctx):
                turn = self._answer(ctx, decision.item, hits)
                ctx.state.reset()
                ctx.state.stage = "handoff"
                # Answered: the next question while waiting is another one ("保修多久", then
                # "客服周末上班吗"), not read together with this one.
                ctx.frame = ctx.frame.next_topic()
                turn.replies.append(Reply(text=self._say(ctx, "handoff_still_coming")))
                turn.buttons = []
                return turn
        return self._turn(ctx, "handoff", [self._say(ctx, "handoff_waiting")])

    async def _question(self, ctx: _Context, *, read: bool = True) -> Answer:
        if read:
            self._read_frame(ctx)
        if self._not_ours(ctx):
            return self._turn(ctx, "fallback", [self._say(ctx, "not_ours")])
        if self._asks_to_buy(ctx):
            return self._turn(ctx, "fallback", [self._say(ctx, "sales_question")])
        text = ctx.frame.query() or ctx.inbound.text
        decision, hits = await self._kb_decision(ctx)
        if decision.kind == "answer" and decision.item is not None:
            if self._which_line(ctx, decision.item, hits):
                return self._ask_product(ctx, hits)
            return self._answer(ctx, decision.item, hits)
        if decision.kind == "clarify":
            if decision.facet == "codes" and ctx.codes_asked:
                return await self._code_asked_before(ctx, decision, hits)
            ctx.state.stage, ctx.state.query = CLARIFY, text
            ctx.state.clarify_facet = decision.facet
            ctx.state.candidates = [_candidate_json(c) for c in decision.candidates]
            key = "clarify_product" if decision.facet == "products" else "clarify_code"
            names = self._option_names(ctx, decision.facet or "", decision.options)
            reply = self._say(ctx, key, options=" / ".join(names))
            return self._turn(ctx, "clarify", [reply], hits=list(decision.candidates))
        return await self._ask_missing(ctx, hits)

    async def _code_asked_before(
        self, ctx: _Context, decision: KbDecision, hits: list[Candidate]
    ) -> Answer:
        """The code was asked for and the reply gives none ("no code on the display, just
        clicks", "試咗，都係唔得"): the same question again would loop. The items themselves are
        offered by what they are, once; after that the customer is told what we cannot answer."""
        if "items" in ctx.frame.asked:
            return await self._fallback(ctx, hits)
        model = Mentions(frozenset(ctx.frame.products))
        fitting = [h for h in hits if _fits(h, model)] or list(decision.candidates)
        return self._offer_new(ctx, fitting[:3])

    def _option_names(self, ctx: _Context, facet: str, options: tuple[str, ...]) -> list[str]:
        if facet != "products":
            return list(options)
        names = self.knowledge.product_names(ctx.voice.lang)
        return [names.get(option, option) for option in options]

    def _clarified(self, ctx: _Context) -> Candidate | None:
        """The candidate the reply to a clarifying question names (model or code, or for
        "which model?" the words of one candidate's name: "三相50kW那台"), if any."""
        candidates = [Candidate(**c) for c in ctx.state.candidates]
        facet = ctx.state.clarify_facet or ""
        mentions = self.knowledge.mentions(ctx.inbound.text)
        if facet == "products" and not mentions.products:
            among = [p for c in candidates for p in c.products]
            named = self.knowledge.named_products(ctx.inbound.text, among)
            mentions = Mentions(named, mentions.codes, mentions.unknown_codes)
        return pick_candidate(candidates, facet, mentions)

    async def _picked(self, ctx: _Context, picked: Candidate) -> Answer:
        """The item a reply to "which model?" or "which code?" picked: answered when it carries
        the code the customer gave or was a confident hit. Otherwise the model picked only
        narrows a vague report ("having an issue" → "the hybrid one"): the frame, with that
        model, is decided again, and without an answer the customer is asked for the code or
        what they see rather than given a guess."""
        said = f"{ctx.state.query or ''} {ctx.inbound.text}"
        codes = set(ctx.frame.codes) | self.knowledge.mentions(said).codes
        confident = (picked.confidence or 0.0) >= self.knowledge.answer_confidence
        if set(picked.codes) & codes or confident:
            return self._answer(ctx, picked, [picked])
        ctx.state.reset()
        self._read_frame(ctx)
        if len(picked.products) == 1 and not set(picked.products) & set(ctx.frame.products):
            ctx.frame.products = list(picked.products)
        return await self._question(ctx, read=False)

    def _answer(self, ctx: _Context, item: Candidate, hits: list[Candidate]) -> Answer:
        text = self.knowledge.answer(item.id, ctx.voice.lang)
        query = ctx.state.query or ctx.inbound.text  # after a clarification: the first question
        ctx.state.reset()
        ctx.state.stage, ctx.state.answered_item, ctx.state.query = FEEDBACK, item.id, query
        ctx.state.candidates = [_candidate_json(item)]
        if item.id not in ctx.frame.suggested:
            ctx.frame.suggested.append(item.id)
        if len(item.products) == 1:
            # The model answered for stays: "唔係A120，係A101", "code A310" are about it.
            ctx.frame.products = list(item.products)
        ordered = [item, *[h for h in hits if h.id != item.id]]
        replies = [ctx.voice.render(text), self._say(ctx, "ask_solved")]
        return self._turn(ctx, "answer", replies, hits=ordered)

    async def _fallback(self, ctx: _Context, hits: list[Candidate]) -> Answer:
        """No good answer; the second one in a row hands the conversation to a person."""
        ctx.state.fallbacks += 1
        if self.texts.max_fallbacks and ctx.state.fallbacks >= self.texts.max_fallbacks:
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

    async def _start_collect(
        self, ctx: _Context, hits: list[Candidate], decision: KbDecision
    ) -> Answer:
        text, lang = ctx.inbound.text, ctx.voice.lang
        reader = self._reader(ctx)
        slots = reader.from_message(text, ctx.understanding.entity_map())
        if ctx.inbound.customer_facts().get("phone"):
            slots.setdefault("phone", ctx.inbound.customer_facts()["phone"])
        fault = decision.item if decision.kind == "answer" and decision.item else None
        if fault is not None and fault.type == "fault":
            ctx.state.request["fault_id"] = fault.id
            if len(fault.products) == 1:
                slots.setdefault("product", fault.products[0])
        units = self._units_named(text)
        if len(ctx.frame.products) == 1 or len(units) >= 2:
            # "NC-5HP and NE-12F", "一台岛柜和两台风幕柜": one visit for each unit named one by
            # one; the ticket is filed under the first, its summary lists them all.
            slots.setdefault("product", (units or ctx.frame.products)[0])
        symptom = ctx.frame.symptom() or text
        if len(symptom) >= MIN_SYMPTOM_CHARS.get(lang, 20):
            slots.setdefault("symptom", symptom)
        ctx.slots = slots
        ctx.state.stage = COLLECT
        ctx.state.request["category"] = self.texts.visit_category(ctx.understanding.intent, text)
        ctx.state.request["text"] = symptom
        return await self._ask_next(ctx, hits=[fault] if fault else [])

    def _units_named(self, text: str) -> list[str]:
        """Our products a message names one by one ("NC-5HP and NE-12F"): each part of it
        between "and", "和", commas names a single product; a word naming a kind of several
        ("发电机") names none of them alone."""
        units: list[str] = []
        for part in _LIST_PARTS.split(text):
            named = self.knowledge.mentions(part).products
            if len(named) == 1 and not named <= set(units):
                units.extend(named)
        return units

    async def _not_solved(self, ctx: _Context) -> Answer:
        """The KB answer did not help: go to the repair form with the fault filled in."""
        item = Candidate(**ctx.state.candidates[0]) if ctx.state.candidates else None
        query = ctx.state.query or ""
        ctx.state.reset()
        reader = self._reader(ctx)
        slots = reader.from_message(query, {})
        if ctx.inbound.customer_facts().get("phone"):
            slots.setdefault("phone", ctx.inbound.customer_facts()["phone"])
        frame = ctx.frame
        if len(frame.products) == 1:
            slots.setdefault("product", frame.products[0])
        if ctx.inbound.text.strip() and not self.texts.is_cue("no", ctx.inbound.text):
            frame.tried.append(ctx.inbound.text.strip())
        if item is not None:
            ctx.state.request["fault_id"] = item.id if item.type == "fault" else None
            if len(item.products) == 1:
                slots.setdefault("product", item.products[0])
            slots.setdefault("symptom", frame.symptom() or query or item.title)
        ctx.slots = slots
        ctx.state.stage = COLLECT
        ctx.state.request.update(category="repair", text=query)
        offer = self._say(ctx, "not_solved_offer")
        return await self._ask_next(ctx, lead=[offer])

    async def _ask_next(
        self, ctx: _Context, lead: list[str] | None = None, hits: list[Candidate] | None = None
    ) -> Answer:
        """The question for the form's next missing detail; the ticket once none is missing."""
        missing = next((slot for slot in SLOT_ORDER if not ctx.slots.get(slot)), None)
        if missing is None:
            return await self._create_ticket(ctx, lead or [], hits or [])
        ctx.state.pending_slot = missing
        options = self._reader(ctx).product_options() if missing == "product" else ""
        replies = [*(lead or []), self._say(ctx, f"ask_{missing}", options=options)]
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
            return await self._ask_next(ctx, lead=[self._say(ctx, value.error)])
        return await self._ask_next(ctx)

    async def _create_ticket(self, ctx: _Context, lead: list[str], hits: list[Candidate]) -> Answer:
        """The request's ticket, and a reply with its number, when it is due and what was
        noted (the customer corrects or adds to it by replying; the agent sees the whole
        conversation)."""
        request = await self._ticket_request(ctx, ctx.state.request.get("category") or "repair")
        ticket = await self.tickets.create(ctx.session, request)
        summary = self.ticket_writer(ctx.voice.lang).summary(ctx.slots, unknown=False)
        ctx.state.reset()
        ctx.state.stage, ctx.state.request = TICKETED, {"ticket_id": ticket["id"]}
        ctx.slots = {}
        ctx.frame = ctx.frame.next_topic()  # the problem is with the engineer now
        created = self._say(
            ctx,
            "ticket_created",
            ticket_id=ticket["id"],
            priority=ticket.get("priority", ""),
            due=due_text(ticket, self.customer_zone),
        )
        details = self._say(ctx, "ticket_details", summary=summary)
        return self._turn(ctx, "ticket", [*lead, created, details], ticket=ticket, hits=hits)

    async def _ticket_details(self, ctx: _Context) -> Answer | None:
        """What the customer adds right after their ticket is made ("紧急！停机了", "电话打错了，
        是139…", a serial number) goes on the ticket as a note, and an urgency raises its
        priority. A message without such a detail (a new question) goes the usual way."""
        found = self._reader(ctx).from_message(ctx.inbound.text, ctx.understanding.entity_map())
        ticket_id = str(ctx.state.request["ticket_id"])
        if not found.keys() & TICKET_DETAILS:
            return await self._ticket_again(ctx, ticket_id) if self._means(ctx, "yes") else None
        note = f"{self.texts.label('customer_added', ctx.voice.lang)}: {ctx.inbound.text}"
        ticket = await self.tickets.add_details(
            ctx.session, ticket_id, note[:MAX_NOTE_CHARS], found.get("urgency")
        )
        reply = self._say(
            ctx, "ticket_details_added", ticket_id=ticket_id, priority=ticket.get("priority", "")
        )
        return self._turn(ctx, "ticket", [reply], ticket=ticket)

    async def _ticket_again(self, ctx: _Context, ticket_id: str) -> Answer | None:
        """ "好的" / "confirm" after the ticket is made: it is registered, nothing more to do
        (customers used to being asked to confirm still do)."""
        ticket = await self.tickets.get(ctx.session, ticket_id, self._customer(ctx))
        if ticket is None:
            return None
        reply = self._say(
            ctx, "ticket_registered", ticket_id=ticket_id, priority=ticket.get("priority", "")
        )
        return self._turn(ctx, "ticket", [reply], ticket=ticket)

    async def _ticket_request(self, ctx: _Context, category: str) -> TicketRequest:
        """The form's details, what the diagnosis frame knows, and the conversation so far."""
        slots = ctx.slots
        frame = ctx.frame
        symptom = str(
            slots.get("symptom")
            or frame.symptom()
            or ctx.state.request.get("text")
            or ctx.inbound.text
        )
        await ctx.session.flush()
        history = await conversations.history(ctx.session, conversation_id=ctx.conversation.id)
        lines = [f"{'>' if m.direction == 'in' else '<'} {m.text}" for m in history]
        record = "\n".join(lines[-40:]) or ctx.inbound.text
        return self.ticket_writer(ctx.voice.lang).request(
            slots,
            symptom=symptom,
            category=category,
            customer=self._customer(ctx),
            fault_id=ctx.state.request.get("fault_id"),
            record=f"{self.texts.label('transcript', ctx.voice.lang)}:\n{record}",
            facts=self._frame_facts(ctx),
            subject=self._frame_subject(ctx, slots),
        )

    def _frame_facts(self, ctx: _Context) -> str:
        """What the frame knows, one `Label: value` line each (nothing it does not know)."""
        frame, lang = ctx.frame, ctx.voice.lang
        names = self.knowledge.product_names(lang)
        rows = [
            ("product", " / ".join(names.get(p, p) for p in frame.products)),
            ("codes", ", ".join(frame.codes)),
            ("described", " / ".join(frame.texts)),
            ("tried", " / ".join(frame.tried)),
            ("suggested", ", ".join(frame.suggested)),
            ("serial", frame.serial or ""),
            ("address", frame.site or ""),
            ("other_maker", frame.other_maker or ""),
        ]
        return "\n".join(f"{self.texts.label(k, lang)}: {v}" for k, v in rows if v)

    def _frame_subject(self, ctx: _Context, slots: dict[str, Any]) -> str | None:
        """The model, the codes, the problem in the customer's words and what was tried
        ("XX-200 E07 不制冷 (已尝试: 清洗滤网)"); None when the frame knows nothing."""
        frame = ctx.frame
        if frame.is_empty():
            return None
        names = self.knowledge.product_names(ctx.voice.lang)
        product = str(slots.get("product") or "") or (
            frame.products[0] if len(frame.products) == 1 else ""
        )
        words = str(slots.get("symptom") or "") or " ".join(frame.texts[-2:])
        for token in [*frame.products, *frame.codes]:
            words = words.replace(token, " ")
        parts = [names.get(product, product) if product else "", " ".join(frame.codes)]
        parts.append(" ".join(words.split()))
        if frame.tried:
            parts.append(f"({self.texts.label('tried', ctx.voice.lang)}: {frame.tried[-1]})")
        subject = " ".join(part for part in parts if part).strip()
        return subject or None

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
        customer = self._customer(ctx)
        open_tickets = [] if complaint else await self.tickets.open_for(ctx.session, customer)
        ctx.state.reset()
        ctx.state.stage = "handoff"
        ctx.conversation.status = CONVERSATION_HANDOFF
        if open_tickets:
            # "转人工" with a ticket open: the person picks up that ticket, not a second one.
            ticket = open_tickets[0]
            reply = self._say(ctx, "handoff_attached", ticket_id=ticket["id"])
            return self._turn(ctx, "handoff", [reply], ticket=ticket)
        request = await self._ticket_request(ctx, category)
        ticket = await self.tickets.create(ctx.session, request)
        key = "handoff_complaint" if complaint else "handoff"
        line = self._say(ctx, "ticket_line", ticket_id=ticket["id"])
        return self._turn(ctx, "handoff", [self._say(ctx, key, ticket_line=line)], ticket=ticket)

    async def _smalltalk(self, ctx: _Context, route: str) -> Answer:
        if not self.texts.is_cue(route, ctx.inbound.text):
            # "Hi, my BM-2 shows E01": the greeting does not hide a question the KB can answer.
            text = self.frame_reader().search_text(ctx.inbound.text)
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
        ctx.state.frame = ctx.frame.to_json()
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
        "category": candidate.category,
        "confidence": candidate.confidence,
    }


def _surest(parses: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Of the parses of a message as written and in its Mandarin form (Cantonese), the intent
    of the surer one, with the entities read from the text as written (the first): the NLU's
    Cantonese examples are fewer than its Mandarin ones ("保用幾耐" reads as maintenance,
    "保修多久" as warranty)."""
    first, *others = parses
    best = max([first, *others], key=lambda parse: parse["intent"]["confidence"])
    return {**first, "intent": best["intent"], "intent_ranking": best.get("intent_ranking", [])}


def _phrase(texts: DialogueTexts, group: str, text: str) -> bool:
    return phrase_match(texts, group, text)


def _overlap(reply: str, label: str) -> int:
    """How much a reply names an option: the whole reply inside it, or shared words (Latin) and
    character pairs (Chinese)."""
    reply = reply.strip()
    if len(reply) >= 2 and reply in label:
        return 100
    words = {w for w in re.findall(r"[a-z]{4,}", reply)} & set(re.findall(r"[a-z]{4,}", label))
    pairs = {reply[i : i + 2] for i in range(len(reply) - 1)}
    cjk_pairs = {p for p in pairs if re.fullmatch(r"[\u3400-\u9fff]{2}", p) and p in label}
    return len(words) * 2 + len(cjk_pairs)


def _beyond_label(reply: str, label: str) -> bool:
    """The reply says more than the option's words: two Chinese characters or a word of four
    letters that the label does not have."""
    rest = [c for c in reply if has_chinese(c) and c not in label]
    words = [w for w in re.findall(r"[a-z]{4,}", reply) if w not in label]
    return len(rest) >= 2 or bool(words)


def _surer(frame_hits: list[Candidate], hits: list[Candidate], mentions: Mentions) -> bool:
    """The frame's best hit fits its models and codes and is more confident than the message's
    own best hit."""
    if not frame_hits or not _fits(frame_hits[0], mentions):
        return False
    best = (hits[0].confidence or 0.0) if hits else 0.0
    return (frame_hits[0].confidence or 0.0) > best


def _fits(candidate: Candidate, mentions: Mentions) -> bool:
    for named, own in ((mentions.products, candidate.products), (mentions.codes, candidate.codes)):
        if named and own and not named & set(own):
            return False
    return True


@lru_cache(maxsize=8)
def _name_patterns(names: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """The KB's names as written and in Simplified script, longest first, compiled once per
    KB: they are taken out of messages several times a turn, and a KB of many products has
    more names than `re` keeps compiled."""
    words = {*names, *(to_simplified(name) for name in names)}
    ordered = sorted((word for word in words if len(word) >= 2), key=lambda w: (-len(w), w))
    return tuple(re.compile(_name_pattern(word), re.IGNORECASE) for word in ordered)


def _name_pattern(word: str) -> str:
    """A name as it is written in messages: a model number with or without its separators
    ("AS450", "AS 450", "AS-450"), in the plural ("our two HX-75s"), never inside a longer one
    ("AS-45" is not in "AS-450")."""
    if has_chinese(word):
        return re.escape(word)
    runs = [re.escape(run) for run in re.findall(r"[A-Za-z]+|\d+", word)]
    if not runs:
        return re.escape(word)
    return r"(?<![A-Za-z0-9])" + r"[\s\-_.]?".join(runs) + r"(?:'?s)?(?![A-Za-z0-9])"
