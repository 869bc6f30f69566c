"""The asset, alarm and agent lists page, filter and sort as every list does
(`intake_api.pagination`, docs/integration.md)."""

from __future__ import annotations

import httpx

from tests.intake_api.assets.support import register


def listed(client: httpx.Client, path: str, key: str, **params: object) -> list[object]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return [item[key] for item in response.json()["items"]]


def test_assets_alarms_and_agents_sort_both_ways_and_page(admin: httpx.Client) -> None:
    for serial in ("SN-2", "SN-1", "SN-3"):
        register(admin, serial)
    assert listed(admin, "/v1/assets", "serial") == ["SN-1", "SN-2", "SN-3"]
    assert listed(admin, "/v1/assets", "serial", sort="-serial", offset=1) == ["SN-2", "SN-1"]
    page = admin.get("/v1/assets", params={"sort": "-created_at", "limit": 1}).json()
    assert [item["serial"] for item in page["items"]] == ["SN-3"] and page["total"] == 3

    for serial in ("SN-3", "SN-1"):
        alarm = {"serial": serial, "code": "A-112"}
        assert admin.post("/v1/alarms", json=alarm).status_code == 202
    assert listed(admin, "/v1/alarms", "serial") == ["SN-1", "SN-3"]  # latest first
    assert listed(admin, "/v1/alarms", "serial", sort="serial") == ["SN-1", "SN-3"]
    assert listed(admin, "/v1/alarms", "serial", sort="-serial") == ["SN-3", "SN-1"]
    assert listed(admin, "/v1/alarms", "serial", sort="first_seen_at") == ["SN-3", "SN-1"]

    for username, role in (("zoe", "manager"), ("adam", "agent")):
        agent = {"username": username, "display_name": username.title(), "role": role}
        created = admin.post("/v1/agent/accounts", json={**agent, "password": "s3cret-pass"})
        assert created.status_code == 201, created.text
    assert listed(admin, "/v1/agent/accounts", "username", sort="username") == ["adam", "zoe"]
    assert listed(admin, "/v1/agent/accounts", "username", sort="-id") == ["adam", "zoe"]
    assert listed(admin, "/v1/agent/accounts", "username", role="manager") == ["zoe"]

    for path in ("/v1/assets", "/v1/alarms", "/v1/agent/accounts"):
        refused = admin.get(path, params={"sort": "password_hash"})
        assert refused.status_code == 422 and "sort" in refused.text
