"""`GET /v1/audit`: the audit log, filtered, sorted and paged (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from core.database import unit_of_work
from intake_api.audit import service
from intake_api.audit.models import AuditEntry, AuditPage, AuditRead
from intake_api.auth.dependencies import request_sessions, require_scopes
from intake_api.auth.models import Principal
from intake_api.auth.responses import AUTHENTICATED
from intake_api.limits.text import NO_NUL
from intake_api.pagination import PageRequest, paging
from intake_api.params import IsoDateTime

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
    since: IsoDateTime | None = Query(None, description="From this time on (ISO 8601)."),
    until: IsoDateTime | None = Query(None, description="Before this time (ISO 8601)."),
    page: PageRequest = Depends(paging(default="-at", at=AuditEntry.at)),
    _: Principal = Depends(require_scopes("admin")),
) -> AuditPage:
    """Who changed what and when, newest first unless `sort` says otherwise."""
    async with unit_of_work(request_sessions(request)) as session:
        rows, total = await service.get_all(
            session,
            page=page,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            since=since,
            until=until,
        )
    return AuditPage.of([AuditRead.model_validate(row) for row in rows], total, page)
