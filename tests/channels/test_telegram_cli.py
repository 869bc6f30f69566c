"""`aftersales telegram set-webhook / webhook-info / delete-webhook` against a local stand-in
of the Bot API."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from core.settings import get_settings
from intake_api.cli import app
from tests.channels.conftest import TELEGRAM_SECRET, TELEGRAM_TOKEN
from tests.channels.standins import BotApiStandIn

WEBHOOK = "https://service.example.com/channels/telegram/webhook"


@pytest.fixture
def cli_env(
    bot_api: tuple[str, BotApiStandIn], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> BotApiStandIn:
    """The environment a deployment has: token, webhook secret, Bot API URL."""
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("AFTERSALES_TELEGRAM_TOKEN", TELEGRAM_TOKEN)
    monkeypatch.setenv("AFTERSALES_TELEGRAM_WEBHOOK_SECRET", TELEGRAM_SECRET)
    monkeypatch.setenv("AFTERSALES_TELEGRAM_API_URL", f"{bot_api[0]}/bot")
    get_settings.cache_clear()
    yield bot_api[1]
    get_settings.cache_clear()


def test_set_webhook_registers_the_url_with_the_secret(cli_env: BotApiStandIn) -> None:
    result = CliRunner().invoke(app, ["telegram", "set-webhook", WEBHOOK])
    assert result.exit_code == 0, result.output
    [call] = cli_env.recorder.of("setWebhook")
    assert call["url"] == WEBHOOK
    assert call["secret_token"] == TELEGRAM_SECRET
    assert call["allowed_updates"] == ["message", "callback_query"]
    info = CliRunner().invoke(app, ["telegram", "webhook-info"])
    assert WEBHOOK in info.output
    assert CliRunner().invoke(app, ["telegram", "delete-webhook"]).exit_code == 0
    assert "(none: polling)" in CliRunner().invoke(app, ["telegram", "webhook-info"]).output


def test_set_webhook_without_a_secret_is_refused(
    cli_env: BotApiStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AFTERSALES_TELEGRAM_WEBHOOK_SECRET")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["telegram", "set-webhook", WEBHOOK])
    assert result.exit_code == 1
    assert "AFTERSALES_TELEGRAM_WEBHOOK_SECRET" in result.output
    assert cli_env.recorder.of("setWebhook") == []


def test_a_token_the_bot_api_refuses_is_a_clear_error(
    cli_env: BotApiStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AFTERSALES_TELEGRAM_TOKEN", "999:revoked")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["telegram", "webhook-info"])
    assert result.exit_code == 1
    assert "error:" in result.output
    assert "Traceback" not in result.output
