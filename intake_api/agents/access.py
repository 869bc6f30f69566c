"""Route dependencies by role: a signed-in agent needs the role (or a higher one); an API key
needs the `agents` scope (403 otherwise) and then acts with every role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends

from intake_api.agents.accounts import check_role
from intake_api.auth.dependencies import require_scopes
from intake_api.auth.models import Principal

_agents = require_scopes("agents")


def require_role(role: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting `role` and higher roles, and keys with the `agents` scope."""

    async def dependency(principal: Principal = Depends(_agents)) -> Principal:
        check_role(principal, role)
        return principal

    return dependency
