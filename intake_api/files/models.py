"""The `files` table (one row per attachment of a message) and the API shape of a file."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.columns import UtcDateTime, utcnow
from core.database import Base


class StoredFile(Base):
    """An attachment: its blob is `sha256` in the store (shared by identical files); its
    conversation is its message's (`inbound_messages`, by channel and message_id)."""

    __tablename__ = "files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image / voice / file
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    channel: Mapped[str] = mapped_column(String(64))
    sender_id: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text, nullable=True)  # OCR or speech recognition
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)

    __table_args__ = (Index("ix_files_message", "channel", "message_id"),)


class FileRead(BaseModel):
    """A file as the agent workspace and the customer's chat see it: `url` is signed and
    expires (`url_expires_at`)."""

    id: str
    kind: str
    content_type: str
    size: int
    name: str | None
    message_id: str
    text: str | None
    created_at: datetime
    url: str
    url_expires_at: datetime
