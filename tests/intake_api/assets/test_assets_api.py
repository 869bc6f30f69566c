"""`/v1/assets`: the registry over HTTP, with its scopes."""

from __future__ import annotations

import httpx

from tests.intake_api.assets.support import register, unit


def key_with(admin: httpx.Client, *scopes: str) -> str:
    response = admin.post("/v1/apikeys", json={"name": "integration", "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    return response.json()["key"]


def test_create_read_list_update_delete(admin: httpx.Client) -> None:
    contacts = [{"channel": "wechat", "sender_id": "o-1"}]
    created = register(admin, "SN-1", contacts=contacts, warranty_end="2028-01-31")
    assert created["customer"]["tier"] == "key" and created["contacts"] == contacts
    register(admin, "SN-2", product_id="HX-75", customer={"name": "Acme"})
    assert admin.get("/v1/assets/SN-1").json()["warranty_end"] == "2028-01-31"
    listed = admin.get("/v1/assets", params={"product_id": "HX-75"}).json()
    assert [item["serial"] for item in listed["items"]] == ["SN-2"] and listed["total"] == 1
    by_customer = admin.get("/v1/assets", params={"customer": "汉霖机械厂"}).json()
    assert [item["serial"] for item in by_customer["items"]] == ["SN-1"]
    patched = admin.patch("/v1/assets/SN-1", json={"firmware": "3.0", "contacts": []})
    assert patched.status_code == 200 and patched.json()["firmware"] == "3.0"
    assert patched.json()["contacts"] == [] and patched.json()["product_id"] == "HX-37"
    assert admin.delete("/v1/assets/SN-1").status_code == 204
    assert admin.get("/v1/assets/SN-1").status_code == 404


def test_bad_input_is_a_clear_4xx(admin: httpx.Client) -> None:
    register(admin, "SN-1")
    assert admin.post("/v1/assets", json=unit("SN-1")).status_code == 409
    unknown = admin.post("/v1/assets", json=unit("SN-9", product_id="NOPE"))
    assert unknown.status_code == 422 and "product_id" in unknown.text
    missing = admin.post("/v1/assets", json={"product_id": "HX-37"})
    assert missing.status_code == 422 and "serial" in missing.text
    assert admin.patch("/v1/assets/SN-1", json={"product_id": "NOPE"}).status_code == 422


def test_scopes(admin: httpx.Client, base_url: str) -> None:
    reader = key_with(admin, "assets:read")
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {reader}"}) as client:
        assert client.get("/v1/assets").status_code == 200
        refused = client.post("/v1/assets", json=unit("SN-1"))
        assert refused.status_code == 403 and "assets:write" in refused.text
    writer = key_with(admin, "assets:write")
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {writer}"}) as client:
        assert client.post("/v1/assets", json=unit("SN-1")).status_code == 201
        assert client.get("/v1/assets/SN-1").status_code == 403
