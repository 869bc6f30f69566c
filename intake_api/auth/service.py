"""Creating, listing, revoking and checking API keys; the caller owns the transaction."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.columns import utcnow
from core.errors import Conflict, NotFound, ServiceError
from intake_api.audit import service as audit
from intake_api.auth.models import SCOPES, ApiKey, Principal

KEY_PREFIX = "as_"
_HEX_PREFIX = re.compile(r"[0-9a-f]{8}")
ADMIN_ACTOR = "admin"


def _hash(key: str) -> str:
    # Keys carry 256 random bits, so a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(key.encode()).hexdigest()


def _prefix_of(key: str) -> str | None:
    """The lookup prefix of `as_<prefix>_<secret>` (the secret may itself hold underscores)."""
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, _, secret = key[len(KEY_PREFIX) :].partition("_")
    return prefix if secret and _HEX_PREFIX.fullmatch(prefix) else None


async def create(
    session: AsyncSession, *, name: str, scopes: list[str], actor: str
) -> tuple[ApiKey, str]:
    """A new key row and the key itself (never stored, shown once)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ServiceError(
            f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}", scopes=unknown
        )
    if not scopes:
        raise ServiceError(f"give at least one scope; known: {', '.join(SCOPES)}")
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(name=name, prefix=prefix, key_hash=_hash(key), scopes=sorted(set(scopes)))
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="apikey.created",
        entity="api_key",
        entity_id=str(row.id),
        changes={"name": name, "scopes": row.scopes},
    )
    return row, key


async def get_all(session: AsyncSession) -> list[ApiKey]:
    """Every key, oldest first (revoked ones included)."""
    return list(await session.scalars(select(ApiKey).order_by(ApiKey.id)))


async def revoke(session: AsyncSession, *, key_id: int, actor: str) -> ApiKey:
    """Revoke a key; it stops working at once."""
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} not found", id=key_id)
    if row.revoked_at is not None:
        raise Conflict(f"API key {key_id} is already revoked", id=key_id)
    row.revoked_at = utcnow()
    await audit.record(
        session, actor=actor, action="apikey.revoked", entity="api_key", entity_id=str(key_id)
    )
    return row


async def authenticate(
    session: AsyncSession, *, key: str, admin_key: str | None
) -> Principal | None:
    """The principal of a presented key, or None when it is unknown or revoked."""
    if admin_key and hmac.compare_digest(key.encode(), admin_key.encode()):
        return Principal(actor=ADMIN_ACTOR, scopes=frozenset(SCOPES))
    prefix = _prefix_of(key)
    if prefix is None:
        return None
    row = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(key)):
        return None
    return Principal(
        actor=f"apikey:{row.id}:{row.name}", scopes=frozenset(row.scopes), key_id=row.id
    )
