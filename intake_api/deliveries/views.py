"""`GET /v1/deliveries`: the outbox as operators and integrators see it (admin scope).

Read-only: what was sent to the backend, what is waiting or retrying, what is dead. Replaying
is `aftersales deliveries replay` (docs/integration.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from core.database import unit_of_work
from intake_api.auth.dependencies import request_sessions, require_scopes
from intake_api.auth.models import Principal
from intake_api.auth.responses import AUTHENTICATED
from intake_api.deliveries import service
from intake_api.deliveries.models import DeliveryPage, DeliveryRead, DeliveryStatus, OutboxEvent
from intake_api.limits.text import NO_NUL
from intake_api.pagination import PageRequest, paging

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"], responses=AUTHENTICATED)


@router.get("", response_model=DeliveryPage)
async def list_deliveries(
    request: Request,
    status: DeliveryStatus | None = Query(None, description="pending, delivered or dead."),
    ticket_id: str | None = Query(None, max_length=64, pattern=NO_NUL),
    page: PageRequest = Depends(paging(default="-created_at", created_at=OutboxEvent.created_at)),
    _: Principal = Depends(require_scopes("admin")),
) -> DeliveryPage:
    """Deliveries to the backend webhook (without their bodies), newest first by default."""
    async with unit_of_work(request_sessions(request)) as session:
        rows, total = await service.get_all(session, page=page, status=status, ticket_id=ticket_id)
    return DeliveryPage.of([DeliveryRead.model_validate(row) for row in rows], total, page)
