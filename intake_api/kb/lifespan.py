"""Start-up of the knowledge base domain: the demo KB when the store is empty, then the service.

The search index lives under the data dir (`settings.index_dir`) and is reused across restarts
without re-embedding; only items changed since it was written are embedded again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import unit_of_work
from core.logs import get_logger
from core.settings import Settings
from intake_api.services import services
from knowledge_base.loader import read_knowledge_base
from knowledge_base.service import KnowledgeService
from knowledge_base.store import import_knowledge_base, is_empty, kb_revision

DEMO_KB_DIR = Path(__file__).resolve().parents[2] / "knowledge_base" / "demo"
REVISION_POLL_SECONDS = 2.0  # how soon a running server sees an import made elsewhere

log = get_logger(__name__)


async def load_demo_if_empty(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Import the bundled demo KB into an empty store; True when it did."""
    async with unit_of_work(sessions) as session:
        if not await is_empty(session):
            return False
        await import_knowledge_base(session, read_knowledge_base(DEMO_KB_DIR))
    log.info("demo knowledge base loaded", path=str(DEMO_KB_DIR))
    return True


async def follow_imports(
    service: KnowledgeService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Refresh the service when the stored KB revision moves (an import by `aftersales kb
    import` in another process, or by another worker)."""
    while True:
        await asyncio.sleep(REVISION_POLL_SECONDS)
        try:
            async with sessions() as session:
                revision = await kb_revision(session)
            if revision != service.graph.revision:
                report = await service.refresh(sessions)
                log.info("knowledge base refreshed", revision=revision, **report.__dict__)
        except Exception as exc:  # noqa: BLE001 - keep serving the KB it has; try again later
            log.warning("knowledge base refresh failed", error=str(exc))


@asynccontextmanager
async def kb_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Put the `KnowledgeService` on `services(app).kb` and keep it in step with the store."""
    settings: Settings = services(app).settings
    if settings.load_demo_kb:
        await load_demo_if_empty(services(app).sessions)
    services(app).kb = await KnowledgeService.open(
        services(app).sessions, settings.index_dir, settings.embedding_model
    )
    log.info("knowledge base ready", items=len(services(app).kb.index))
    follower = asyncio.create_task(follow_imports(services(app).kb, services(app).sessions))
    try:
        yield
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
