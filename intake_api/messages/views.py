"""`POST /v1/messages`: one inbound customer message from any channel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from core.messages import Answer, InboundMessage
from intake_api.auth.dependencies import require_scopes
from intake_api.auth.models import Principal
from intake_api.auth.responses import AUTHENTICATED, error_responses
from intake_api.idempotency.dependencies import idempotent
from intake_api.limits.dependencies import check_sender_rate
from intake_api.messages.flows import MessageDesk
from intake_api.services import services

router = APIRouter(prefix="/v1/messages", tags=["messages"], responses=AUTHENTICATED)
writer = require_scopes("messages:write")
_CONVERSATION = "#/paths/~1v1~1agent~1conversations~1{conversation_id}"
_BY_CONVERSATION = {"conversation_id": "$response.body#/conversation_id"}
# OpenAPI links: the conversation an answer belongs to, as agents then read and answer it.
ANSWER_LINKS: dict[str, Any] = {
    "GetConversation": {"operationRef": f"{_CONVERSATION}/get", "parameters": _BY_CONVERSATION},
    "ReplyInConversation": {
        "operationRef": f"{_CONVERSATION}~1reply/post",
        "parameters": _BY_CONVERSATION,
    },
    "HandBackConversation": {
        "operationRef": f"{_CONVERSATION}~1handback/post",
        "parameters": _BY_CONVERSATION,
    },
}


@router.post(
    "",
    response_model=Answer,
    response_model_exclude_none=False,
    responses={200: {"links": ANSWER_LINKS}, **error_responses(409, 422, 503)},
)
@idempotent()
async def post_message(
    body: InboundMessage, request: Request, principal: Principal = Depends(writer)
) -> Answer:
    """Store the message, let the bot answer it, return the answer; the same channel+message_id
    again returns the first answer (`duplicate: true`) without running anything twice. An
    `Idempotency-Key` works as well, for clients that retry by key."""
    desk: MessageDesk = services(request.app).messages
    # The operator's own key is exempt from the sender limit, as from the key limit. A repeat
    # is never limited: where the limit applies it is looked up first; elsewhere the store's
    # INSERT finds it (one statement fewer).
    if _sender_limited(request, principal):
        if await desk.is_known(body):
            return await desk.replay(body)
        await check_sender_rate(request, body.channel, body.sender_id)
    return await desk.receive(body)


def _sender_limited(request: Request, principal: Principal) -> bool:
    """Whether the caller's messages count against `rate_limit_per_sender_per_minute`."""
    limit = services(request.app).settings.rate_limit_per_sender_per_minute
    return limit > 0 and not principal.is_admin_key
