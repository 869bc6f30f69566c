"""Start-up of the knowledge base domain: the demo KB when the store is empty, then the service.

The search index lives under the data dir (`settings.index_dir`) and is reused across restarts
without re-embedding; only items changed since it was written are embedded again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake_api.logs import get_logger
from intake_api.settings import Settings
from intake_api.storage.db import unit_of_work
from knowledge_base.loader import read_knowledge_base
from knowledge_base.service import KnowledgeService
from knowledge_base.store import import_knowledge_base, is_empty

DEMO_KB_DIR = Path(__file__).resolve().parents[2] / "knowledge_base" / "demo"

log = get_logger(__name__)


async def load_demo_if_empty(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Import the bundled demo KB into an empty store; True when it did."""
    async with unit_of_work(sessions) as session:
        if not await is_empty(session):
            return False
        await import_knowledge_base(session, read_knowledge_base(DEMO_KB_DIR))
    log.info("demo knowledge base loaded", path=str(DEMO_KB_DIR))
    return True


@asynccontextmanager
async def kb_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Put the `KnowledgeService` on `app.state.kb`."""
    settings: Settings = app.state.settings
    if settings.load_demo_kb:
        await load_demo_if_empty(app.state.sessions)
    app.state.kb = await KnowledgeService.open(
        app.state.sessions, settings.index_dir, settings.embedding_model
    )
    log.info("knowledge base ready", items=len(app.state.kb.index))
    yield
