"""What the domains build at start-up and share, in one typed container.

`app.py` creates it with the settings; each domain's lifespan fills in what it builds (the
knowledge base, the SLA policy, the event bus, the messages desk, ...) in the order `app.py`
enters them. Code reads it with `services(app)` instead of loose keys on `app.state`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from core.channels import OutboundRegistry, RateLimiter
from core.database import Sessions
from core.events import EventBus
from core.settings import Settings

if TYPE_CHECKING:  # the domains import this module; these are only their types
    from bot.dialogue.ports import Interpreter
    from bot.triage import SlaPolicy
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
    event_bus: EventBus = field(init=False)
    messages: MessageDesk = field(init=False)
    outbound: OutboundRegistry = field(default_factory=OutboundRegistry)


def services(app: FastAPI) -> Services:
    """The app's shared parts (`create_app` puts them on `app.state.services`)."""
    return cast(Services, app.state.services)
