"""`GET /v1/audit`: the audit log, filtered and paged (admin scope)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request

from core.database import unit_of_work
from intake_api.audit import service
from intake_api.audit.models import AuditPage, AuditRead
from intake_api.auth.dependencies import request_sessions, require_scopes
from intake_api.auth.models import Principal
from intake_api.auth.responses import AUTHENTICATED
from intake_api.limits.text import NO_NUL

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=AUTHENTICATED)


@router.get("", response_model=AuditPage)
async def list_audit(
    request: Request,
    actor: str | None = Query(None, max_length=200, pattern=NO_NUL),
    action: str | None = Query(
        None, max_length=64, pattern=NO_NUL, description="e.g. ticket.status_changed"
    ),
    entity: str | None = Query(
        None, max_length=64, pattern=NO_NUL, description="e.g. ticket, api_key"
    ),
    entity_id: str | None = Query(None, max_length=64, pattern=NO_NUL),
    since: datetime | None = Query(None),
    until: datetime | None = Query(None),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
    _: Principal = Depends(require_scopes("admin")),
) -> AuditPage:
    """Who changed what and when, newest first."""
    async with unit_of_work(request_sessions(request)) as session:
        rows, total = await service.get_all(
            session,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
    return AuditPage(
        items=[AuditRead.model_validate(row) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )
