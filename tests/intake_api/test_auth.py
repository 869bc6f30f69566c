"""API keys: 401 without or with a bad key, 403 without the scope, revocation, CLI, audit."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from typer.testing import CliRunner, Result

from core.settings import Settings, get_settings
from intake_api.app import create_app
from intake_api.auth.cache import KeyCache
from intake_api.auth.models import Principal
from intake_api.cli import app
from tests.intake_api.conftest import new_ticket
from tests.support.server import running_server


def _key(admin: httpx.Client, *scopes: str, name: str = "crm") -> dict:
    response = admin.post("/v1/apikeys", json={"name": name, "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    return response.json()


def _as(base_url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"})


def test_no_key_and_a_bad_key_are_401(anonymous: httpx.Client) -> None:
    missing = anonymous.get("/v1/tickets")
    assert missing.status_code == 401
    assert "Authorization" in missing.json()["message"]
    for bad in ("Bearer nonsense", "Bearer as_deadbeef_forged", "Basic dXNlcjpwYXNz"):
        assert anonymous.get("/v1/tickets", headers={"Authorization": bad}).status_code == 401


def test_a_key_works_within_its_scopes_only(admin: httpx.Client, base_url: str) -> None:
    reader = _key(admin, "tickets:read")
    assert reader["key"].startswith("as_")
    with _as(base_url, reader["key"]) as client:
        assert client.get("/v1/tickets").status_code == 200
        refused = client.post("/v1/tickets", json={"subject": "x"})
        assert refused.status_code == 403
        assert refused.json()["detail"]["missing_scopes"] == ["tickets:write"]
        assert client.get("/v1/audit").status_code == 403


def test_the_key_is_shown_once_and_only_its_hash_is_listed(admin: httpx.Client) -> None:
    created = _key(admin, "tickets:write", name="bot")
    listed = admin.get("/v1/apikeys").json()
    assert [k["name"] for k in listed] == ["bot"]
    assert "key" not in listed[0]
    assert created["key"] not in json.dumps(listed)


def test_a_revoked_key_is_refused(admin: httpx.Client, base_url: str) -> None:
    """At once on the worker that revoked it, although its first request put it in the cache."""
    created = _key(admin, "tickets:read")
    with _as(base_url, created["key"]) as client:
        assert client.get("/v1/tickets").status_code == 200
        assert client.get("/v1/tickets").status_code == 200  # now from the cache
        assert admin.delete(f"/v1/apikeys/{created['id']}").status_code == 200
        assert client.get("/v1/tickets").status_code == 401
    assert admin.delete(f"/v1/apikeys/{created['id']}").status_code == 409
    assert admin.delete("/v1/apikeys/999").status_code == 404


def test_other_workers_trust_a_verified_key_for_the_cache_seconds_only(
    intake_settings: Settings, admin: httpx.Client, base_url: str
) -> None:
    """Two more workers on the same database: one keeps verified keys for an hour, one keeps
    none. A key revoked elsewhere still works on the first until its entry expires, and is
    refused at once by the second."""
    caching = intake_settings.model_copy(update={"api_key_cache_seconds": 3600})
    uncached = intake_settings.model_copy(update={"api_key_cache_seconds": 0})
    created = _key(admin, "tickets:read")
    with (
        running_server(create_app(caching)) as first,
        running_server(create_app(uncached)) as second,
        _as(first, created["key"]) as on_first,
        _as(second, created["key"]) as on_second,
    ):
        assert on_first.get("/v1/tickets").status_code == 200
        assert on_second.get("/v1/tickets").status_code == 200
        assert admin.delete(f"/v1/apikeys/{created['id']}").status_code == 200
        assert on_second.get("/v1/tickets").status_code == 401
        assert on_first.get("/v1/tickets").status_code == 200


def test_a_lookup_under_way_during_a_revocation_is_not_cached() -> None:
    cache = KeyCache(ttl_seconds=60)
    principal = Principal(actor="apikey:1:crm", scopes=frozenset({"tickets:read"}), key_id=1)
    cache.put("as_key", principal, generation=cache.generation)
    assert cache.get("as_key") == principal
    began = cache.generation
    cache.forget(1)
    assert cache.get("as_key") is None
    cache.put("as_key", principal, generation=began)  # read the row before the revocation
    assert cache.get("as_key") is None


def test_unknown_scopes_are_422(admin: httpx.Client) -> None:
    response = admin.post("/v1/apikeys", json={"name": "x", "scopes": ["root"]})
    assert response.status_code == 422


def test_audit_names_the_key_that_acted(admin: httpx.Client, base_url: str) -> None:
    writer = _key(admin, "tickets:write", "tickets:read", name="crm")
    with _as(base_url, writer["key"]) as client:
        ticket = new_ticket(client)
        client.patch(f"/v1/tickets/{ticket['id']}", json={"status": "triaged"})
    page = admin.get("/v1/audit", params={"entity": "ticket", "entity_id": ticket["id"]}).json()
    assert page["total"] == 2
    assert [e["action"] for e in page["items"]] == ["ticket.status_changed", "ticket.created"]
    assert {e["actor"] for e in page["items"]} == {f"apikey:{writer['id']}:crm"}
    changed = admin.get("/v1/audit", params={"action": "ticket.status_changed"}).json()
    assert changed["items"][0]["changes"]["previous_status"] == "new"


def test_cli_creates_lists_and_revokes_keys(intake_settings: Settings, tmp_path: Path) -> None:
    env = {
        "AFTERSALES_DATA_DIR": str(tmp_path / "cli"),
        "AFTERSALES_DATABASE_URL": intake_settings.resolved_database_url,
    }
    runner = CliRunner()

    def run(*args: str) -> Result:
        get_settings.cache_clear()  # the CLI reads the environment given here
        try:
            return runner.invoke(app, ["apikey", *args], env=env)
        finally:
            get_settings.cache_clear()

    created = run("create", "--name", "crm", "--scope", "tickets:read", "--json")
    assert created.exit_code == 0, created.output
    record = json.loads(created.stdout)
    assert record["key"].startswith("as_") and record["scopes"] == ["tickets:read"]
    listed = run("list", "--json")
    assert [k["name"] for k in json.loads(listed.stdout)] == ["crm"]
    assert record["key"] not in listed.stdout
    assert run("revoke", str(record["id"])).exit_code == 0
    assert json.loads(run("list", "--json").stdout)[0]["revoked_at"]
    bad = run("create", "--name", "x", "--scope", "root")
    assert bad.exit_code == 1 and "unknown scope" in bad.stderr
    assert bad.exception is None or isinstance(bad.exception, SystemExit)
