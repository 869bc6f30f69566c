"""Agent routes (scope `agents`): the queue, claims, conversations, replies, hand-back and
resolution; the customer's CSAT answer; the agent console and the CSAT page."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import AsyncIterator
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from sse_starlette import EventSourceResponse, ServerSentEvent

from core.columns import utcnow
from core.database import unit_of_work
from core.errors import Unauthorized
from core.logs import get_logger
from intake_api.agents import accounts, csat, service, workspace
from intake_api.agents.delivery import logs_what_it_sends, send_to_customer
from intake_api.agents.metrics import AGENT_REPLIES, CSAT_ANSWERS
from intake_api.agents.models import (
    Agent,
    AgentCreate,
    AgentPage,
    AgentProfile,
    AssignCreate,
    CannedReply,
    ClaimRead,
    ConversationRead,
    CsatCreate,
    CsatRead,
    EquipmentPanel,
    Inbox,
    InboxFilters,
    Me,
    NoteCreate,
    NoteRead,
    PriorityChange,
    Queue,
    ReplyCreate,
    ReplyResult,
    ResolveCreate,
    Role,
    SignIn,
    Suggestion,
    Workspace,
)
from intake_api.auth.dependencies import (
    bearer,
    check_scopes,
    principal_of_key,
    request_sessions,
    require_scopes,
)
from intake_api.auth.models import Principal
from intake_api.auth.responses import AUTHENTICATED, error_responses
from intake_api.events.bus import EVERY_KEY
from intake_api.events.stream import publish_committed, publish_conversation_changed
from intake_api.idempotency.dependencies import idempotent
from intake_api.limits.text import NO_NUL
from intake_api.pagination import PageRequest, paging
from intake_api.services import services
from intake_api.tickets import service as tickets
from intake_api.tickets.models import TicketRead
from knowledge_base.answers import Lang, localize
from knowledge_base.search import MAX_QUERY_CHARS, is_searchable

log = get_logger(__name__)
router = APIRouter(prefix="/v1/agent", tags=["agents"], responses=AUTHENTICATED)
csat_router = APIRouter(prefix="/v1/tickets", tags=["csat"])
pages_router = APIRouter(tags=["agent console"])
agent = require_scopes("agents")


@router.get("/queue", response_model=Queue)
async def get_queue(
    request: Request,
    limit: int = Query(100, ge=1, le=1000, description="How many of the most urgent items."),
    _: Principal = Depends(agent),
) -> Queue:
    """Escalated and handed-off items waiting for a person, most urgent first (priority, then
    SLA due time), with breach flags."""
    async with unit_of_work(request_sessions(request)) as session:
        items, total = await service.queue(session, now=utcnow(), limit=limit)
    return Queue(items=items, total=total)


@router.post(
    "/queue/{item_id}/claim", response_model=ClaimRead, responses=error_responses(404, 409)
)
@idempotent()
async def claim_item(
    item_id: str, request: Request, principal: Principal = Depends(agent)
) -> ClaimRead:
    """Take a queue item (ticket id or conversation id); 409 when another agent has it."""
    outcome = service.Outcome()
    async with unit_of_work(request_sessions(request)) as session:
        claimed = await service.claim(
            session, item_id=item_id, agent=principal.actor, outcome=outcome
        )
    await publish_committed(request.app, outcome.events)
    return claimed


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationRead,
    responses=error_responses(404),
)
async def get_conversation(
    conversation_id: str, request: Request, _: Principal = Depends(agent)
) -> ConversationRead:
    """The conversation's history and tickets."""
    async with unit_of_work(request_sessions(request)) as session:
        return await service.read_conversation(session, conversation_id=conversation_id)


