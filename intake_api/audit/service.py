"""Writing and reading the audit log; the caller owns the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.logs import mask_personal_data
from intake_api.audit.models import AuditEntry
from intake_api.pagination import PageRequest


def _masked(value: Any) -> Any:
    """Phone numbers and e-mail addresses masked in every string of a JSON-like value."""
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit row (personal data masked) to the caller's transaction."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        changes=_masked(changes or {}),
    )
    session.add(entry)
    return entry


def _filtered(
    query: Select[Any],
    *,
    actor: str | None,
    action: str | None,
    entity: str | None,
    entity_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Any]:
    conditions = [
        column == value
        for column, value in (
            (AuditEntry.actor, actor),
            (AuditEntry.action, action),
            (AuditEntry.entity, entity),
            (AuditEntry.entity_id, entity_id),
        )
        if value is not None
    ]
    if since is not None:
        conditions.append(AuditEntry.at >= since)
    if until is not None:
        conditions.append(AuditEntry.at < until)
    return query.where(*conditions)


async def get_all(
    session: AsyncSession,
    *,
    page: PageRequest,
    actor: str | None = None,
    action: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[AuditEntry], int]:
    """A page of audit rows in the order `page` names, and the total matching the filters."""
    query = _filtered(
        select(AuditEntry),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        since=since,
        until=until,
    )
    return await page.fetch(session, query, tiebreak=AuditEntry.id)
