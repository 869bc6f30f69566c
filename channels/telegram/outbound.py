"""Telegram's Bot API as the outbound channel: `sendMessage` through python-telegram-bot's
`Bot`, whose `base_url` (`AFTERSALES_TELEGRAM_API_URL`) may point at a local Bot API server."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from core.channels import OutboundError, split_text
from core.messages import Button

CHANNEL = "telegram"
MAX_TEXT_CHARS = 4096
# Telegram's limit for a button's callback data, which carries the payload back.
MAX_CALLBACK_BYTES = 64


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """Buttons in one row each, so long labels stay readable on phones; a button whose payload
    Telegram cannot carry is left out (the customer can still type it)."""
    rows = [
        [InlineKeyboardButton(b.label, callback_data=b.payload)]
        for b in buttons
        if 0 < len(b.payload.encode()) <= MAX_CALLBACK_BYTES
    ]
    return InlineKeyboardMarkup(rows) if rows else None


class TelegramOutbound:
    """Sends texts to a chat; buttons go under the last piece of a long text."""

    name = CHANNEL

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(
        self, recipient_id: str, text: str, buttons: Sequence[Button] | None = None
    ) -> None:
        pieces = split_text(text, MAX_TEXT_CHARS)
        for number, piece in enumerate(pieces, start=1):
            markup = keyboard(buttons) if buttons and number == len(pieces) else None
            try:
                await self.bot.send_message(chat_id=recipient_id, text=piece, reply_markup=markup)
            except TelegramError as exc:
                raise OutboundError(CHANNEL, recipient_id, repr(exc)) from exc
