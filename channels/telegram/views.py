"""`POST /channels/telegram/webhook`: updates Telegram pushes to a webhook set with a
`secret_token`; the secret comes back in `X-Telegram-Bot-Api-Secret-Token`."""

from __future__ import annotations

from fastapi import APIRouter, Header, Request

from channels.telegram.inbound import TelegramInbound
from core.errors import NotFound, error_responses

router = APIRouter(prefix="/channels/telegram", tags=["channels"])


@router.post(
    "/webhook",
    responses=error_responses(
        400,
        403,
        404,
        413,
        wording={
            400: "Not a Telegram update.",
            403: "Wrong or missing secret token (or the webhook is off).",
            404: "The Telegram channel is not configured.",
        },
    ),
)
async def telegram_webhook(
    request: Request,
    secret: str | None = Header(None, alias="X-Telegram-Bot-Api-Secret-Token", max_length=256),
) -> dict[str, bool]:
    """Handle one update; a 200 tells Telegram it need not send it again."""
    inbound: TelegramInbound | None = getattr(request.app.state, "telegram", None)
    if inbound is None:
        raise NotFound("the Telegram channel is not configured: set AFTERSALES_TELEGRAM_TOKEN")
    inbound.check_secret(secret)
    await inbound.handle(inbound.parse(await request.body()))
    return {"ok": True}
