"""Long polling (`getUpdates`) for set-ups without a public HTTPS URL: `aftersales serve`
polls when `AFTERSALES_TELEGRAM_TOKEN` is set and `AFTERSALES_TELEGRAM_WEBHOOK_SECRET` is not."""

from __future__ import annotations

import asyncio

from telegram import Bot
from telegram.error import TelegramError

from channels.telegram.inbound import TelegramInbound
from core.logs import get_logger

log = get_logger(__name__)

POLL_TIMEOUT_SECONDS = 30
MAX_PAUSE_SECONDS = 30.0
ALLOWED_UPDATES = ("message", "callback_query")


async def poll_updates(bot: Bot, inbound: TelegramInbound) -> None:
    """Fetch and handle updates until cancelled; network trouble is waited out, growing pauses.

    Telegram refuses getUpdates while a webhook is set, so the webhook is removed first.
    """
    offset: int | None = None
    pause = 1.0
    webhook_removed = False
    while True:
        try:
            if not webhook_removed:
                await bot.delete_webhook()
                webhook_removed = True
            updates = await bot.get_updates(
                offset=offset, timeout=POLL_TIMEOUT_SECONDS, allowed_updates=ALLOWED_UPDATES
            )
        except TelegramError as exc:
            log.warning("telegram polling failed, retrying", error=repr(exc), pause=pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_SECONDS)
            continue
        pause = 1.0
        for update in updates:
            offset = update.update_id + 1
            try:
                await inbound.handle(update)
            except Exception as exc:  # one bad update must not stop the channel
                log.warning("telegram update failed", update_id=update.update_id, error=repr(exc))
