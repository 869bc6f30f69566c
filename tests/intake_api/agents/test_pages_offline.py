"""`/docs`, `/redoc`, `/agent` and `/agent/dashboard` render in Chromium with every asset from
the service itself (no CDN), and their HTML names no other host."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from core.settings import Settings
from intake_api.app import create_app
from tests.intake_api.agents.browser import WAIT_MS, chromium, foreign, record_hosts
from tests.intake_api.conftest import ADMIN_KEY
from tests.support.server import running_server

URL = re.compile(r"""(?:src|href)\s*=\s*["']?(https?:)?//""", re.IGNORECASE)
PAGES = ["/docs", "/redoc", "/agent", "/agent/dashboard"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("pages")
    settings = Settings(
        _env_file=None,
        data_dir=folder / "data",
        database_url=f"sqlite+aiosqlite:///{folder / 'pages.db'}",
        admin_key=ADMIN_KEY,
        load_demo_kb=False,
    )
    with running_server(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.mark.parametrize("path", PAGES)
def test_the_page_names_no_other_host(base: str, path: str) -> None:
    html = httpx.get(f"{base}{path}").text
    assert "<script" in html
    assert not URL.search(html), html


@pytest.mark.parametrize(
    ("path", "title"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")]
)
def test_the_docs_page_renders_offline(base: str, browser: Browser, path: str, title: str) -> None:
    page = browser.new_page()
    hosts = record_hosts(page)
    page.goto(f"{base}{path}")
    expect(page.locator(title).first).to_contain_text("aftersales", timeout=WAIT_MS)
    expect(page.get_by_text("/v1/tickets").first).to_be_attached(timeout=WAIT_MS)
    page.wait_for_load_state("networkidle")
    assert hosts and not foreign(hosts, base), hosts
    page.close()
