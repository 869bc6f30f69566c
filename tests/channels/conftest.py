"""Fixtures of the channel tests: the whole service on a real server, configured for WeChat
and Telegram, with local stand-ins of both platforms' APIs on loopback."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from core.settings import Settings
from intake_api.app import create_app
from intake_api.messages.lifespan import load_interpreter
from tests.channels.standins import BotApiStandIn, WeChatApiStandIn
from tests.support.postgres import create_database
from tests.support.server import running_server

ADMIN_KEY = "channels-admin-key-0123456789"
WECHAT_TOKEN = "wechat-server-token"
WECHAT_APP_ID = "wx0123456789abcdef"
WECHAT_SECRET = "wechat-app-secret"
TELEGRAM_TOKEN = "123456:TEST-token"
TELEGRAM_SECRET = "telegram-webhook-secret"


def new_aes_key() -> str:
    """An EncodingAESKey as the WeChat console makes it: 43 characters of base64."""
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")


@dataclass
class Service:
    """The running service, its app object, and clients for its API."""

    url: str
    app: FastAPI
    admin: httpx.Client
    client: httpx.Client


@pytest.fixture
def wechat_api() -> Iterator[tuple[str, WeChatApiStandIn]]:
    standin = WeChatApiStandIn(WECHAT_APP_ID, WECHAT_SECRET)
    with running_server(standin.app) as url:
        yield url, standin


@pytest.fixture
def bot_api() -> Iterator[tuple[str, BotApiStandIn]]:
    standin = BotApiStandIn(TELEGRAM_TOKEN)
    with running_server(standin.app) as url:
        yield url, standin


@pytest.fixture
def aes_key() -> str:
    return new_aes_key()


@pytest.fixture
def channel_settings(
    settings: Settings,
    wechat_api: tuple[str, WeChatApiStandIn],
    bot_api: tuple[str, BotApiStandIn],
    aes_key: str,
    trained_nlu: None,
) -> Settings:
    """Both channels configured, their APIs pointing at the stand-ins."""
    return settings.model_copy(
        update={
            "admin_key": ADMIN_KEY,
            "wechat_token": WECHAT_TOKEN,
            "wechat_app_id": WECHAT_APP_ID,
            "wechat_app_secret": WECHAT_SECRET,
            "wechat_aes_key": aes_key,
            "wechat_api_url": wechat_api[0],
            "telegram_token": TELEGRAM_TOKEN,
            "telegram_webhook_secret": TELEGRAM_SECRET,
            "telegram_api_url": f"{bot_api[0]}/bot",
        }
    )


def prepare(settings: Settings) -> None:
    """Start and stop the service once in-process, so that its slow first start (loading and
    indexing a knowledge base) is done before a server with a start-up deadline runs it."""

    async def start_and_stop() -> None:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(start_and_stop())


@pytest.fixture(scope="session")
def trained_nlu(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Train the bundled NLU model once per run, before any server starts (every app of the
    process then shares it)."""
    load_interpreter(tmp_path_factory.mktemp("nlu-model"))


def serve(settings: Settings) -> Iterator[Service]:
    app = create_app(settings)
    with running_server(app) as url:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with (
            httpx.Client(base_url=url, headers=headers, timeout=30) as admin,
            httpx.Client(base_url=url, timeout=30) as client,
        ):
            yield Service(url=url, app=app, admin=admin, client=client)


@pytest.fixture
def service(channel_settings: Settings) -> Iterator[Service]:
    yield from serve(channel_settings)


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """SQLite for most channel tests (fast); those where storage matters parametrize
    `database_url` with "postgresql" too."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    return create_database(request.getfixturevalue("postgres_admin_url"))