@router.post(
    "/conversations/{conversation_id}/reply",
    response_model=ReplyResult,
    responses=error_responses(404, 409, 413),
)
@idempotent()
async def reply(
    conversation_id: str, body: ReplyCreate, request: Request, principal: Principal = Depends(agent)
) -> ReplyResult:
    """Answer the customer on their channel; kept in the history, and the first response of
    the conversation's open tickets. `delivered` is false (with `error`) when the channel
    could not take it."""
    async with unit_of_work(request_sessions(request)) as session:
        recipient, first_for = await service.record_reply(
            session,
            conversation_id=conversation_id,
            agent=principal.actor,
            text=body.text,
            channel_logs=lambda channel: logs_what_it_sends(request.app, channel),
            name=principal.name,
        )
    sent = await send_to_customer(
        request.app,
        channel=recipient.channel,
        recipient=recipient.sender_id,
        text=body.text,
        author=service.agent_name(principal.actor, recipient.lang, principal.name),
        lang=recipient.lang,
    )
    AGENT_REPLIES.labels(channel=recipient.channel, delivered=str(sent.delivered).lower()).inc()
    await publish_conversation_changed(request.app, conversation_id)  # logged here or on send
    return ReplyResult(
        conversation_id=conversation_id,
        delivered=sent.delivered,
        channel=recipient.channel,
        error=sent.error,
        first_response_for=first_for,
    )


@router.post(
    "/conversations/{conversation_id}/handback",
    response_model=ConversationRead,
    responses=error_responses(404, 409),
)
@idempotent()
async def handback(
    conversation_id: str, request: Request, principal: Principal = Depends(agent)
) -> ConversationRead:
    """Give the conversation back to the bot; the customer is told, on their channel and in
    their language, that the assistant is back."""
    async with unit_of_work(request_sessions(request)) as session:
        back = await service.handback(
            session,
            conversation_id=conversation_id,
            agent=principal.actor,
            channel_logs=lambda channel: logs_what_it_sends(request.app, channel),
        )
    sent = await send_to_customer(
        request.app,
        channel=back.recipient.channel,
        recipient=back.recipient.sender_id,
        text=back.notice,
    )
    if not sent.delivered:
        log.info(
            "hand-back notice not delivered", conversation_id=conversation_id, error=sent.error
        )
    await publish_conversation_changed(request.app, conversation_id)
    return back.conversation


@router.post(
    "/tickets/{ticket_id}/resolve",
    response_model=TicketRead,
    responses=error_responses(404, 409, 413),
)
@idempotent()
async def resolve(
    ticket_id: str, body: ResolveCreate, request: Request, principal: Principal = Depends(agent)
) -> TicketRead:
    """Resolve the ticket with a note; the customer then gets the CSAT survey on their channel."""
    outcome = service.Outcome()
    async with unit_of_work(request_sessions(request)) as session:
        ticket = await service.resolve(
            session, ticket_id=ticket_id, agent=principal.actor, note=body.note, outcome=outcome
        )
    await publish_committed(request.app, outcome.events)
    return TicketRead.of(ticket)


# --- accounts and sign-in -----------------------------------------------------------------------


