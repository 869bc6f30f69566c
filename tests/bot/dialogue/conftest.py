"""The dialogue on a real knowledge base (tests/bot/dialogue/kb.yaml), real tickets and DB."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.knowledge import ServiceKnowledge, open_folder
from bot.dialogue.ports import Interpreter, Knowledge, NoInterpreter
from bot.triage import load_policy
from core.database import unit_of_work
from core.messages import Answer, InboundMessage
from intake_api.messages.desk import BotTicketDesk

KB_FILE = Path(__file__).with_name("kb.yaml")
BENCH = Path(__file__).resolve().parents[3] / "bench" / "data"

Say = Callable[..., Awaitable[Answer]]
_message_ids = itertools.count(1)


@pytest.fixture(scope="session")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> ServiceKnowledge:
    """The test KB, indexed once for the whole run (the encoder loads in a few seconds)."""
    return open_folder(KB_FILE, tmp_path_factory.mktemp("dialogue-index"))


BenchKb = Callable[[str], ServiceKnowledge]


@pytest.fixture(scope="session")
def bench_kb(tmp_path_factory: pytest.TempPathFactory) -> BenchKb:
    """The knowledge bases of the repository's benchmark sets (`bench/data/<path>`), each
    indexed once for the whole run."""
    opened: dict[str, ServiceKnowledge] = {}

    def open_set(path: str) -> ServiceKnowledge:
        if path not in opened:
            index = tmp_path_factory.mktemp(path.split("/")[0])
            opened[path] = open_folder(BENCH / path, index)
        return opened[path]

    return open_set


class FixedIntent(NoInterpreter):
    """An NLU that reads every message as `intent` at a fixed `confidence`."""

    def __init__(self, intent: str, confidence: float = 0.95) -> None:
        self.intent = intent
        self.confidence = confidence

    def parse(self, text: str) -> dict:
        intent = {"name": self.intent, "confidence": self.confidence}
        return {"text": text, "intent": intent, "entities": []}


def engine(knowledge: Knowledge, interpreter: Interpreter | None = None) -> DialogueEngine:
    """The dialogue over `knowledge`, with `interpreter` as its NLU (none by default)."""
    return DialogueEngine(
        knowledge=knowledge,
        interpreter=interpreter or NoInterpreter(),
        tickets=BotTicketDesk(load_policy(None)),
    )


def saying(dialogue: DialogueEngine, sessions: async_sessionmaker[AsyncSession]) -> Say:
    """Send one customer message to `dialogue` (its own transaction, as the messages flow
    does)."""

    async def send(text: str, sender: str = "alice", **customer: str) -> Answer:
        inbound = InboundMessage.model_validate(
            {
                "channel": "test",
                "sender_id": sender,
                "message_id": f"m{next(_message_ids)}",
                "text": text,
                "customer": customer or None,
            }
        )
        async with unit_of_work(sessions) as session:
            return await dialogue.handle(session, inbound)

    return send


@pytest.fixture
def dialogue(knowledge: ServiceKnowledge) -> DialogueEngine:
    return engine(knowledge)


@pytest.fixture
def say(dialogue: DialogueEngine, sessions: async_sessionmaker[AsyncSession]) -> Say:
    """Send one customer message (its own transaction, as the messages flow does)."""
    return saying(dialogue, sessions)
