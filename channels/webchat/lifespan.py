"""Start-up of the web chat: the session signer, the hub of open pages, and `WebChatOutbound`
registered with the channels' outbound registry (ticket status changes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.requests import HTTPConnection

from channels.ports import ChannelPorts
from channels.webchat.outbound import ChatHub, WebChatOutbound
from channels.webchat.sessions import SessionSigner, load_secret


@dataclass(frozen=True)
class WebChat:
    """What the web chat's routes share in one process (`app.state.webchat`)."""

    signer: SessionSigner
    hub: ChatHub
    ports: ChannelPorts


def webchat_of(connection: HTTPConnection) -> WebChat:
    """The web chat of the app serving a request or socket."""
    return connection.app.state.webchat


@asynccontextmanager
async def webchat_lifespan(app: FastAPI, ports: ChannelPorts) -> AsyncIterator[None]:
    """Always on: the page needs no platform account."""
    hub = ChatHub()
    signer = SessionSigner(load_secret(ports.settings))
    app.state.webchat = WebChat(signer=signer, hub=hub, ports=ports)
    ports.outbound.register(WebChatOutbound(ports.conversations, hub))
    yield
