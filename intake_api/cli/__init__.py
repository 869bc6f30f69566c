"""The `aftersales` command line: one sub-command group per domain."""

from __future__ import annotations

import typer

from intake_api.cli.agents import agents_app
from intake_api.cli.apikeys import apikey_app
from intake_api.cli.assets import assets_app
from intake_api.cli.bot import bot_app
from intake_api.cli.chat import chat
from intake_api.cli.deliveries import deliveries_app
from intake_api.cli.kb import kb_app
from intake_api.cli.nlu import nlu_app
from intake_api.cli.serve import serve
from intake_api.cli.telegram import telegram_app

app = typer.Typer(
    name="aftersales",
    help="After-sales customer service: knowledge base, bot, intake API, channels.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """After-sales customer service: knowledge base, bot, intake API, channels."""


app.command()(serve)
# --- domain command groups (each domain adds its add_typer/command line here) ----------------
app.add_typer(kb_app, name="kb")
app.add_typer(nlu_app, name="nlu")
app.add_typer(bot_app, name="bot")
app.command("chat")(chat)
app.add_typer(apikey_app, name="apikey")
app.add_typer(agents_app, name="agents")
app.add_typer(deliveries_app, name="deliveries")
app.add_typer(telegram_app, name="telegram")
app.add_typer(assets_app, name="assets")
import intake_api.cli.kb_admin  # noqa: E402, F401  (registers kb import/validate/stats/export)
import intake_api.cli.kb_search  # noqa: E402, F401  (registers kb search/eval)
