"""Idempotency-key rows over a session; the caller owns the transaction."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from intake_api.idempotency.models import IdempotencyKey


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and body (JSON compared by value, so
    key order and spacing do not matter)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


async def find(session: AsyncSession, *, owner: str, key: str) -> IdempotencyKey | None:
    return await session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
    )


async def complete(session: AsyncSession, *, row_id: int, response: dict[str, Any]) -> None:
    """Store the first response, which every repeat of the key then gets."""
    row = await session.get(IdempotencyKey, row_id)
    if row is not None:
        row.response = response


async def forget(session: AsyncSession, *, row_id: int) -> None:
    """Drop a key whose first request failed (or was abandoned), so a retry runs again."""
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    """Delete every key past its expiry; how many went."""
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
