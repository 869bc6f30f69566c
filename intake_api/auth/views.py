"""API key administration over HTTP (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request

from core.database import unit_of_work
from intake_api.auth import service
from intake_api.auth.dependencies import request_sessions, require_scopes
from intake_api.auth.models import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, Principal
from intake_api.auth.responses import AUTHENTICATED, error_responses
from intake_api.services import services

router = APIRouter(prefix="/v1/apikeys", tags=["api keys"], responses=AUTHENTICATED)
admin = require_scopes("admin")


@router.post("", status_code=201, response_model=ApiKeyCreated, responses=error_responses(413))
async def create_api_key(
    body: ApiKeyCreate, request: Request, principal: Principal = Depends(admin)
) -> ApiKeyCreated:
    """Create a key; the answer holds the key itself, the only time it is shown."""
    async with unit_of_work(request_sessions(request)) as session:
        row, key = await service.create(
            session, name=body.name, scopes=list(body.scopes), actor=principal.actor
        )
    return ApiKeyCreated(**ApiKeyRead.model_validate(row).model_dump(), key=key)


@router.get("", response_model=list[ApiKeyRead])
async def list_api_keys(request: Request, _: Principal = Depends(admin)) -> list[ApiKeyRead]:
    """Every key (without the secret)."""
    async with unit_of_work(request_sessions(request)) as session:
        rows = await service.get_all(session)
    return [ApiKeyRead.model_validate(row) for row in rows]


@router.delete("/{key_id}", response_model=ApiKeyRead, responses=error_responses(404, 409))
async def revoke_api_key(
    request: Request,
    key_id: int = Path(ge=1, le=2**31 - 1),
    principal: Principal = Depends(admin),
) -> ApiKeyRead:
    """Revoke a key; it is refused from now on."""
    async with unit_of_work(request_sessions(request)) as session:
        row = await service.revoke(session, key_id=key_id, actor=principal.actor)
    services(request.app).key_cache.forget(key_id)  # after the commit: no lookup can bring it back
    return ApiKeyRead.model_validate(row)
