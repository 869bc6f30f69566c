"""Figures read from the conversations' lines: why the bot handed conversations to a person,
and the knowledge gaps (the customer questions the bot could not answer, grouped).

A hand-off reason is read from the bot's line before its first hand-off line in a conversation:
after a `fallback` the bot found no answer, after a `clarify` the customer declined the choices,
after an `answer` the answer did not help; a complaint ticket makes it a complaint; otherwise
the customer asked for a person. A knowledge gap is the customer's line right before a
`fallback` line, grouped by the alarm code it names, else by its first words.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.dialogue.models import Conversation, ConversationMessage
from intake_api.kpis.models import KnowledgeGap
from intake_api.tickets.models import Ticket
from knowledge_base.format import detect_lang

MAX_GAP_LINES = 20_000  # the most recent unanswered questions read per window
TOP_GAPS = 20
EXAMPLES = 5
REASONS = {
    "fallback": "no answer found",
    "clarify": "declined the choices",
    "answer": "answer did not help",
}
ASKED = "asked for a person"
COMPLAINT = "complaint"
_CODE = re.compile(r"\b([A-Za-z]{1,3})[-\s]?(\d{1,4})\b")
_WORD = re.compile(r"[a-z0-9']+")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "our",
        "is",
        "are",
        "was",
        "it",
        "its",
        "to",
        "of",
        "on",
        "in",
        "for",
        "and",
        "or",
        "i",
        "we",
        "you",
        "do",
        "does",
        "can",
        "how",
        "what",
        "why",
        "please",
        "help",
        "me",
        "with",
        "this",
        "that",
        "there",
        "have",
        "has",
        "not",
        "no",
    ]
)


def _lines_in(
    line: type[ConversationMessage],
    start: datetime,
    end: datetime,
    channel: str | None,
    action: str,
) -> ColumnElement[bool]:
    """The bot's `action` lines of the window (of one channel's conversations, if given)."""
    window = and_(
        line.created_at >= start,
        line.created_at < end,
        line.direction == "out",
        line.action == action,
    )
    if not channel:
        return window
    of_channel = select(Conversation.id).where(Conversation.channel == channel)
    return and_(window, line.conversation_id.in_(of_channel))


async def handoff_reasons(
    session: AsyncSession, *, start: datetime, end: datetime, channel: str | None
) -> dict[str, int]:
    """How many conversations were handed to a person in the window, by reason."""
    first = (
        select(
            ConversationMessage.conversation_id.label("conversation_id"),
            func.min(ConversationMessage.id).label("id"),
        )
        .where(_lines_in(ConversationMessage, start, end, channel, "handoff"))
        .group_by(ConversationMessage.conversation_id)
        .subquery()
    )
    # per conversation, the bot's line before its first hand-off, and whether a complaint was
    # filed: an index probe each, a row per handed-off conversation
    earlier = aliased(ConversationMessage)
    before = (
        select(earlier.action)
        .where(
            earlier.conversation_id == first.c.conversation_id,
            earlier.direction == "out",
            earlier.id < first.c.id,
        )
        .order_by(earlier.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    complained = exists().where(
        Ticket.conversation_id == first.c.conversation_id, Ticket.category == "complaint"
    )
    rows = await session.execute(select(before, complained).select_from(first))
    reasons = Counter(
        COMPLAINT if complaint else REASONS.get(str(action), ASKED) for action, complaint in rows
    )
    return dict(reasons.most_common())


def gap_label(question: str) -> str:
    """The group of an unanswered question: the alarm code it names, else its first words."""
    code = _CODE.search(question)
    if code:
        return f"{code.group(1).upper()}{code.group(2)}"
    if _HAN.search(question):
        return "".join(_HAN.findall(question))[:6]
    words = [word for word in _WORD.findall(question.lower()) if word not in _STOP]
    return " ".join(words[:3]) or question.strip()[:30]


async def knowledge_gaps(
    session: AsyncSession, *, start: datetime, end: datetime, channel: str | None
) -> list[KnowledgeGap]:
    """The customer questions the bot answered with its fallback, grouped, largest first."""
    fallback = aliased(ConversationMessage)
    asked = aliased(ConversationMessage)
    question = (
        select(asked.text)
        .where(
            asked.conversation_id == fallback.conversation_id,
            asked.id < fallback.id,
            asked.direction == "in",
        )
        .order_by(asked.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.scalars(
        select(question)
        .select_from(fallback)
        .where(_lines_in(fallback, start, end, channel, "fallback"))
        .order_by(fallback.id.desc())
        .limit(MAX_GAP_LINES)
    )
    groups: dict[str, list[str]] = {}
    for text in rows:
        if text and text.strip():
            groups.setdefault(gap_label(text), []).append(text.strip())
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))[:TOP_GAPS]
    return [
        KnowledgeGap(
            label=label,
            count=len(questions),
            examples=list(dict.fromkeys(questions))[:EXAMPLES],
            lang=detect_lang(questions[0]),
        )
        for label, questions in ranked
    ]
