"""The files desk: takes a message's attachments in (checked, stored by content), records them
beside the message, hands out signed URLs, serves the bytes, and deletes what is due."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.columns import utcnow
from core.errors import NotFound, PayloadTooLarge, Unprocessable
from core.logs import get_logger
from core.messages import Attachment, InboundMessage
from intake_api.files import service
from intake_api.files.checks import CheckedFile, check, decode_base64
from intake_api.files.models import FileRead, StoredFile
from intake_api.files.signing import UrlSigner
from intake_api.files.store import BlobStore, content_key

log = get_logger(__name__)

FETCH_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class TakenFile:
    """One attachment checked and stored; `text` is what was read off it (OCR)."""

    file_id: str
    sha256: str
    checked: CheckedFile
    name: str | None
    text: str | None = None


@dataclass
class TakenFiles:
    """A message whose attachments point at stored files (no bytes inline any more)."""

    message: InboundMessage
    files: list[TakenFile] = field(default_factory=list)

    @property
    def images(self) -> list[bytes]:
        return [f.checked.data for f in self.files if f.checked.content_type.startswith("image/")]

    @property
    def voice_notes(self) -> int:
        """Voice notes that came, stored or by reference only."""
        return sum(1 for a in self.message.attachments if a.type == "voice")

    @property
    def unread_images(self) -> int:
        """Photos that came by reference only (the platform's copy could not be fetched)."""
        return sum(1 for a in self.message.attachments if a.type == "image" and not a.file_id)


@dataclass
class FileLimits:
    max_bytes: int
    allowed_types: list[str]
    retention_days: float


@dataclass
class FileDesk:
    sessions: async_sessionmaker[AsyncSession]
    store: BlobStore
    signer: UrlSigner
    limits: FileLimits

    async def take(self, data: InboundMessage) -> TakenFiles:
        """Check and store every attachment that carries bytes or a URL; the first one refused
        refuses the message (a 4xx naming why), before anything is recorded."""
        taken: list[TakenFile] = []
        attachments: list[Attachment] = []
        for number, attachment in enumerate(data.attachments):
            raw = await self._bytes(attachment, number)
            if raw is None:  # a platform reference only: kept as it is
                attachments.append(attachment.model_copy(update={"file_id": None}))
                continue
            file = await asyncio.to_thread(self._check_and_store, attachment, raw)
            taken.append(file)
            attachments.append(
                attachment.model_copy(
                    update={
                        "data_base64": None,
                        "file_id": file.file_id,
                        "content_type": file.checked.content_type,
                    }
                )
            )
        return TakenFiles(data.model_copy(update={"attachments": tuple(attachments)}), taken)

    def _check_and_store(self, attachment: Attachment, raw: bytes) -> TakenFile:
        checked = check(
            raw,
            kind=attachment.type,
            declared=attachment.content_type,
            max_bytes=self.limits.max_bytes,
            allowed=self.limits.allowed_types,
        )
        key = content_key(checked.data)
        self.store.put(key, checked.data)
        return TakenFile(uuid.uuid4().hex, key, checked, attachment.name)

    async def _bytes(self, attachment: Attachment, number: int) -> bytes | None:
        if attachment.data_base64:
            return decode_base64(attachment.data_base64, self.limits.max_bytes)
        if attachment.url:
            return await self._fetch(attachment.url, number)
        return None

    async def _fetch(self, url: str, number: int) -> bytes:
        """The bytes at an attachment's http(s) URL, no more than the size limit."""
        if not url.startswith(("http://", "https://")):
            raise Unprocessable(f"attachments[{number}].url must be an http(s) URL")
        limit = self.limits.max_bytes
        try:
            async with (
                httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise Unprocessable(
                        f"attachments[{number}].url answered {response.status_code}", url=url
                    )
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise PayloadTooLarge(f"attachment larger than the limit of {limit} bytes")
                return bytes(body)
        except httpx.HTTPError as exc:
            raise Unprocessable(f"attachments[{number}].url could not be fetched: {exc}") from exc

    def record(self, session: AsyncSession, message: InboundMessage, taken: TakenFiles) -> None:
        """The file rows, in the transaction that stores their message."""
        for file in taken.files:
            session.add(
                StoredFile(
                    id=file.file_id,
                    sha256=file.sha256,
                    kind=file.checked.kind,
                    content_type=file.checked.content_type,
                    size=len(file.checked.data),
                    name=file.name,
                    channel=message.channel,
                    sender_id=message.sender_id,
                    message_id=message.message_id,
                    text=file.text,
                )
            )

    def read_model(self, row: StoredFile, base: str = "") -> FileRead:
        """A file with a fresh signed URL (under `base`, e.g. the public URL)."""
        url, expires = self.signer.url(row.id, base=base)
        return FileRead(
            id=row.id,
            kind=row.kind,
            content_type=row.content_type,
            size=row.size,
            name=row.name,
            message_id=row.message_id,
            text=row.text,
            created_at=row.created_at,
            url=url,
            url_expires_at=datetime.fromtimestamp(expires, UTC),
        )

    async def of_conversation(self, conversation_id: str, base: str = "") -> list[FileRead]:
        """The conversation's files with signed URLs (the agent workspace shows them)."""
        async with self.sessions() as session:
            rows = await service.of_conversation(session, conversation_id)
        return [self.read_model(row, base) for row in rows]

    async def content(self, file_id: str) -> tuple[StoredFile, bytes]:
        """A file's row and bytes; 404 when it is not (or no longer) stored."""
        async with self.sessions() as session:
            row = await service.get(session, file_id)
        data = await asyncio.to_thread(self.store.get, row.sha256) if row else None
        if row is None or data is None:
            raise NotFound("no such file", file_id=file_id)
        return row, data

    async def delete_conversation(self, conversation_id: str) -> int:
        """Delete a conversation's files (rows and the blobs nothing else uses)."""
        async with self.sessions.begin() as session:
            rows = await service.of_conversation(session, conversation_id)
            unused = await service.delete_rows(session, rows)
        await self._delete_blobs(unused)
        return len(rows)

    async def purge(self, now: datetime | None = None) -> int:
        """Delete the files past retention and those whose conversation is gone."""
        cutoff = (now or utcnow()) - timedelta(days=self.limits.retention_days)
        async with self.sessions.begin() as session:
            rows = await service.expired(session, cutoff)
            unused = await service.delete_rows(session, rows)
        await self._delete_blobs(unused)
        if rows:
            log.info("files deleted", count=len(rows), blobs=len(unused))
        return len(rows)

    async def _delete_blobs(self, keys: list[str]) -> None:
        for key in keys:
            await asyncio.to_thread(self.store.delete, key)
