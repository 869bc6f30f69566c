"""`aftersales chat`: the terminal channel runs the service's own message path on the local DB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from core.database import unit_of_work
from core.settings import get_settings
from intake_api.cli import app
from intake_api.cli.chat import chat_session
from intake_api.messages.models import StoredMessage
from knowledge_base.loader import read_knowledge_base
from knowledge_base.store import import_knowledge_base

KB_FILE = Path(__file__).resolve().parents[2] / "bot" / "dialogue" / "kb.yaml"


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> Iterator[None]:
    """The chat reads its settings from the environment, like every command."""
    monkeypatch.setenv("AFTERSALES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AFTERSALES_DATABASE_URL", database_url)
    monkeypatch.setenv("AFTERSALES_LOAD_DEMO_KB", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_chat_answers_in_the_terminal_and_stores_the_messages(
    environment: None,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        await import_knowledge_base(session, read_knowledge_base(KB_FILE))
    typed = iter(["how long is the warranty?", "/quit"])
    shown: list[str] = []
    await chat_session(
        "tester", None, show_action=True, read=lambda _prompt: next(typed), write=shown.append
    )
    output = "\n".join(shown)
    assert "Two years on the unit" in output and "[answer]" in output
    async with sessions() as session:
        stored = await session.scalar(select(StoredMessage))
    assert stored is not None and (stored.channel, stored.sender_id) == ("terminal", "tester")


def test_chat_rejects_an_unknown_language() -> None:
    result = CliRunner().invoke(app, ["chat", "--lang", "fr"])
    assert result.exit_code == 2 and "zh or en" in result.output
