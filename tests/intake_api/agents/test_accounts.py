"""Agents as people: an account made with the CLI signs in with its password (a cookie session
and a CSRF token), roles decide what each may do, keys without the `agents` scope get 403, and
every agent action is in the audit log under the agent (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from core.settings import get_settings
from intake_api.cli import app as cli
from tests.intake_api.agents.conftest import Service, api_key, client, seed_handoff
from tests.intake_api.conftest import ADMIN_KEY

PASSWORD = "correct horse battery"


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI's settings point at the test database."""
    monkeypatch.setenv("AFTERSALES_DATABASE_URL", database_url)
    monkeypatch.setenv("AFTERSALES_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.chdir(tmp_path)  # no developer .env
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run_cli(*args: str) -> Result:
    """The `aftersales` command (in a thread: it runs its own event loop)."""
    return CliRunner().invoke(cli, list(args))


async def add_agent(
    username: str, name: str, role: str = "agent", password: str = PASSWORD
) -> dict:
    result = await asyncio.to_thread(
        run_cli,
        *("agents", "add", username, "--name", name, "--role", role, "--skill", "pumps"),
        *("--lang", "en", "--password", password, "--json"),
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@asynccontextmanager
async def sign_in(
    base: str, username: str, password: str = PASSWORD
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client holding the session cookie and sending the CSRF token."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        answer = await http.post(
            "/v1/agent/session", json={"username": username, "password": password}
        )
        assert answer.status_code == 200, answer.text
        http.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        yield http


async def test_an_agent_made_with_the_cli_signs_in_and_changes_need_the_csrf_token(
    service: Service, cli_env: None
) -> None:
    profile = await add_agent("alice", "Alice Zhang", role="supervisor")
    assert profile["skill_groups"] == ["pumps"] and profile["languages"] == ["en"]
    again = await asyncio.to_thread(
        run_cli, "agents", "add", "alice", "--name", "A", "--password", PASSWORD
    )
    assert again.exit_code == 1 and "taken" in again.output
    short = await asyncio.to_thread(
        run_cli, "agents", "add", "bob", "--name", "B", "--password", "x"
    )
    assert short.exit_code == 1 and "password" in short.output

    async with httpx.AsyncClient(base_url=service.base) as anonymous:
        wrong = await anonymous.post(
            "/v1/agent/session", json={"username": "alice", "password": "no"}
        )
        nobody = await anonymous.post(
            "/v1/agent/session", json={"username": "zed", "password": "no"}
        )
        assert wrong.status_code == nobody.status_code == 401
        assert wrong.json()["message"] == nobody.json()["message"]  # nothing says which
        assert (await anonymous.get("/v1/agent/inbox")).status_code == 401

    async with sign_in(service.base, "alice") as alice:
        me = (await alice.get("/v1/agent/me")).json()
        assert me["actor"] == "agent:alice" and me["agent"]["display_name"] == "Alice Zhang"
        cookie = next(iter(alice.cookies.jar))
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert (await alice.get("/v1/agent/inbox")).status_code == 200
        ticket = await service_ticket(service.base)
        forged = await alice.post(
            f"/v1/agent/tickets/{ticket}/priority",
            json={"priority": "P1"},
            headers={"X-CSRF-Token": "guessed"},
        )
        assert forged.status_code == 403 and "CSRF" in forged.json()["message"]
        changed = await alice.post(f"/v1/agent/tickets/{ticket}/priority", json={"priority": "P1"})
        assert changed.status_code == 200 and changed.json()["priority"] == "P1"
        assert (await alice.delete("/v1/agent/session")).status_code == 204
        assert (await alice.get("/v1/agent/inbox")).status_code == 401


async def service_ticket(base: str, **fields: object) -> str:
    async with client(base, ADMIN_KEY) as admin:
        answer = await admin.post("/v1/tickets", json={"subject": "Pump leaks", **fields})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def test_roles_and_scopes_decide_what_each_caller_may_do(
    service: Service, cli_env: None
) -> None:
    await add_agent("carol", "Carol", role="agent")
    await add_agent("dan", "Dan", role="supervisor")
    await add_agent("erin", "Erin", role="manager")
    new_agent = {"username": "fred", "display_name": "Fred", "password": PASSWORD}
    async with sign_in(service.base, "carol") as carol:
        assert (await carol.get("/v1/agent/inbox")).status_code == 200
        assert (await carol.get("/v1/kpis")).status_code == 403
        assert (await carol.get("/v1/kpis/export.csv")).status_code == 403
        assert (await carol.post("/v1/agent/accounts", json=new_agent)).status_code == 403
        ticket = await service_ticket(service.base)
        to_dan = await carol.post(
            f"/v1/agent/tickets/{ticket}/assign", json={"assignee": "agent:dan"}
        )
        assert to_dan.status_code == 403  # an agent assigns only to themself
        mine = await carol.post(
            f"/v1/agent/tickets/{ticket}/assign", json={"assignee": "agent:carol"}
        )
        assert mine.status_code == 200 and mine.json()["assignee"] == "agent:carol"
    async with sign_in(service.base, "dan") as dan:
        assert (await dan.get("/v1/kpis")).status_code == 200
        assert (await dan.post("/v1/agent/accounts", json=new_agent)).status_code == 403
        moved = await dan.post(
            f"/v1/agent/tickets/{ticket}/assign", json={"assignee": "agent:erin"}
        )
        assert moved.status_code == 200 and moved.json()["assignee"] == "agent:erin"
    async with sign_in(service.base, "erin") as erin:
        assert (await erin.post("/v1/agent/accounts", json=new_agent)).status_code == 201
    async with client(service.base, await api_key(service.base, "crm", ["tickets:write"])) as crm:
        for path in ("/v1/agent/inbox", "/v1/kpis", "/v1/agent/accounts", "/v1/agent/stream"):
            answer = await crm.get(path)
            assert answer.status_code == 403, path
            assert answer.json()["detail"]["missing_scopes"] == ["agents"]
    async with client(service.base, await api_key(service.base, "bi", ["agents"])) as bi:
        assert (await bi.get("/v1/kpis")).status_code == 200
        assert (await bi.get("/v1/agent/inbox")).status_code == 200


async def test_every_agent_action_is_audited_under_the_agent(
    service: Service, cli_env: None, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await add_agent("gina", "Gina Wu", role="supervisor")
    conversation_id, ticket_id = await seed_handoff(sessions, sender_id="customer-gina")
    async with sign_in(service.base, "gina") as gina:
        assert (await gina.post(f"/v1/agent/queue/{ticket_id}/claim")).status_code == 200
        reply = await gina.post(
            f"/v1/agent/conversations/{conversation_id}/reply", json={"text": "Hi"}
        )
        assert reply.status_code == 200, reply.text
        note = await gina.post(
            f"/v1/agent/items/{ticket_id}/notes", json={"text": "check the valve"}
        )
        assert note.status_code == 201 and note.json()["author"] == "Gina Wu"
        priority = await gina.post(
            f"/v1/agent/tickets/{ticket_id}/priority", json={"priority": "P2"}
        )
        assert priority.is_success
        moved = await gina.patch(f"/v1/tickets/{ticket_id}", json={"status": "in_progress"})
        assert moved.status_code == 200, moved.text
        assert (await gina.post(f"/v1/agent/conversations/{conversation_id}/handback")).is_success
    (reply_seen,) = await service.channel.wait_for("customer-gina", "Hi")
    assert reply_seen == "Gina Wu: Hi"  # the customer sees the agent's display name
    async with client(service.base, ADMIN_KEY) as admin:
        rows = (await admin.get("/v1/audit", params={"actor": "agent:gina"})).json()["items"]
    actions = {row["action"] for row in rows}
    assert {
        "agent.signed_in",
        "conversation.agent_reply",
        "conversation.internal_note",
        "ticket.escalated",
        "ticket.status_changed",
        "conversation.handback",
    } <= actions, actions
