"""Shared fixtures: a real database (SQLite and PostgreSQL), settings, engine, sessions."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.database import create_engine, session_factory
from core.settings import Settings
from intake_api.storage.migrate import migrate
from tests.support.postgres import PostgresServer, create_database

# The public sample KB and its labelled queries, kept in the repository (bench/data/sample).
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "bench" / "data" / "sample"


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A PostgreSQL server for the whole run, started only if a test asks for it."""
    url = os.environ.get("AFTERSALES_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    server = PostgresServer()
    server.start()
    try:
        yield server.admin_url
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database per test, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    return create_database(request.getfixturevalue("postgres_admin_url"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings isolated from the developer's environment and `.env`."""
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        load_demo_kb=False,
    )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated database."""
    engine = create_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


def _sample_file(name: str) -> Path:
    path = SAMPLE_DIR / name
    if not path.is_file():
        pytest.fail(f"sample data missing from the checkout: {path}")
    return path


@pytest.fixture
def sample_kb() -> Path:
    """The public sample knowledge base (bench/data/sample/kb-sample.yaml)."""
    return _sample_file("kb-sample.yaml")


@pytest.fixture
def sample_queries() -> Path:
    """The sample's labelled customer messages (bench/data/sample/dev-queries.jsonl)."""
    return _sample_file("dev-queries.jsonl")
