"""Start-up of the messages domain: the composition root of the bot.

It hands the dialogue the service's knowledge base (`app.state.kb`), the NLU interpreter
(`app.state.nlu`, trained and cached under the data dir when not given) and the ticket desk, and
puts the `MessageDesk` every channel uses on `app.state.messages`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.knowledge import ServiceKnowledge
from bot.dialogue.ports import Interpreter
from bot.nlu import load_or_train
from intake_api.events.stream import publish_committed
from intake_api.logs import get_logger
from intake_api.messages.desk import BotTicketDesk
from intake_api.messages.flows import MessageDesk
from intake_api.settings import Settings

log = get_logger(__name__)


def nlu_model_dir(settings: Settings) -> Path:
    """Where the trained NLU model is kept (retrained only when the bundled data changes)."""
    return settings.data_dir / "nlu-model"


def load_interpreter(model_dir: Path) -> Interpreter:
    """The NLU interpreter of the bundled training data (`bot/data/nlu/`)."""
    return load_or_train(model_dir)


@asynccontextmanager
async def messages_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the bot once per process; conversations live in the database, not here."""
    interpreter = getattr(app.state, "nlu", None)
    if interpreter is None:
        interpreter = await asyncio.to_thread(load_interpreter, nlu_model_dir(app.state.settings))
        app.state.nlu = interpreter
        log.info("NLU model ready")
    dialogue = DialogueEngine(
        knowledge=ServiceKnowledge(app.state.kb),
        interpreter=interpreter,
        tickets=BotTicketDesk(app.state.sla_policy),
    )
    app.state.messages = MessageDesk(
        sessions=app.state.sessions, dialogue=dialogue, publish=partial(publish_committed, app)
    )
    yield
