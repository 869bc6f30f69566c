"""The agent workspace and the dashboard in headless Chromium against the whole service on
loopback (one server with the ice-maker KB and one browser for the module; each person has a
browser context of their own): two agents sign in; a customer's message on /chat appears in the
assigned agent's open conversation without a reload; the agent's reply reaches the customer
under the agent's name and an internal note never does; a KB suggestion inserts and sends; every
allowed ticket move works from the page; the dashboard's charts have data and a drill-down
lists exactly the tickets behind its number; no page loads anything from another host."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.channels.test_transcripts import Service, cached_interpreter, serve_ice_maker_service
from tests.intake_api.agents.browser import WAIT_MS, chromium, foreign, hosts_of

PASSWORD = "ice maker 2026"
AGENTS = {
    "alice": ("Alice Zhang", "supervisor"),
    "bob": ("Bob Li", "agent"),
}
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("workspace")
    yield from serve_ice_maker_service(
        folder, f"sqlite+aiosqlite:///{folder / 'workspace.db'}", cached_interpreter(pytestconfig)
    )


@pytest.fixture(scope="module")
def agents(service: Service) -> dict[str, str]:
    """The two agents' actors, by username."""
    for username, (name, role) in AGENTS.items():
        made = service.admin.post(
            "/v1/agent/accounts",
            json={"username": username, "display_name": name, "role": role, "password": PASSWORD},
        )
        assert made.status_code == 201, made.text
    return {username: f"agent:{username}" for username in AGENTS}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def person(browser: Browser) -> BrowserContext:
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(WAIT_MS)
    return context


def signed_in(context: BrowserContext, service: Service, username: str, path: str) -> Page:
    page = context.new_page()
    page.goto(f"{service.url}{path}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in button[type=submit]")
    expect(page.locator("#me")).to_contain_text(AGENTS[username][0])
    return page


def open_chat(context: BrowserContext, service: Service) -> Page:
    page = context.new_page()
    page.goto(f"{service.url}/chat")
    expect(page.locator("#connection")).to_have_attribute("data-state", "online")
    return page


def customer_says(page: Page, text: str) -> None:
    page.locator("#input").fill(text)
    page.locator("#input").press("Enter")


def open_item(page: Page, item_id: str) -> None:
    page.fill("#f-q", item_id)
    row = page.locator(f"#inbox li[data-id='{item_id}']")
    row.click()
    expect(page.locator("#item-title")).to_contain_text(item_id)


def send(page: Page, text: str, *, note: bool = False) -> None:
    page.check(f"input[name=mode][value={'note' if note else 'reply'}]")
    page.fill("#reply-text", text)
    page.click("#send")


def test_two_agents_work_a_customer_conversation_live(
    browser: Browser, service: Service, agents: dict[str, str]
) -> None:
    alice_context, bob_context, customer_context = person(browser), person(browser), person(browser)
    hosts = record_hosts_of(alice_context)
    alice = signed_in(alice_context, service, "alice", "/agent")
    bob = signed_in(bob_context, service, "bob", "/agent")
    chat = open_chat(customer_context, service)

    customer_says(chat, "talk to a person")
    expect(chat.locator(".ticket")).to_have_count(1)
    ticket_id = chat.locator(".ticket").get_attribute("data-ticket-id")
    assert ticket_id
    expect(alice.locator(f"#inbox li[data-id='{ticket_id}']")).to_be_visible()  # live inbox
    open_item(alice, ticket_id)
    alice.click("#take")
    expect(alice.locator("#item-meta")).to_contain_text("assignee agent:alice")
    expect(alice.locator("#summary")).not_to_be_empty()  # the bot's summary first

    alice.evaluate("window.stillThisPage = true")
    customer_says(chat, "My KX-5 ice maker shows E07 and makes no ice")
    line = alice.locator("#transcript .line.customer", has_text="shows E07")
    expect(line).to_be_visible()
    expect(line.locator(".who")).to_have_text("Customer")
    assert alice.evaluate("window.stillThisPage === true")  # no reload
    expect(alice.locator("#transcript .line.bot").first.locator(".who")).to_have_text("Bot")

    suggestion = alice.locator("#suggestions .suggestion", has_text="No ice output").first
    open_item(alice, ticket_id)  # the suggestions answer the latest customer line
    expect(suggestion).to_be_visible()
    suggestion.get_by_role("button", name="Use").click()
    expect(alice.locator("#reply-text")).to_have_value(re.compile("Descale"))
    alice.locator("#reply-text").press("End")
    alice.locator("#reply-text").type(" I will call you in ten minutes.")
    alice.click("#send")
    agent_line = chat.locator(".msg-agent", has_text="ten minutes")
    expect(agent_line.locator(".author")).to_have_text("Alice Zhang")
    expect(agent_line.locator(".words")).to_contain_text("Descale")
    expect(alice.locator("#transcript .line.agent .who").last).to_have_text("Alice Zhang")

    send(alice, "Internal: customer sounds upset", note=True)
    expect(alice.locator("#notes .note")).to_contain_text("customer sounds upset")
    send(alice, "One more thing: keep the unit switched off.")
    expect(chat.locator(".msg-agent", has_text="switched off")).to_be_visible()
    open_item(bob, ticket_id)
    expect(bob.locator("#notes .note .who")).to_have_text("Alice Zhang")
    chat.reload()
    expect(chat.locator(".msg-agent", has_text="switched off")).to_be_visible()
    assert "upset" not in chat.locator("#messages").inner_text()
    transcript = alice.locator("#transcript").inner_text()
    assert "upset" not in transcript  # kept apart from the lines the customer sees

    alice.select_option("#reassign-to", agents["bob"])
    alice.click("#reassign")
    expect(alice.locator("#item-meta")).to_contain_text("assignee agent:bob")
    bob.select_option("#f-view", "mine")
    expect(bob.locator(f"#inbox li[data-id='{ticket_id}']")).to_be_visible()
    open_item(bob, ticket_id)
    bob.click("#handback")
    expect(chat.locator(".msg-notice", has_text="the assistant is back")).to_be_visible()

    assert not foreign(hosts, service.url), hosts
    for context in (alice_context, bob_context, customer_context):
        context.close()


