"""`aftersales chat`: talk to the bot in the terminal, through the service's own message path.

The app's lifespan runs as for `serve` (same database, knowledge base, tickets), and every line
goes through `MessageDesk.receive` like a `POST /v1/messages` on the `terminal` channel.
"""

from __future__ import annotations

import asyncio
import getpass
import uuid
from collections.abc import Callable

import typer
from pydantic import ValidationError

from core.messages import InboundMessage
from core.settings import get_settings
from intake_api.messages.flows import MessageDesk
from intake_api.services import services

CHANNEL = "terminal"
QUIT = {"/quit", "/exit", "/q"}


def chat(
    sender: str = typer.Option(
        None, "--sender", help="Who you are to the bot (default: your login name)."
    ),
    lang: str = typer.Option(None, "--lang", help="zh or en when a line has no words."),
    show_action: bool = typer.Option(True, help="Print the bot's action after each reply."),
) -> None:
    """Talk to the bot in the terminal (type /quit to leave)."""
    if lang not in (None, "zh", "en"):
        typer.echo("error: --lang must be zh or en", err=True)
        raise typer.Exit(2)
    asyncio.run(chat_session(sender or getpass.getuser(), lang, show_action))


async def chat_session(
    sender: str,
    lang: str | None,
    show_action: bool,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = typer.echo,
) -> None:
    """Read lines (`read`, the terminal) until /quit or end of input; `write` the bot's replies."""
    from intake_api.app import create_app  # the whole service: loaded only when chatting

    app = create_app(get_settings())
    async with app.router.lifespan_context(app):
        desk: MessageDesk = services(app).messages
        write("Chat with the after-sales bot; /quit to leave.")
        while True:
            try:
                line = await asyncio.to_thread(read, "you> ")
            except (EOFError, KeyboardInterrupt):
                write("")
                return
            if line.strip() in QUIT:
                return
            if not line.strip():
                continue
            try:
                message = InboundMessage(
                    channel=CHANNEL,
                    sender_id=sender,
                    message_id=uuid.uuid4().hex,
                    text=line,
                    lang=lang,
                )
            except ValidationError as exc:
                typer.echo(f"error: {exc.errors()[0]['msg']}", err=True)
                continue
            answer = await desk.receive(message)
            for text in answer.texts:
                write(f"bot> {text}")
            if show_action:
                ticket = answer.ticket
                extra = f" ticket={ticket['id']} {ticket['priority']}" if ticket else ""
                write(f"     [{answer.action}{extra}]")
