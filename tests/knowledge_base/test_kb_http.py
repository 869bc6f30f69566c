"""`GET /v1/kb/search` on a real server (SQLite and PostgreSQL): the demo KB loaded into an empty
store at start, hits in the contract's shape without an API key, and bad input never a 5xx."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from core.database import create_engine, session_factory, unit_of_work
from core.settings import Settings
from intake_api.app import create_app
from intake_api.kb.lifespan import DEMO_KB_DIR
from knowledge_base.loader import read_knowledge_base
from knowledge_base.service import KnowledgeService
from knowledge_base.store import import_knowledge_base
from tests.knowledge_base.test_index import small_kb
from tests.support.postgres import create_database
from tests.support.server import running_server


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo KB's index as a previous run of the service left it (embedding is the slow part;
    the server must reuse it, which is part of what is tested)."""
    index_dir = tmp_path_factory.mktemp("demo") / "index"
    KnowledgeService.from_knowledge_base(read_knowledge_base(DEMO_KB_DIR), index_dir)
    return index_dir


def warm_up(settings: Settings) -> None:
    """Start and stop the service once in-process: slow first-start work of other domains (NLU
    training) is then cached before the server with its start-up deadline runs."""

    async def start_and_stop() -> None:
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(start_and_stop())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, demo_index: Path
) -> Iterator[tuple[str, Settings]]:
    """One real server per database for the module, started on an empty store."""
    data_dir = tmp_path_factory.mktemp("data")
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{data_dir / 'test.db'}"
    else:
        url = create_database(request.getfixturevalue("postgres_admin_url"))
    settings = Settings(_env_file=None, data_dir=data_dir, database_url=url, load_demo_kb=True)
    shutil.copytree(demo_index, settings.index_dir)
    warm_up(settings)
    with running_server(create_app(settings)) as base:
        yield base, settings


@pytest.fixture
def base_url(server: tuple[str, Settings]) -> str:
    return server[0]


def test_search_answers_in_the_contract_shape_without_a_key(base_url: str) -> None:
    response = httpx.get(f"{base_url}/v1/kb/search", params={"q": "compressor", "k": 3})
    assert response.status_code == 200
    hits = response.json()
    assert 1 <= len(hits) <= 3
    for hit in hits:
        assert set(hit) == {"id", "type", "score", "title"}
        assert hit["type"] in ("fault", "faq")
        assert isinstance(hit["score"], float)
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)


def test_demo_fault_found_by_its_code_and_title_follows_language(base_url: str) -> None:
    # A code of the demo KB, typed two ways, finds the same fault first.
    demo = read_knowledge_base(DEMO_KB_DIR)
    fault = next(f for f in demo.faults if f.codes)
    code = fault.codes[0]
    zh = httpx.get(f"{base_url}/v1/kb/search", params={"q": f"屏幕报{code.lower()}"}).json()
    en = httpx.get(f"{base_url}/v1/kb/search", params={"q": f"display shows {code}", "lang": "en"})
    assert zh[0]["id"] == fault.id == en.json()[0]["id"]
    assert zh[0]["title"] == fault.title["zh"]
    assert en.json()[0]["title"] == fault.title["en"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 2001},
        {"q": "pump", "k": 0},
        {"q": "pump", "k": 51},
        {"q": "pump", "k": "many"},
        {"q": "pump", "lang": "fr"},
    ],
)
def test_bad_input_is_a_clear_422(base_url: str, params: dict[str, object]) -> None:
    response = httpx.get(f"{base_url}/v1/kb/search", params=params)
    assert response.status_code == 422
    assert response.json()


def raw_get_status(base_url: str, target: str) -> int:
    """Status code of a GET sent over a plain socket (httpx refuses URLs this long)."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        status_line = conn.makefile("rb").readline().decode("latin-1")
    return int(status_line.split()[1])


@pytest.mark.parametrize("q", ["a" * 100_000, quote("漏水" * 12_000)])
def test_100_kb_query_is_refused_not_a_server_error(base_url: str, q: str) -> None:
    assert 400 <= raw_get_status(base_url, f"/v1/kb/search?q={q}") < 500


@pytest.mark.parametrize("q", ["\x00\x01\x02", "\ufffd\ufffd\ufffd", "？？！！", "\x7f" * 10])
def test_garbage_gives_an_empty_list(base_url: str, q: str) -> None:
    response = httpx.get(f"{base_url}/v1/kb/search", params={"q": q})
    assert response.status_code == 200
    assert response.json() == []


def test_binary_bytes_in_the_query_string_never_5xx(base_url: str) -> None:
    response = httpx.get(f"{base_url}/v1/kb/search?q=%FF%FE%00%C3%28pump")
    assert response.status_code < 500


def test_running_server_follows_an_import_made_elsewhere(server: tuple[str, Settings]) -> None:
    base, settings = server

    async def import_small_kb() -> None:
        engine = create_engine(settings.resolved_database_url)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                await import_knowledge_base(session, small_kb())
        finally:
            await engine.dispose()

    asyncio.run(import_small_kb())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        hits = httpx.get(f"{base}/v1/kb/search", params={"q": "AC300 报E03"}).json()
        if hits and hits[0]["id"] == "F-AC-E03":
            return
        time.sleep(0.5)
    pytest.fail(f"the server did not pick up the import: {hits}")
