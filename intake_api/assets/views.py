"""Asset routes: the registry of installed units (scopes `assets:read` / `assets:write`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from core.database import unit_of_work
from intake_api.assets import service
from intake_api.assets.models import Asset, AssetCreate, AssetFields, AssetPage, AssetRead
from intake_api.auth.dependencies import request_sessions, require_scopes
from intake_api.auth.models import Principal
from intake_api.auth.responses import AUTHENTICATED, error_responses
from intake_api.limits.text import NO_NUL
from intake_api.pagination import PageRequest, paging

router = APIRouter(prefix="/v1/assets", tags=["assets"], responses=AUTHENTICATED)
reader = require_scopes("assets:read")
writer = require_scopes("assets:write")


@router.post("", status_code=201, response_model=AssetRead, responses=error_responses(409, 413))
async def create_asset(
    body: AssetCreate, request: Request, _: Principal = Depends(writer)
) -> AssetRead:
    """Register a unit; its `product_id` must be a product of the knowledge base."""
    async with unit_of_work(request_sessions(request)) as session:
        return AssetRead.of(await service.create(session, data=body))


@router.get("", response_model=AssetPage)
async def list_assets(
    request: Request,
    customer: str | None = Query(
        None, max_length=200, pattern=NO_NUL, description="Name or phone."
    ),
    product_id: str | None = Query(None, max_length=100, pattern=NO_NUL),
    page: PageRequest = Depends(
        paging(
            default="serial",
            serial=Asset.serial,
            product_id=Asset.product_id,
            created_at=Asset.created_at,
            updated_at=Asset.updated_at,
        )
    ),
    _: Principal = Depends(reader),
) -> AssetPage:
    """Units (by serial unless `sort` says otherwise), filtered by customer and product."""
    async with unit_of_work(request_sessions(request)) as session:
        rows, total = await service.get_all(
            session, page=page, customer=customer, product_id=product_id
        )
        items = [AssetRead.of(row) for row in rows]
    return AssetPage(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{serial}", response_model=AssetRead, responses=error_responses(404))
async def read_asset(serial: str, request: Request, _: Principal = Depends(reader)) -> AssetRead:
    async with unit_of_work(request_sessions(request)) as session:
        return AssetRead.of(await service.get(session, serial=serial))


@router.patch("/{serial}", response_model=AssetRead, responses=error_responses(404, 413))
async def update_asset(
    serial: str, body: AssetFields, request: Request, _: Principal = Depends(writer)
) -> AssetRead:
    """Change the fields given; `contacts` replaces the unit's contacts."""
    async with unit_of_work(request_sessions(request)) as session:
        return AssetRead.of(await service.update(session, serial=serial, data=body))


@router.delete("/{serial}", status_code=204, responses=error_responses(404))
async def delete_asset(serial: str, request: Request, _: Principal = Depends(writer)) -> Response:
    async with unit_of_work(request_sessions(request)) as session:
        await service.remove(session, serial=serial)
    return Response(status_code=204)
