"""The agent console in headless Chromium: paste a key, see the queue in order, claim an item;
customer text stays text."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from core.settings import Settings
from intake_api.app import create_app
from tests.intake_api.conftest import ADMIN_KEY
from tests.support.server import running_server

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000
HOSTILE = "<img src=x onerror=\"document.title='owned'\"> Pump leaks"


@pytest.fixture
def base(intake_settings: Settings) -> Iterator[str]:
    with running_server(create_app(intake_settings)) as url:
        yield url


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        yield page
        browser.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_console_lists_the_queue_and_claims_an_item(base: str, page: Page) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        low = admin.post("/v1/tickets", json={"subject": "Manual wanted", "priority": "P4"})
        urgent = admin.post("/v1/tickets", json={"subject": HOSTILE, "priority": "P1"})
        key = admin.post("/v1/apikeys", json={"name": "carol", "scopes": ["agents"]}).json()
    urgent_id, low_id = urgent.json()["id"], low.json()["id"]

    answer = page.goto(f"{base}/agent")
    assert answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
    page.fill("#api-key", key["key"])
    page.click("#key-form button[type=submit]")

    rows = page.locator("#queue tbody tr")
    expect(rows).to_have_count(2)
    assert [rows.nth(i).get_attribute("data-id") for i in range(2)] == [urgent_id, low_id]
    first = rows.nth(0)
    expect(first.locator("td").nth(2)).to_have_text(HOSTILE)  # shown as text, not markup
    assert page.locator("#queue img").count() == 0 and page.title() != "owned"

    first.get_by_role("button", name="Claim").click()

    expect(first.locator(".claimed-by")).to_have_text(f"apikey:{key['id']}:carol")
    expect(page.locator("#status")).to_contain_text(f"{urgent_id} claimed")
    expect(first.get_by_role("button", name="Claim")).to_have_count(0)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        ticket = admin.get(f"/v1/tickets/{urgent_id}").json()
    assert (ticket["status"], ticket["assignee"]) == ("assigned", f"apikey:{key['id']}:carol")
    assert page.evaluate("sessionStorage.getItem('aftersales.agentKey')") == key["key"]
