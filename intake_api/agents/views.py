"""Agent routes (scope `agents`): the queue, claims, conversations, replies, hand-back and
resolution; the customer's CSAT answer; the agent console and the CSAT page."""

from __future__ import annotations

import hmac
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials

from core.columns import utcnow
from core.database import unit_of_work
from core.errors import Forbidden, Unauthorized
from core.logs import get_logger
from intake_api.agents import csat, service
from intake_api.agents.delivery import logs_what_it_sends, send_to_customer
from intake_api.agents.metrics import AGENT_REPLIES, CSAT_ANSWERS
from intake_api.agents.models import (
    ClaimRead,
    ConversationRead,
    CsatCreate,
    CsatRead,
    Queue,
    ReplyCreate,
    ReplyResult,
    ResolveCreate,
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
from intake_api.events.stream import publish_committed
from intake_api.limits.text import NO_NUL
from intake_api.tickets import service as tickets
from intake_api.tickets.models import TicketRead

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
        )
    sent = await send_to_customer(
        request.app,
        channel=recipient.channel,
        recipient=recipient.sender_id,
        text=body.text,
        author=service.agent_name(principal.actor, recipient.lang),
        lang=recipient.lang,
    )
    AGENT_REPLIES.labels(channel=recipient.channel, delivered=str(sent.delivered).lower()).inc()
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
    return back.conversation


@router.post(
    "/tickets/{ticket_id}/resolve",
    response_model=TicketRead,
    responses=error_responses(404, 409, 413),
)
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
            raise Forbidden(f"the status token is not the one of ticket {ticket_id}")
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
ASSETS = {"console.js": "text/javascript", "csat.js": "text/javascript", "console.css": "text/css"}


@lru_cache
def _asset(name: str) -> bytes:
    return resources.files("intake_api.agents.static").joinpath(name).read_bytes()


def _page(name: str) -> Response:
    return Response(_asset(name), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@pages_router.get("/agent", include_in_schema=False)
async def console_page() -> Response:
    """The agent console (the agent pastes an API key; it stays in the tab's sessionStorage)."""
    return _page("console.html")


@pages_router.get("/csat/{ticket_id}", include_in_schema=False)
async def csat_page(ticket_id: str) -> Response:
    """The survey page a resolved ticket's customer opens from the survey message."""
    return _page("csat.html")


@pages_router.get("/agent/static/{name}", include_in_schema=False)
async def console_asset(name: str) -> Response:
    if name not in ASSETS:
        return Response(status_code=404)
    return Response(_asset(name), media_type=ASSETS[name], headers=PAGE_HEADERS)
