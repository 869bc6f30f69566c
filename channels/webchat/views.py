"""The web chat's routes: the page (`GET /chat`), its assets, the embeddable widget
(`GET /chat/widget.js`), anonymous sessions (`POST /chat/session`), photo uploads
(`POST /chat/upload`) and the socket (`/chat/ws`). None takes an API key: a page gets a signed
session token of its own."""

from __future__ import annotations

import base64
from functools import lru_cache
from importlib import resources
from typing import Literal

from fastapi import APIRouter, Body, Query, Request, WebSocket
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from channels.webchat.frames import CLIENT_ID_PATTERN
from channels.webchat.inbound import ChatConnection, push_reply, rate_wait
from channels.webchat.lifespan import webchat_of
from channels.webchat.outbound import CHANNEL
from channels.webchat.sessions import MAX_TOKEN_CHARS, ChatSession
from core.errors import NotFound, RateLimited, ServiceError, Unauthorized, error_responses
from core.messages import MAX_TEXT_CHARS, Attachment, InboundMessage

router = APIRouter(prefix="/chat", tags=["web chat"])

# Nothing inline, nothing from elsewhere: the page runs only its own script and style sheet.
PAGE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors *",  # the widget frames the page into the customer's own site
    )
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
ASSETS = {"chat.js": "text/javascript", "chat.css": "text/css"}


@lru_cache
def _asset(name: str) -> bytes:
    return resources.files("channels.webchat.static").joinpath(name).read_bytes()


async def _limit_sessions(connection: HTTPConnection) -> None:
    """New sessions per client address, so a script cannot mint them without end."""
    ports = webchat_of(connection).ports
    per_minute = ports.settings.rate_limit_per_key_per_minute
    address = connection.client.host if connection.client else "-"
    wait = await ports.rate_limiter.acquire(f"webchat-session:{address}", per_minute=per_minute)
    if wait is not None:
        retry = max(1, round(wait + 0.5))
        raise RateLimited(
            f"too many new chat sessions from this address; retry after {retry} s",
            retry_after_seconds=retry,
        )


@router.get("", include_in_schema=False)
async def chat_page() -> Response:
    """The chat page; `?embed=1` is the same page framed by the widget."""
    headers = {"Content-Security-Policy": PAGE_POLICY, **SECURITY_HEADERS}
    headers["Cache-Control"] = "no-cache"
    return Response(_asset("chat.html"), media_type="text/html; charset=utf-8", headers=headers)


@router.get("/static/{name}", include_in_schema=False)
async def chat_asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"no web chat asset {name!r}")
    return Response(_asset(name), media_type=ASSETS[name], headers=SECURITY_HEADERS)


@router.get("/widget.js", include_in_schema=False)
async def chat_widget() -> Response:
    """One `<script src=".../chat/widget.js" async></script>` on a site adds the chat button."""
    headers = {**SECURITY_HEADERS, "Cross-Origin-Resource-Policy": "cross-origin"}
    headers["Cache-Control"] = "public, max-age=300"
    return Response(_asset("widget.js"), media_type="text/javascript", headers=headers)


class SessionIn(BaseModel):
    token: str | None = Field(default=None, max_length=MAX_TOKEN_CHARS)


class SessionOut(BaseModel):
    session_id: str
    token: str


@router.post("/session", response_model=SessionOut, responses=error_responses(429))
async def chat_session(request: Request, body: SessionIn | None = Body(None)) -> SessionOut:
    """The session of `token` when it is still valid, else a new anonymous one."""
    webchat = webchat_of(request)
    if body is not None and body.token:
        try:
            chat = webchat.signer.verify(body.token)
            return SessionOut(session_id=chat.session_id, token=chat.token)
        except ServiceError:
            pass  # a stale or foreign token: the visitor starts afresh
    await _limit_sessions(request)
    chat = webchat.signer.new()
    return SessionOut(session_id=chat.session_id, token=chat.token)


async def _socket_session(socket: WebSocket, token: str | None) -> ChatSession:
    webchat = webchat_of(socket)
    if token:
        try:
            return webchat.signer.verify(token)
        except ServiceError:
            pass
    await _limit_sessions(socket)
    return webchat.signer.new()


class UploadOut(BaseModel):
    conversation_id: str
    action: str
    replies: list[str]


@router.post(
    "/upload", response_model=UploadOut, responses=error_responses(400, 401, 413, 415, 422, 429)
)
async def chat_upload(
    request: Request,
    token: str = Query(max_length=MAX_TOKEN_CHARS),
    client_id: str = Query(alias="id", pattern=CLIENT_ID_PATTERN),
    text: str = Query(default="", max_length=MAX_TEXT_CHARS),
    lang: Literal["zh", "zh-Hant", "en"] | None = Query(default=None),
) -> UploadOut:
    """A photo from the page (the raw bytes as the body, their type as `Content-Type`), with
    the session's token, the page's id for the message and its language (a photo has no words
    to tell it by); the bot's reply also goes to the
    session's open pages. A file the service refuses is its 4xx, with a message to show."""
    webchat = webchat_of(request)
    try:
        chat = webchat.signer.verify(token)
    except ServiceError as exc:
        raise Unauthorized("a valid web chat session token is needed") from exc
    sid = chat.session_id
    wait = await rate_wait(webchat.ports, sid)
    if wait is not None:
        raise RateLimited(f"too many messages; retry after {wait} s", retry_after_seconds=wait)
    photo = Attachment(
        type="image",
        content_type=request.headers.get("content-type") or None,
        data_base64=base64.b64encode(await request.body()).decode(),
    )
    inbound = InboundMessage(
        channel=CHANNEL, sender_id=sid, message_id=f"{sid}:{client_id}", text=text.strip(),
        lang=lang,
        attachments=(photo,),
    )  # fmt: skip
    result = await webchat.ports.intake.receive(inbound)
    if not result.duplicate:
        await push_reply(webchat.hub, sid, result, client_id)
    return UploadOut(
        conversation_id=result.conversation_id, action=result.action, replies=result.texts
    )


@router.websocket("/ws")
async def chat_socket(socket: WebSocket, token: str | None = None) -> None:
    """The page's socket; without a valid `?token=` it gets a new session in its first frame."""
    try:
        chat = await _socket_session(socket, token[:MAX_TOKEN_CHARS] if token else None)
    except ServiceError as exc:
        await socket.close(code=4000 + exc.status_code, reason=exc.message[:120])
        return
    await socket.accept()
    await ChatConnection(webchat_of(socket), socket, chat).run()
