"""Start-up of the messages domain: the composition root of the bot.

It hands the dialogue the service's knowledge base (`services(app).kb`), the NLU interpreter
(`services(app).nlu`, trained and cached under the data dir when not given) and the ticket desk, and
puts the `MessageDesk` every channel uses on `services(app).messages`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.knowledge import ServiceKnowledge
from bot.dialogue.ports import Interpreter
from bot.media.ocr import PhotoReader, RapidOcr
from bot.nlu import DEFAULT_DATA, default_pipeline, load_or_train
from bot.nlu.training import fingerprint
from core.settings import Settings
from intake_api.events.stream import publish_committed, publish_conversation_changed
from intake_api.messages.desk import BotTicketDesk
from intake_api.messages.flows import MessageDesk
from intake_api.services import services


def nlu_model_dir(settings: Settings) -> Path:
    """Where the trained NLU model is kept (retrained only when the bundled data changes)."""
    return settings.data_dir / "nlu-model"


_interpreters: dict[str, Interpreter] = {}
_interpreters_lock = threading.Lock()


def load_interpreter(model_dir: Path) -> Interpreter:
    """The NLU interpreter of the bundled training data (`bot/data/nlu/`): trained once per
    data version, kept in `model_dir` across restarts and in memory across apps of a process."""
    key = fingerprint([DEFAULT_DATA], default_pipeline())
    with _interpreters_lock:
        if key not in _interpreters:
            _interpreters[key] = load_or_train(model_dir)
        return _interpreters[key]


@asynccontextmanager
async def messages_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the bot once per process; conversations live in the database, not here."""
    shared = services(app)
    if shared.nlu is None:
        model_dir = nlu_model_dir(shared.settings)
        shared.nlu = await asyncio.to_thread(load_interpreter, model_dir)
    dialogue = DialogueEngine(
        knowledge=ServiceKnowledge(shared.kb),
        interpreter=shared.nlu,
        tickets=BotTicketDesk(shared.sla_policy),
        customer_zone=shared.settings.customer_timezone,
    )
    shared.messages = MessageDesk(
        sessions=shared.sessions,
        dialogue=dialogue,
        publish=partial(publish_committed, app),
        changed=partial(publish_conversation_changed, app),
        files=shared.files,
        photos=PhotoReader(RapidOcr(), dialogue.knowledge.mentions),
    )
    yield
