"""The workspace's Equipment panel: alarms of units not in the registry and open fleet incidents
(five units with one code, the default threshold), by `GET /v1/agent/equipment` on SQLite and
PostgreSQL, and on the `/agent` page in headless Chromium, where a child ticket opens."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from core.settings import Settings
from intake_api.app import create_app
from tests.intake_api.agents.browser import (
    WAIT_MS,
    chromium,
    create_agent,
    foreign,
    record_hosts,
    sign_in,
)
from tests.intake_api.alarms.forms import plain
from tests.intake_api.assets.support import register, store_kb
from tests.intake_api.conftest import ADMIN_KEY
from tests.support.server import running_server

FLEET = [f"SN-F{n}" for n in range(1, 6)]
PASSWORD = "equipment 2026"
expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def admin(intake_settings: Settings) -> Iterator[httpx.Client]:
    """The service (default fleet threshold: 5 units in 30 min) on a database with the test KB."""
    store_kb(intake_settings.resolved_database_url)
    with running_server(create_app(intake_settings)) as url:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            yield client


def alarm(admin: httpx.Client, serial: str, code: str) -> dict:
    response = admin.post("/v1/alarms", json=plain(serial, code))
    assert response.status_code == 202, response.text
    return response.json()["alarm"]


def fleet_incident(admin: httpx.Client) -> list[str]:
    """Five registered units raise A-112: their ticket ids, under one incident."""
    for serial in FLEET:
        register(admin, serial, product_id="HX-75")
    return [alarm(admin, serial, "A-112")["ticket_id"] for serial in FLEET]


def as_key(admin: httpx.Client, *scopes: str) -> httpx.Client:
    made = admin.post("/v1/apikeys", json={"name": "desk", "scopes": list(scopes)})
    assert made.status_code == 201, made.text
    headers = {"Authorization": f"Bearer {made.json()['key']}"}
    return httpx.Client(base_url=admin.base_url, headers=headers, timeout=30)


def test_the_panel_lists_unmatched_alarms_newest_first_and_open_incidents(
    admin: httpx.Client,
) -> None:
    alarm(admin, "GHOST-1", "A-112")
    alarm(admin, "GHOST-2", "E-999")
    alarm(admin, "GHOST-1", "A-112")  # a repeat: counted, and now the latest
    tickets = fleet_incident(admin)
    with as_key(admin, "agents") as desk:
        panel = desk.get("/v1/agent/equipment").json()
        first = desk.get("/v1/agent/equipment", params={"limit": 1}).json()
    assert [(a["serial"], a["code"], a["count"]) for a in panel["unmatched"]] == [
        ("GHOST-1", "A-112", 2),
        ("GHOST-2", "E-999", 1),
    ]
    assert panel["unmatched_total"] == 2 and all(a["ticket_id"] is None for a in panel["unmatched"])
    (incident,) = panel["incidents"]
    assert incident["code"] == "A-112" and incident["status"] == "open"
    assert incident["units"] == 5 and sorted(incident["ticket_ids"]) == sorted(tickets)
    assert sorted(incident["serials"]) == FLEET and incident["opened_at"]
    assert [a["serial"] for a in first["unmatched"]] == ["GHOST-1"]
    assert first["unmatched_total"] == 2


def test_the_panel_needs_the_agents_scope(admin: httpx.Client) -> None:
    with as_key(admin, "alarms:read", "tickets:read") as reader:
        denied = reader.get("/v1/agent/equipment")
        assert reader.get("/v1/alarms").status_code == 200
    assert denied.status_code == 403
    assert denied.json()["detail"]["missing_scopes"] == ["agents"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_workspace_shows_the_panel_and_a_child_ticket_opens(admin: httpx.Client) -> None:
    alarm(admin, "GHOST-1", "A-112")
    tickets = fleet_incident(admin)
    create_agent(admin, PASSWORD)
    base = str(admin.base_url).rstrip("/")
    with chromium() as browser:
        context = browser.new_context(locale="en-US")
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        hosts = record_hosts(page)
        sign_in(page, base, PASSWORD)
        unmatched = page.locator("#unmatched li.unmatched")
        expect(unmatched).to_have_count(1)
        expect(unmatched).to_contain_text("GHOST-1")
        expect(unmatched).to_contain_text("A-112")
        expect(page.locator("#unmatched-count")).to_have_text("(1)")
        incident = page.locator("#incidents li.incident")
        expect(incident).to_have_count(1)
        expect(incident).to_contain_text("A-112")
        expect(incident).to_contain_text("5 units")
        links = incident.locator(".children a")
        expect(links).to_have_text(sorted(tickets))
        child = sorted(tickets)[2]  # SN-F3's ticket
        links.filter(has_text=child).click()
        expect(page.locator("#item-title")).to_contain_text(child)
        expect(page.locator("#ctx-equipment")).to_contain_text("HX-75")
        # the unit whose alarm opened the ticket, from the asset registry
        expect(page.locator("#ctx-equipment")).to_contain_text("SN-F3")
        context.close()
    assert not foreign(hosts, base)