def _set_cookie(response: Response, request: Request, token: str) -> None:
    settings = services(request.app).settings
    response.set_cookie(
        accounts.SESSION_COOKIE,
        token,
        max_age=int(settings.agent_session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=settings.agent_cookie_secure,
        path="/",
    )


@router.post("/session", response_model=Me, responses=error_responses(401))
async def sign_in(body: SignIn, request: Request, response: Response) -> Me:
    """Sign in with username and password: an HttpOnly session cookie, and the CSRF token the
    page sends back as `X-CSRF-Token` on every change."""
    settings = services(request.app).settings
    async with unit_of_work(request_sessions(request)) as session:
        person, token, csrf = await accounts.sign_in(
            session,
            username=body.username,
            password=body.password,
            hours=settings.agent_session_hours,
            hashing=accounts.hasher(settings.agent_password_hash),
        )
    _set_cookie(response, request, token)
    return Me(
        agent=AgentProfile.model_validate(person),
        actor=accounts.actor_of(person.username),
        csrf_token=csrf,
    )


@router.delete("/session", status_code=204)
async def sign_out(request: Request, principal: Principal = Depends(agent)) -> Response:
    """End this browser's session."""
    token = request.cookies.get(accounts.SESSION_COOKIE)
    if token:
        async with unit_of_work(request_sessions(request)) as session:
            await accounts.sign_out(session, token=token, actor=principal.actor)
    response = Response(status_code=204)
    response.delete_cookie(accounts.SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=Me)
async def me(request: Request, principal: Principal = Depends(agent)) -> Me:
    """Who calls; for a signed-in agent, their profile and the session's CSRF token."""
    token = request.cookies.get(accounts.SESSION_COOKIE)
    if principal.agent_id is None or not token:
        return Me(agent=None, actor=principal.actor, csrf_token=None)
    async with request_sessions(request)() as session:
        found = await accounts.session_of(session, token)
    if found is None:
        raise Unauthorized("your sign-in has expired: sign in again")
    return Me(
        agent=AgentProfile.model_validate(found[0]),
        actor=principal.actor,
        csrf_token=found[1].csrf_token,
    )


@router.get("/accounts", response_model=AgentPage)
async def list_agents(
    request: Request,
    role: Role | None = Query(None),
    active: bool | None = Query(None),
    page: PageRequest = Depends(
        paging(
            default="id",
            id=Agent.id,
            username=Agent.username,
            display_name=Agent.display_name,
            role=Agent.role,
        )
    ),
    _: Principal = Depends(agent),
) -> AgentPage:
    """Agents (to reassign to, and to show names), by id unless `sort` says otherwise."""
    async with unit_of_work(request_sessions(request)) as session:
        rows, total = await accounts.get_page(session, page=page, role=role, active=active)
        return AgentPage.of([AgentProfile.model_validate(row) for row in rows], total, page)


@router.post(
    "/accounts", status_code=201, response_model=AgentProfile, responses=error_responses(409)
)
async def create_agent(
    body: AgentCreate, request: Request, principal: Principal = Depends(agent)
) -> AgentProfile:
    """A new agent account (managers, and API keys with the `agents` scope)."""
    accounts.check_role(principal, "manager")
    async with unit_of_work(request_sessions(request)) as session:
        hashing = accounts.hasher(services(request.app).settings.agent_password_hash)
        row = await accounts.create_agent(
            session, data=body, actor=principal.actor, hashing=hashing
        )
        return AgentProfile.model_validate(row)


# --- the workspace ------------------------------------------------------------------------------


def _products(request: Request) -> dict[str, Any]:
    """The knowledge base's products by id (names and product lines)."""
    return dict(services(request.app).kb.graph.products)


def _product_ids(request: Request, line: str | None) -> set[str] | None:
    if not line:
        return None
    return {pid for pid, product in _products(request).items() if product.line == line}


def _product_names(request: Request, lang: Lang = "en") -> dict[str, str]:
    return {pid: localize(product.name, lang) or pid for pid, product in _products(request).items()}


@router.get("/inbox", response_model=Inbox)
async def get_inbox(
    request: Request,
    filters: Annotated[InboxFilters, Query()],
    limit: int = Query(200, ge=1, le=1000),
    principal: Principal = Depends(agent),
) -> Inbox:
    """Open tickets and hand-offs most at risk of breaching their SLA first, with unread counts;
    filtered (mine / unassigned, skill group, channel, priority, product line, language) and
    searched (ticket id, phone, serial, customer)."""
    async with unit_of_work(request_sessions(request)) as session:
        items, total = await workspace.inbox(
            session,
            filters=filters,
            actor=principal.actor,
            product_ids=_product_ids(request, filters.product_line),
            limit=limit,
        )
        names = await accounts.display_names(session)
    named = [
        item.model_copy(update={"assignee_name": names.get(item.assignee or "")}) for item in items
    ]
    return Inbox(items=named, total=total)


@router.get("/equipment", response_model=EquipmentPanel)
async def get_equipment(
    request: Request,
    limit: int = Query(20, ge=1, le=200, description="Unmatched alarms and incidents at most."),
    _: Principal = Depends(agent),
) -> EquipmentPanel:
    """The inbox's Equipment panel: alarms of unknown units (latest first, with their total)
    and the open fleet incidents with their child tickets."""
    async with unit_of_work(request_sessions(request)) as session:
        return await workspace.equipment(session, limit=limit)


async def _woken(queue: asyncio.Queue[dict[str, Any]], seconds: float) -> None:
    """Return on the next notice (and take every one already queued: one read answers them
    all), or after `seconds` without one."""
    with contextlib.suppress(TimeoutError):  # not `wait_for`: it can swallow a cancellation
        async with asyncio.timeout(seconds):
            await queue.get()
    while not queue.empty():
        queue.get_nowait()


@router.get("/stream", response_class=EventSourceResponse, include_in_schema=False)
async def stream(request: Request, _: Principal = Depends(agent)) -> EventSourceResponse:
    """Server-Sent Events for the workspace page (endless, so not in the OpenAPI schema): a
    `change` event whenever a conversation line, a ticket event or an internal note is added
    anywhere. The stream sleeps on the event bus (every worker's notices) and reads the
    database when woken, and every `agent_stream_recheck_seconds` in case a notice was lost."""
    recheck = services(request.app).settings.agent_stream_recheck_seconds

    async def changes() -> AsyncIterator[ServerSentEvent]:
        last: tuple[int, int, int] | None = None
        async with services(request.app).event_bus.subscribe(EVERY_KEY) as queue:
            while not await request.is_disconnected():
                async with request_sessions(request)() as session:
                    now = await workspace.high_water(session)
                if now != last:
                    yield ServerSentEvent(event="change", data=json.dumps(now))
                    last = now
                await _woken(queue, recheck)

    return EventSourceResponse(changes(), ping=15)


@router.get("/items/{item_id}", response_model=Workspace, responses=error_responses(404))
async def open_item(
    item_id: str, request: Request, principal: Principal = Depends(agent)
) -> Workspace:
    """One inbox item whole: the bot's summary, the labelled transcript with internal notes,
    the ticket and the context panel; read up to now by the caller."""
    async with unit_of_work(request_sessions(request)) as session:
        return await workspace.open_item(
            session,
            item_id=item_id,
            actor=principal.actor,
            product_names=_product_names(request),
        )


@router.post(
    "/items/{item_id}/notes",
    status_code=201,
    response_model=NoteRead,
    responses=error_responses(404, 413),
)
async def add_note(
    item_id: str, body: NoteCreate, request: Request, principal: Principal = Depends(agent)
) -> NoteRead:
    """An internal note for agents: kept apart from the conversation, never sent or shown to
    the customer."""
    async with unit_of_work(request_sessions(request)) as session:
        note = await workspace.note_on(
            session,
            item_id=item_id,
            actor=principal.actor,
            author=service.agent_name(principal.actor, "en", principal.name),
            text=body.text,
        )
    await publish_conversation_changed(request.app, item_id)
    return note


@router.get(
    "/items/{item_id}/suggestions",
    response_model=list[Suggestion],
    responses=error_responses(404),
)
async def suggestions(
    item_id: str,
    request: Request,
    k: int = Query(3, ge=1, le=10),
    _: Principal = Depends(agent),
) -> list[Suggestion]:
    """The knowledge base's best answers to the customer's latest message, in their language."""
    async with unit_of_work(request_sessions(request)) as session:
        text, lang = await workspace.latest_customer_text(session, item_id=item_id)
    kb = services(request.app).kb
    if not is_searchable(text[:MAX_QUERY_CHARS]):
        return []

    def answers() -> list[Suggestion]:
        hits = kb.search(text[:MAX_QUERY_CHARS], lang=lang, k=k)
        return [
            Suggestion(
                id=hit.id,
                type=hit.type,
                title=hit.title,
                score=hit.score,
                text=kb.answer(hit.id, lang).text,
            )
            for hit in hits
        ]

    return await run_in_threadpool(answers)


@router.get("/canned", response_model=list[CannedReply])
async def canned(
    lang: Literal["zh", "en"] = Query("zh"), _: Principal = Depends(agent)
) -> list[CannedReply]:
    """Canned replies in the customer's language, to edit before sending."""
    return workspace.canned_replies(lang)


@router.post(
    "/tickets/{ticket_id}/priority",
    response_model=TicketRead,
    responses=error_responses(404, 409),
)
@idempotent()
async def change_priority(
    ticket_id: str, body: PriorityChange, request: Request, principal: Principal = Depends(agent)
) -> TicketRead:
    """Set the ticket's priority (recorded, streamed and delivered like any change)."""
    async with unit_of_work(request_sessions(request)) as session:
        ticket, event = await workspace.change_priority(
            session, ticket_id=ticket_id, data=body, actor=principal.actor
        )
    await publish_committed(request.app, [event])
    return TicketRead.of(ticket)


@router.post(
    "/tickets/{ticket_id}/assign",
    response_model=TicketRead,
    responses=error_responses(404, 409),
)
@idempotent()
async def assign(
    ticket_id: str, body: AssignCreate, request: Request, principal: Principal = Depends(agent)
) -> TicketRead:
    """Give the ticket to an agent (supervisors give it to anyone; an agent only to themself)."""
    if body.assignee != principal.actor:
        accounts.check_role(principal, "supervisor")
    outcome = service.Outcome()
    async with unit_of_work(request_sessions(request)) as session:
        ticket = await service.reassign(
            session,
            ticket_id=ticket_id,
            assignee=body.assignee,
            actor=principal.actor,
            outcome=outcome,
        )
    await publish_committed(request.app, outcome.events)
    return TicketRead.of(ticket)


# --- CSAT ---------------------------------------------------------------------------------------


async def _csat_actor(request: Request, *, token: str | None, key: str | None) -> str:
    """Who answers: the customer (status token) or a key holding `tickets:write`."""
    if token is not None:
        return "customer"
    if not key:
        raise Unauthorized("send `?token=` (the ticket's status token) or an API key")
    principal = await principal_of_key(request, key)
    check_scopes(principal, ("tickets:write",))
    return principal.actor


@csat_router.post(
    "/{ticket_id}/csat",
    status_code=201,
    response_model=CsatRead,
    responses=error_responses(400, 401, 403, 404, 409),
)
async def answer_csat(
    ticket_id: str,
    body: CsatCreate,
    request: Request,
    token: str | None = Query(None, max_length=200, pattern=NO_NUL, description="Status token."),
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> CsatRead:
    """The customer's satisfaction (1-5 and a comment) with a resolved ticket, once."""
    actor = await _csat_actor(
        request, token=token, key=credentials.credentials if credentials else None
    )
    async with unit_of_work(request_sessions(request)) as session:
        ticket = await tickets.get(session, ticket_id=ticket_id)
        if token is not None and not hmac.compare_digest(
            token.encode(), ticket.status_token.encode()
        ):
            raise Unauthorized(f"the status token is not the one of ticket {ticket_id}")
        answer = await csat.answer(session, ticket=ticket, data=body, actor=actor)
    CSAT_ANSWERS.labels(score=str(answer.score)).inc()
    return answer


# --- pages ----------------------------------------------------------------------------------------

# Nothing inline, nothing from elsewhere: the pages run only their own script and style sheet.
PAGE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
ASSETS = {
    "common.js": "text/javascript",
    "console.js": "text/javascript",
    "dashboard.js": "text/javascript",
    "csat.js": "text/javascript",
    "console.css": "text/css",
    # Chart.js 4.5.1 (MIT), the UMD build from its npm package, with its licence beside it
    "chart.umd.min.js": "text/javascript",
    "chart.js-LICENSE.md": "text/plain; charset=utf-8",
}


@lru_cache
def _asset(name: str) -> bytes:
    return resources.files("intake_api.agents.static").joinpath(name).read_bytes()


def _page(name: str) -> Response:
    return Response(_asset(name), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@pages_router.get("/agent", include_in_schema=False)
async def console_page() -> Response:
    """The agent workspace (sign in with a username and password: a session cookie)."""
    return _page("console.html")


@pages_router.get("/agent/dashboard", include_in_schema=False)
async def dashboard_page() -> Response:
    """The manager's dashboard (supervisors and managers; charts drawn with Chart.js)."""
    return _page("dashboard.html")


@pages_router.get("/csat/{ticket_id}", include_in_schema=False)
async def csat_page(ticket_id: str) -> Response:
    """The survey page a resolved ticket's customer opens from the survey message."""
    return _page("csat.html")


@pages_router.get("/agent/static/{name}", include_in_schema=False)
async def console_asset(name: str) -> Response:
    if name not in ASSETS:
        return Response(status_code=404)
    return Response(_asset(name), media_type=ASSETS[name], headers=PAGE_HEADERS)
