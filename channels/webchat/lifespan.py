"""Start-up of the web chat: the session signer, the hub of open pages, the quick replies, and
`WebChatOutbound` registered with the channels' outbound registry (ticket status changes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from channels.texts import channel_texts
from channels.webchat.outbound import ChatHub, WebChatOutbound
from channels.webchat.quick_replies import QuickReplies
from channels.webchat.sessions import SessionSigner, load_secret
from core.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class WebChat:
    """What the web chat's routes share in one process (`app.state.webchat`)."""

    signer: SessionSigner
    hub: ChatHub
    quick: QuickReplies


def _product_names(app: FastAPI) -> Callable[[str], dict[str, str]]:
    """The bot's model names, looked up when asked (the bot is built before any page asks)."""

    def names(lang: str) -> dict[str, str]:
        return app.state.messages.dialogue.knowledge.product_names(lang)

    return names


@asynccontextmanager
async def webchat_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs after the channels' lifespan, whose registry (`app.state.outbound`) it joins."""
    hub = ChatHub()
    app.state.webchat = WebChat(
        signer=SessionSigner(load_secret(app.state.settings)),
        hub=hub,
        quick=QuickReplies(texts=channel_texts(), product_names=_product_names(app)),
    )
    registry = getattr(app.state, "outbound", None)
    if registry is not None:
        registry.register(WebChatOutbound(app.state.sessions, hub))
    else:
        log.warning("web chat: no outbound registry, so ticket updates reach open pages only")
    yield
