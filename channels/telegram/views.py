"""`POST /channels/telegram/webhook`: updates Telegram pushes to a webhook set with a
`secret_token`; the secret comes back in `X-Telegram-Bot-Api-Secret-Token`."""

from __future__ import annotations

import hmac
import json

from fastapi import APIRouter, Header, Request
from telegram import Update

from channels.telegram.handler import TelegramInbound
from core.errors import Forbidden, NotFound, ServiceError
from core.settings import Settings

router = APIRouter(prefix="/channels/telegram", tags=["channels"])


def _check_secret(settings: Settings, given: str | None) -> None:
    expected = settings.telegram_webhook_secret
    if not expected:
        raise Forbidden(
            "the Telegram webhook is off: set AFTERSALES_TELEGRAM_WEBHOOK_SECRET "
            "(and pass it to setWebhook as secret_token)"
        )
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("wrong or missing X-Telegram-Bot-Api-Secret-Token")


@router.post("/webhook")
async def telegram_webhook(
    request: Request,
    secret: str | None = Header(None, alias="X-Telegram-Bot-Api-Secret-Token", max_length=256),
) -> dict[str, bool]:
    """Handle one update; a 200 tells Telegram it need not send it again."""
    inbound: TelegramInbound | None = getattr(request.app.state, "telegram", None)
    if inbound is None:
        raise NotFound("the Telegram channel is not configured: set AFTERSALES_TELEGRAM_TOKEN")
    _check_secret(request.app.state.settings, secret)
    try:
        data = json.loads(await request.body())
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("an Update is a JSON object with an integer update_id")
        update = Update.de_json(data, inbound.sender.bot)
    except (ValueError, TypeError, KeyError) as exc:
        raise ServiceError(f"not a Telegram update: {exc}") from exc
    await inbound.handle(update)
    return {"ok": True}
