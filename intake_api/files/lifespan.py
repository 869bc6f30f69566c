"""Start-up of the files domain: the store, the URL signer, the desk, and the hourly
retention job."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from core.logs import get_logger
from core.settings import Settings
from intake_api.files.flows import FileDesk, FileLimits
from intake_api.files.s3 import FileStoreUnavailable, S3BlobStore
from intake_api.files.signing import UrlSigner, signing_key
from intake_api.files.store import BlobStore, LocalBlobStore
from intake_api.services import services

log = get_logger(__name__)
PURGE_EVERY_SECONDS = 3600.0


@asynccontextmanager
async def files_lifespan(app: FastAPI) -> AsyncIterator[None]:
    shared = services(app)
    settings = shared.settings
    key = await asyncio.to_thread(signing_key, settings.file_signing_key, settings.data_dir)
    desk = FileDesk(
        sessions=shared.sessions,
        store=await _store(settings),
        signer=UrlSigner(key, settings.file_url_seconds),
        limits=FileLimits(
            max_bytes=settings.max_attachment_bytes,
            allowed_types=list(settings.attachment_types),
            retention_days=settings.file_retention_days,
        ),
    )
    shared.files = desk
    job = asyncio.create_task(_purge_forever(desk))
    try:
        yield
    finally:
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job


async def _store(settings: Settings) -> BlobStore:
    """The configured blob store; an S3 bucket that does not answer is logged, not fatal (each
    attachment is then refused with a 503 until it does)."""
    if settings.files_store == "local":
        return LocalBlobStore(settings.files_dir or settings.data_dir / "files")
    store = S3BlobStore.from_settings(settings)
    try:
        await asyncio.to_thread(store.check)
    except FileStoreUnavailable as exc:
        log.warning("file store not ready at start-up", error=exc.message)
    return store


async def _purge_forever(desk: FileDesk) -> None:
    while True:
        try:
            await desk.purge()
        except Exception as exc:  # a failed sweep is retried at the next one
            log.warning("files purge failed", error=repr(exc))
        await asyncio.sleep(PURGE_EVERY_SECONDS)
