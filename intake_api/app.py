"""The FastAPI application factory: one router per domain, one lifespan per domain."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from channels.registry import CHANNELS
from core.database import create_engine, session_factory
from core.errors import install_error_handlers
from core.logs import configure_logging, get_logger
from core.settings import Settings, get_settings
from intake_api.agents.scheduled import agents_lifespan
from intake_api.agents.views import csat_router, pages_router
from intake_api.agents.views import router as agents_router
from intake_api.alarms.lifespan import alarms_lifespan
from intake_api.alarms.views import router as alarms_router
from intake_api.api_docs import install_api_docs
from intake_api.assets.lifespan import assets_lifespan
from intake_api.assets.views import router as assets_router
from intake_api.audit.views import router as audit_router
from intake_api.auth.cache import KeyCache
from intake_api.auth.views import router as apikeys_router
from intake_api.calls.views import router as transcripts_router
from intake_api.channel_ports.lifespan import channels_lifespan
from intake_api.deliveries.views import router as deliveries_router
from intake_api.deliveries.webhooks import document_webhooks
from intake_api.deliveries.worker import deliveries_lifespan
from intake_api.events.lifespan import events_lifespan
from intake_api.events.views import router as ticket_events_router
from intake_api.files.lifespan import files_lifespan
from intake_api.files.views import router as files_router
from intake_api.health import router as health_router
from intake_api.kb.lifespan import kb_lifespan
from intake_api.kb.views import router as kb_router
from intake_api.kpis.views import router as kpis_router
from intake_api.limits.dependencies import install_limits, limits_lifespan
from intake_api.messages.lifespan import messages_lifespan
from intake_api.messages.views import router as messages_router
from intake_api.metrics import router as metrics_router
from intake_api.notifications.status import notifications_lifespan
from intake_api.openapi import install_openapi
from intake_api.services import BaseUrlRecorder, Services, services
from intake_api.storage.migrate import migrate
from intake_api.tickets.lifespan import tickets_lifespan
from intake_api.tickets.views import router as tickets_router

DomainLifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

log = get_logger(__name__)


def _domain_lifespans() -> list[DomainLifespan]:
    """Start-up/shut-down of each domain, in order (later ones may use earlier ones)."""
    return [
        kb_lifespan,  # knowledge base first: the bot uses services(app).kb
        deliveries_lifespan,
        limits_lifespan,
        events_lifespan,
        tickets_lifespan,
        files_lifespan,  # attachments: the messages desk checks and stores them
        messages_lifespan,  # the bot: uses kb and tickets; channels use its messages desk
        channels_lifespan,  # every channel of channels.registry, and the outbound registry
        notifications_lifespan,  # status changes to customers: wraps the event bus
        agents_lifespan,  # auto-escalation: publishes through the notifier's bus
        assets_lifespan,  # the installed units: the bot finds the unit a customer writes about
        alarms_lifespan,  # alarms: tickets, notices over the channels, the MQTT subscriber
    ]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    shared = services(app)
    shared.settings.ensure_dirs()
    engine = create_engine(shared.settings.resolved_database_url)
    await migrate(engine)
    shared.engine = engine
    shared.sessions = session_factory(engine)
    async with AsyncExitStack() as stack:
        for domain_lifespan in _domain_lifespans():
            await stack.enter_async_context(domain_lifespan(app))
        log.info("service started", database=engine.url.render_as_string(hide_password=True))
        yield
    await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the whole service; `settings` defaults to the environment's."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="aftersales",
        version="0.1.0",
        summary="After-sales customer service: fault knowledge base, bot, tickets, channels.",
        lifespan=_lifespan,
        docs_url=None,  # served by install_api_docs, without a CDN
        redoc_url=None,
    )
    install_api_docs(app)
    app.state.services = Services(settings)
    app.state.services.key_cache = KeyCache(settings.api_key_cache_seconds)
    app.add_middleware(BaseUrlRecorder, service=app)  # links to customers: full URLs
    install_error_handlers(app)
    app.include_router(health_router)
    # --- domain routers (each domain adds its include here) ---------------------------------
    install_limits(app, settings)
    app.include_router(tickets_router)
    app.include_router(ticket_events_router)
    app.include_router(apikeys_router)
    app.include_router(audit_router)
    app.include_router(deliveries_router)
    for channel in CHANNELS:
        app.include_router(channel.router)
    app.include_router(transcripts_router)
    app.include_router(messages_router)
    app.include_router(files_router)
    app.include_router(kb_router)
    app.include_router(agents_router)
    app.include_router(csat_router)
    app.include_router(pages_router)
    app.include_router(kpis_router)
    app.include_router(assets_router)
    app.include_router(alarms_router)
    app.include_router(metrics_router)
    document_webhooks(app)
    install_openapi(app)
    return app
