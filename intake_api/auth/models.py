"""API keys (only a hash is stored; the key is shown once) and the caller identity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.columns import UtcDateTime, utcnow
from core.database import Base
from intake_api.limits.text import limit

Scope = Literal[
    "tickets:read",
    "tickets:write",
    "messages:write",
    "agents",
    "kb:write",
    "assets:read",
    "assets:write",
    "alarms:read",
    "alarms:write",
    "admin",
]
SCOPES: tuple[str, ...] = get_args(Scope)


class ApiKey(Base):
    """A key is `as_<prefix>_<secret>`; `prefix` finds the row, `key_hash` proves the secret."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ApiKeyCreate(BaseModel):
    name: Annotated[str, limit(100, min_length=1, strip=True)]
    scopes: list[Scope] = Field(min_length=1)


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The API key itself; shown only this once.")


@dataclass(frozen=True)
class Principal:
    """Who is calling: `actor` goes into the audit log and ticket events."""

    actor: str
    scopes: frozenset[str]
    key_id: int | None = None
    # A signed-in agent (cookie session): their account id, display name and role.
    agent_id: int | None = None
    name: str | None = None
    role: str | None = None

    @property
    def is_admin_key(self) -> bool:
        """AFTERSALES_ADMIN_KEY: the operator's key, exempt from rate limits."""
        return self.key_id is None and self.agent_id is None

    def allows(self, scope: str) -> bool:
        """The admin scope includes every other."""
        return "admin" in self.scopes or scope in self.scopes
