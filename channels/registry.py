"""Every channel of the service, in one list: its name, its routes and its start-up. Adding a
channel is a folder under `channels/` (`inbound.py`, `outbound.py`, `views.py`, `lifespan.py`)
and a line here; the service includes each router and runs each lifespan with its ports."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from channels.ports import ChannelLifespan
from channels.telegram.lifespan import telegram_lifespan
from channels.telegram.views import router as telegram_router
from channels.webchat.lifespan import webchat_lifespan
from channels.webchat.views import router as webchat_router
from channels.wechat.lifespan import wechat_lifespan
from channels.wechat.views import router as wechat_router


@dataclass(frozen=True)
class Channel:
    """One platform customers write on."""

    name: str
    router: APIRouter
    lifespan: ChannelLifespan


CHANNELS: tuple[Channel, ...] = (
    Channel("wechat", wechat_router, wechat_lifespan),
    Channel("telegram", telegram_router, telegram_lifespan),
    Channel("webchat", webchat_router, webchat_lifespan),
)
