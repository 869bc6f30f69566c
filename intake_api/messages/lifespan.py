"""Start-up of the messages domain: the composition root of the bot.

It hands the dialogue the service's knowledge base (`app.state.kb`), the NLU interpreter and
the ticket desk, and puts the `MessageDesk` every channel uses on `app.state.messages`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.knowledge import GraphKnowledge
from bot.dialogue.ports import Interpreter, NoInterpreter
from intake_api.events.stream import publish_committed
from intake_api.messages.desk import BotTicketDesk
from intake_api.messages.flows import MessageDesk


def load_interpreter() -> Interpreter:
    """The NLU interpreter trained on the bundled `bot/data/nlu.yml`."""
    return NoInterpreter()


def service_knowledge(kb: object) -> GraphKnowledge:
    """The dialogue's view of the service's knowledge base."""
    return GraphKnowledge(
        search=kb.search,  # type: ignore[attr-defined]
        answer=kb.answer,  # type: ignore[attr-defined]
        graph=kb.graph,  # type: ignore[attr-defined]
        threshold=kb.threshold,  # type: ignore[attr-defined]
    )


@asynccontextmanager
async def messages_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the bot once per process; conversations live in the database, not here."""
    dialogue = DialogueEngine(
        knowledge=service_knowledge(app.state.kb),
        interpreter=getattr(app.state, "nlu", None) or load_interpreter(),
        tickets=BotTicketDesk(app.state.sla_policy),
    )
    app.state.messages = MessageDesk(
        sessions=app.state.sessions, dialogue=dialogue, publish=partial(publish_committed, app)
    )
    yield