def record_hosts_of(context: BrowserContext) -> list[str]:
    """Every `scheme://host` the context's pages ask for."""
    hosts: list[str] = []
    context.on("request", lambda request: hosts.extend(hosts_of(request.url)))
    return hosts


TRANSITIONS = [
    ("Assign", "assigned"),
    ("In progress", "in_progress"),
    ("Waiting for customer", "waiting_customer"),
    ("In progress", "in_progress"),
    ("Resolve", "resolved"),
    ("Reopen", "in_progress"),
    ("Resolve", "resolved"),
    ("Close", "closed"),
]


def test_every_allowed_transition_works_from_the_page(
    browser: Browser, service: Service, agents: dict[str, str]
) -> None:
    first = service.admin.post("/v1/tickets", json={"subject": "KX-9 leaks water"}).json()["id"]
    second = service.admin.post("/v1/tickets", json={"subject": "KX-5 is noisy"}).json()["id"]
    context = person(browser)
    page = signed_in(context, service, "alice", "/agent")
    open_item(page, first)
    page.select_option("#priority-to", "P1")
    page.click("#set-priority")
    expect(page.locator("#item-meta")).to_contain_text("P1")
    for label, status in TRANSITIONS:
        page.locator("#actions button", has_text=re.compile(f"^{label}$")).click()
        expect(page.locator("#item-meta")).to_contain_text(f"status {status}")
        assert service.admin.get(f"/v1/tickets/{first}").json()["status"] == status
    expect(page.locator("#actions button")).to_have_count(0)  # closed is final

    open_item(page, second)
    page.evaluate("""state.etag = '"0"'""")  # as if read before someone else changed it
    page.locator("#actions button", has_text=re.compile("^Assign$")).click()
    expect(page.locator("#changed")).to_contain_text("This ticket changed")
    assert service.admin.get(f"/v1/tickets/{second}").json()["status"] == "new"
    for label, status in [
        ("Assign", "assigned"),
        ("Back to triage", "triaged"),
        ("Cancel", "cancelled"),
    ]:
        page.locator("#actions button", has_text=re.compile(f"^{label}$")).click()
        expect(page.locator("#item-meta")).to_contain_text(f"status {status}")
    audit = service.admin.get("/v1/audit", params={"entity_id": first})
    moves = [row for row in audit.json()["items"] if row["action"] != "ticket.created"]
    assert moves and {row["actor"] for row in moves} == {agents["alice"]}
    context.close()


def made_here(service: Service) -> None:
    """The dashboard's own data, whatever ran before: an open ticket and a resolved one (so an
    SLA count is not zero)."""
    for subject in ("KX-5 E07 again", "KX-5 E03 ice too thin"):
        made = service.admin.post("/v1/tickets", json={"subject": subject, "priority": "P2"})
        assert made.status_code == 201, made.text
    resolved = service.admin.post(
        f"/v1/agent/tickets/{made.json()['id']}/resolve", json={"note": "thickness reset"}
    )
    assert resolved.status_code == 200, resolved.text


def test_the_dashboard_charts_have_data_and_drill_down_to_their_tickets(
    browser: Browser, service: Service, agents: dict[str, str]
) -> None:
    made_here(service)
    context = person(browser)
    hosts = record_hosts_of(context)
    page = signed_in(context, service, "alice", "/agent/dashboard")
    tickets = page.locator("#fig-tickets .value")
    expect(tickets).not_to_have_text("0")
    total = int(tickets.inner_text())
    by_channel = page.evaluate(
        "Chart.getChart('chart-channel').data.datasets[0].data.reduce((a, b) => a + b, 0)"
    )
    assert by_channel == total
    for chart in ("chart-sla", "chart-category", "chart-line", "chart-csat", "chart-handoff"):
        assert page.evaluate(f"Chart.getChart('{chart}') !== undefined"), chart

    rows = page.locator("#sla-table tbody tr")
    expect(rows).to_have_count(4)
    counts = [
        (row.get_attribute("data-group"), column, int(button.inner_text()), button)
        for row in rows.all()
        for column, button in enumerate(row.locator("button.count").all())
    ]
    group, column, count, button = next(found for found in counts if found[2])
    button.click()
    drilled = page.locator("#drill-table tbody tr")
    expect(drilled).to_have_count(count)
    shown = sorted(drilled.evaluate_all("rows => rows.map((row) => row.dataset.id)"))
    kind, outcome = [("sla.response", "met"), ("sla.response", "breached"),
                     ("sla.resolution", "met"), ("sla.resolution", "breached")][column]  # fmt: skip
    same = {"metric": kind, "dimension": "priority", "group": group, "outcome": outcome}
    query = page.evaluate("(same) => query(same)", same)  # the page's window and filters
    behind = service.admin.get(f"/v1/kpis/tickets?{query}").json()["tickets"]
    assert shown == sorted(ticket["id"] for ticket in behind)

    csv = httpx.get(f"{service.url}{page.get_attribute('#csv', 'href')}",
                    cookies=context_cookies(context))  # fmt: skip
    assert csv.status_code == 200 and "durable_resolution.rate" in csv.text
    assert not foreign(hosts, service.url), hosts
    context.close()


def context_cookies(context: BrowserContext) -> dict[str, str]:
    return {cookie["name"]: cookie["value"] for cookie in context.cookies()}
