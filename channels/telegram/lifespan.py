"""Start-up of the Telegram channel from `AFTERSALES_TELEGRAM_*`: the `Bot` on the configured
Bot API URL, the webhook handler, and long polling when no webhook secret is set."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from telegram import Bot
from telegram.error import TelegramError

from channels.telegram.inbound import TelegramInbound
from channels.telegram.outbound import TelegramOutbound
from channels.telegram.polling import poll_updates
from channels.texts import channel_texts
from core.logs import get_logger
from core.settings import Settings

if TYPE_CHECKING:
    from channels.ports import ChannelPorts

log = get_logger(__name__)


def build_bot(settings: Settings) -> Bot:
    """`Bot(token, base_url=AFTERSALES_TELEGRAM_API_URL)`: the token is appended to the URL;
    files download from the matching `.../file/bot<token>/` path."""
    assert settings.telegram_token, "build_bot needs AFTERSALES_TELEGRAM_TOKEN"
    base_url = settings.telegram_api_url
    if not base_url.endswith("/bot"):
        return Bot(settings.telegram_token, base_url=base_url)
    # Files (getFile's file_path) download from the same server's /file/bot<token>/ path.
    file_url = base_url.removesuffix("bot") + "file/bot"
    return Bot(settings.telegram_token, base_url=base_url, base_file_url=file_url)


@asynccontextmanager
async def telegram_lifespan(app: FastAPI, ports: ChannelPorts) -> AsyncIterator[None]:
    """Put the handler on `app.state.telegram`; poll for updates without a webhook secret."""
    settings = ports.settings
    app.state.telegram = None
    if not settings.telegram_token:
        yield
        return
    bot = build_bot(settings)
    try:
        await bot.initialize()  # getMe: proves the token; sending works even if this fails
    except TelegramError as exc:
        log.warning("telegram getMe failed; will keep trying on use", error=repr(exc))
    outbound = TelegramOutbound(bot)
    ports.outbound.register(outbound)
    inbound = TelegramInbound(
        intake=ports.intake,
        tickets=ports.tickets,
        outbound=outbound,
        texts=channel_texts(),
        webhook_secret=settings.telegram_webhook_secret,
    )
    app.state.telegram = inbound
    polling = None
    if not settings.telegram_webhook_secret:
        polling = asyncio.create_task(poll_updates(bot, inbound), name="telegram-polling")
    log.info("telegram channel ready", mode="polling" if polling else "webhook")
    try:
        yield
    finally:
        if polling is not None:
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
        with contextlib.suppress(TelegramError, RuntimeError):
            await bot.shutdown()
