"""FastAPI dependencies: the caller's identity from `Authorization: Bearer <key>`, and scopes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from core.errors import Forbidden, Unauthorized
from intake_api.agents.accounts import principal_of_cookie
from intake_api.auth import service
from intake_api.auth.models import Principal
from intake_api.limits.dependencies import check_key_rate
from intake_api.services import services

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key (`aftersales apikey create`) or AFTERSALES_ADMIN_KEY.",
)


def request_sessions(request: HTTPConnection) -> async_sessionmaker[AsyncSession]:
    """The app's session factory; views open one unit of work (transaction) per request."""
    return services(request.app).sessions


async def principal_of_key(request: HTTPConnection, key: str) -> Principal:
    """The principal of `key` (401 when unknown or revoked): from the worker's cache of verified
    keys, else a short read of its own."""
    cache = services(request.app).key_cache
    principal = cache.get(key)
    if principal is not None:
        return principal
    generation = cache.generation
    async with request_sessions(request)() as session:
        principal = await service.authenticate(
            session, key=key, admin_key=services(request.app).settings.admin_key
        )
    if principal is None:
        raise Unauthorized("invalid or revoked API key")
    cache.put(key, principal, generation=generation)
    return principal


def check_scopes(principal: Principal, scopes: tuple[str, ...]) -> None:
    """403 naming the scopes the caller's key lacks."""
    missing = [scope for scope in scopes if not principal.allows(scope)]
    if missing:
        raise Forbidden(
            f"this API key lacks the scope(s) {', '.join(missing)}",
            missing_scopes=missing,
        )


async def current_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The API key's principal, else the signed-in agent's (session cookie); 401 without
    either or with a bad one."""
    if credentials is None or not credentials.credentials:
        signed_in = await principal_of_cookie(request)
        if signed_in is not None:
            return signed_in
        raise Unauthorized("missing API key: send the header `Authorization: Bearer <key>`")
    return await principal_of_key(request, credentials.credentials)


def require_scopes(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting keys that hold every one of `scopes` (403 otherwise), rate-limited
    per key (429; the admin key is not limited). One dependency over `bearer`, not a chain:
    FastAPI resolves every level of a chain again on each request."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Principal:
        principal = await current_principal(request, credentials)
        check_scopes(principal, scopes)
        if not principal.is_admin_key:
            await check_key_rate(request, principal.actor)
        return principal

    return dependency
