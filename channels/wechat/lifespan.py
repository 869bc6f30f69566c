"""Start-up of the WeChat channel from `AFTERSALES_WECHAT_*`: the server URL needs the token,
the outbound side (late answers, status updates) the app id and secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from channels.texts import channel_texts
from channels.wechat.envelope import WeChatConfig
from channels.wechat.inbound import WeChatInbound
from channels.wechat.outbound import WeChatOutbound
from core.logs import get_logger

if TYPE_CHECKING:
    from channels.ports import ChannelPorts

log = get_logger(__name__)


@asynccontextmanager
async def wechat_lifespan(app: FastAPI, ports: ChannelPorts) -> AsyncIterator[None]:
    """Put the inbound handler on `app.state.wechat` and register the API as outbound."""
    settings = ports.settings
    app.state.wechat = None
    if not settings.wechat_token:
        yield
        return
    outbound = None
    if settings.wechat_app_id and settings.wechat_app_secret:
        outbound = WeChatOutbound(
            app_id=settings.wechat_app_id,
            app_secret=settings.wechat_app_secret,
            api_url=settings.wechat_api_url,
        )
        ports.outbound.register(outbound)
    else:
        log.warning("wechat: no app id/secret, so slow answers and status updates cannot be sent")
    config = WeChatConfig(
        token=settings.wechat_token, app_id=settings.wechat_app_id, aes_key=settings.wechat_aes_key
    )
    inbound = WeChatInbound(
        config=config, intake=ports.intake, outbound=outbound, texts=channel_texts()
    )
    app.state.wechat = inbound
    log.info(
        "wechat channel ready", safe_mode=bool(settings.wechat_aes_key), outbound=bool(outbound)
    )
    try:
        yield
    finally:
        await inbound.aclose()
        if outbound is not None:
            await outbound.aclose()
