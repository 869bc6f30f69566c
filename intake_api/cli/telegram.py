"""`aftersales telegram ...`: point Telegram at the service's webhook, or take it away.

`aftersales serve` itself polls when no webhook secret is set; these commands are for the
webhook set-up (see docs/channels.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from telegram import Bot
from telegram.error import TelegramError

from channels.telegram.lifespan import build_bot
from channels.telegram.polling import ALLOWED_UPDATES
from core.settings import Settings, get_settings

telegram_app = typer.Typer(help="Telegram bot: webhook set-up.", no_args_is_help=True)

T = TypeVar("T")


def _with_bot(settings: Settings, call: Callable[[Bot], Awaitable[T]]) -> T:
    """Run one Bot API call; a refusal or network error is a clear error and exit 1."""
    if not settings.telegram_token:
        typer.echo("error: AFTERSALES_TELEGRAM_TOKEN is not set", err=True)
        raise typer.Exit(1)

    async def run() -> T:
        async with build_bot(settings) as bot:
            return await call(bot)

    try:
        return asyncio.run(run())
    except TelegramError as exc:
        typer.echo(f"error: the Bot API refused: {exc}", err=True)
        raise typer.Exit(1) from exc


@telegram_app.command("set-webhook")
def set_webhook(
    url: str = typer.Argument(
        ..., help="Public HTTPS URL of the service's /channels/telegram/webhook."
    ),
) -> None:
    """Have Telegram POST updates to URL, with AFTERSALES_TELEGRAM_WEBHOOK_SECRET as the
    secret token the service checks."""
    settings = get_settings()
    secret = settings.telegram_webhook_secret
    if not secret:
        typer.echo(
            "error: set AFTERSALES_TELEGRAM_WEBHOOK_SECRET first (the service refuses webhook "
            "calls without it)",
            err=True,
        )
        raise typer.Exit(1)
    _with_bot(
        settings,
        lambda bot: bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES),
    )
    typer.echo(f"webhook set: {url}")


@telegram_app.command("delete-webhook")
def delete_webhook() -> None:
    """Stop webhook deliveries (for polling mode)."""
    _with_bot(get_settings(), lambda bot: bot.delete_webhook())
    typer.echo("webhook deleted")


@telegram_app.command("webhook-info")
def webhook_info() -> None:
    """Where Telegram sends updates, how many wait, and its last delivery error."""
    info = _with_bot(get_settings(), lambda bot: bot.get_webhook_info())
    typer.echo(f"url: {info.url or '(none: polling)'}")
    typer.echo(f"pending updates: {info.pending_update_count}")
    if info.last_error_message:
        typer.echo(f"last error: {info.last_error_message} at {info.last_error_date}")
