"""`GET /channels/wechat` (server-URL verification) and `POST /channels/wechat` (messages).

No API key here: WeChat proves itself with the signature of the shared token instead.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from wechatpy.replies import TextReply

from channels.wechat.envelope import (
    MAX_XML_BYTES,
    Signed,
    WeChatConfig,
    open_message,
    seal_reply,
    verify_signature,
)
from channels.wechat.inbound import WeChatInbound
from core.errors import NotFound, PayloadTooLarge, error_responses

router = APIRouter(
    prefix="/channels/wechat",
    tags=["channels"],
    responses=error_responses(
        403,
        404,
        wording={
            403: "The WeChat signature is missing or does not match the token.",
            404: "The WeChat channel is not configured.",
        },
    ),
)

# One of the query parameters WeChat signs its requests with.
SignaturePart = Annotated[str | None, Query(max_length=128)]


def _configured(request: Request) -> tuple[WeChatConfig, WeChatInbound]:
    inbound: WeChatInbound | None = getattr(request.app.state, "wechat", None)
    if inbound is None:
        raise NotFound("the WeChat channel is not configured: set AFTERSALES_WECHAT_TOKEN")
    return inbound.config, inbound


async def _limited_body(request: Request) -> bytes:
    """The body, read no further than `MAX_XML_BYTES` (WeChat's messages are a few KB)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_XML_BYTES:
            raise PayloadTooLarge(
                f"WeChat message larger than {MAX_XML_BYTES} bytes", max_bytes=MAX_XML_BYTES
            )
    return bytes(body)


@router.get("", response_class=PlainTextResponse)
async def verify_server(
    request: Request,
    signature: SignaturePart = None,
    timestamp: SignaturePart = None,
    nonce: SignaturePart = None,
    echostr: str = Query("", max_length=1024),
) -> PlainTextResponse:
    """WeChat's server-URL check: echo `echostr` when the signature is right (403 if not)."""
    config, _ = _configured(request)
    verify_signature(config, Signed(signature, timestamp, nonce))
    return PlainTextResponse(echostr)


@router.post("", responses=error_responses(400, 413, wording={400: "Not a WeChat message (XML)."}))
async def receive(
    request: Request,
    signature: SignaturePart = None,
    timestamp: SignaturePart = None,
    nonce: SignaturePart = None,
    msg_signature: SignaturePart = None,
    encrypt_type: str | None = Query(None, max_length=16),
) -> Response:
    """A message or event: the passive XML reply (encrypted in safe mode), or `success`."""
    config, inbound = _configured(request)
    signed = Signed(signature, timestamp, nonce, msg_signature, encrypt_type)
    message = open_message(config, signed, await _limited_body(request))
    text = await inbound.reply_to(message)
    if text is None:
        return PlainTextResponse("success")
    reply = TextReply(message=message, content=text).render()
    return Response(seal_reply(config, signed, reply), media_type="application/xml")
