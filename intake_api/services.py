"""What the domains build at start-up and share, in one typed container.

`app.py` creates it with the settings; each domain's lifespan fills in what it builds (the
knowledge base, the SLA policy, the event bus, the messages desk, ...) in the order `app.py`
enters them. Code reads it with `services(app)` instead of loose keys on `app.state`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from core.channels import OutboundRegistry, RateLimiter
from core.database import Sessions
from core.events import EventBus
from core.settings import Settings

if TYPE_CHECKING:  # the domains import this module; these are only their types
    from bot.dialogue.ports import Interpreter
    from bot.triage import SlaPolicy
    from intake_api.alarms.flows import AlarmDesk
    from intake_api.auth.cache import KeyCache
    from intake_api.files.flows import FileDesk
    from intake_api.messages.flows import MessageDesk
    from knowledge_base.service import KnowledgeService


@dataclass
class Services:
    """The service's shared parts; a field is there once the domain that builds it started."""

    settings: Settings
    nlu: Interpreter | None = None  # a trained NLU model handed in (tests, benchmarks)
    engine: AsyncEngine = field(init=False)
    sessions: Sessions = field(init=False)
    kb: KnowledgeService = field(init=False)
    sla_policy: SlaPolicy = field(init=False)
    # On SQLite, this process's ticket changes queue here (PostgreSQL's row locks suffice).
    ticket_write_lock: asyncio.Lock | None = None
    rate_limiter: RateLimiter = field(init=False)
    key_cache: KeyCache = field(init=False)  # API keys this worker verified a moment ago
    event_bus: EventBus = field(init=False)
    files: FileDesk = field(init=False)  # customers' attachments: checked, stored, signed URLs
    messages: MessageDesk = field(init=False)
    alarms: AlarmDesk = field(init=False)  # machine alarms in, tickets out
    outbound: OutboundRegistry = field(default_factory=OutboundRegistry)
    # The service's own base URL as its first HTTP request saw it: links to customers use it
    # when AFTERSALES_PUBLIC_URL is not set (never a bare path).
    seen_base_url: str | None = None
    # Hands each status change on after the customer was told of it (the CSAT survey follows the
    # "resolved" notice); None before the notifications domain started.
    after_status_notice: list[Callable[[dict[str, Any]], None]] | None = None


def services(app: FastAPI) -> Services:
    """The app's shared parts (`create_app` puts them on `app.state.services`)."""
    return cast(Services, app.state.services)


def public_base_url(app: FastAPI) -> str | None:
    """Where customers reach the service: `AFTERSALES_PUBLIC_URL`, else the base URL its own
    requests came to (None only before the first request)."""
    shared = services(app)
    return shared.settings.public_url or shared.seen_base_url


class BaseUrlRecorder:
    """ASGI middleware that notes the service's base URL from its first HTTP request (scheme,
    Host header, root path) and then only passes requests through."""

    def __init__(self, app: Any, service: FastAPI) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            shared = services(self.service)
            if shared.seen_base_url is None:
                shared.seen_base_url = _base_url(scope)
        await self.app(scope, receive, send)


def _base_url(scope: Any) -> str:
    headers = {key.decode("latin-1").lower(): value for key, value in scope.get("headers") or ()}
    host = headers.get("host", b"").decode("latin-1")
    if not host and scope.get("server"):
        name, port = scope["server"]
        host = f"{name}:{port}" if port else str(name)
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}".rstrip("/")
