"""`GET /v1/kpis?from=&to=` (scope `agents`; admin keys hold every scope)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Query, Request

from core.columns import utcnow
from core.database import unit_of_work
from core.errors import ServiceError
from intake_api.auth.dependencies import request_sessions, require_scopes
from intake_api.auth.models import Principal
from intake_api.auth.responses import AUTHENTICATED
from intake_api.kpis import service
from intake_api.kpis.models import Kpis

router = APIRouter(prefix="/v1/kpis", tags=["kpis"], responses=AUTHENTICATED)
DEFAULT_WINDOW = timedelta(days=30)


def _aware(moment: datetime) -> datetime:
    """Times without a zone are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@router.get("", response_model=Kpis)
async def get_kpis(
    request: Request,
    start: datetime | None = Query(None, alias="from", description="Window start (ISO 8601)."),
    end: datetime | None = Query(None, alias="to", description="Window end, exclusive."),
    _: Principal = Depends(require_scopes("agents")),
) -> Kpis:
    """AI handling share, first response time, first-contact resolution, SLA compliance per
    priority, CSAT, repeat faults within 30 days and volume, over [from, to) (default: the
    last 30 days)."""
    now = utcnow()
    end = _aware(end) if end else now
    start = _aware(start) if start else end - DEFAULT_WINDOW
    if start >= end:
        raise ServiceError(
            "`from` must be before `to`", start=start.isoformat(), end=end.isoformat()
        )
    async with unit_of_work(request_sessions(request)) as session:
        return await service.kpis(session, start=start, end=end, now=now)
