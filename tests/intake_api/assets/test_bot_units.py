"""The bot uses the registry: a sender known as a unit's contact, or a serial number in the
message, names the unit; its model, serial and site fill the frame and the ticket, and the
customer's tier sets the SLA."""

from __future__ import annotations

import itertools

import httpx

from tests.intake_api.assets.support import register

_ids = itertools.count(1)


def say(client: httpx.Client, sender: str, text: str) -> dict:
    body = {
        "channel": "telegram",
        "sender_id": sender,
        "message_id": f"m-{next(_ids)}",
        "text": text,
    }
    response = client.post("/v1/messages", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_known_contact_and_a_named_serial_fill_the_ticket(admin: httpx.Client) -> None:
    register(admin, "SN-1", contacts=[{"channel": "telegram", "sender_id": "7001"}])
    register(admin, "SN-2", product_id="HX-75", customer={"name": "Acme", "tier": "strategic"})

    known = say(admin, "7001", "转人工")["ticket"]
    ticket = admin.get(f"/v1/tickets/{known['id']}").json()
    assert ticket["customer"]["tier"] == "key" and ticket["customer"]["name"] == "汉霖机械厂"
    assert "SN-1" in ticket["description"] and "HX-37" in ticket["description"]
    assert "苏州工业园区星湖街 1 号" in ticket["description"]

    named = say(admin, "7002", "我的空压机序列号 SN-2 坏了，转人工")["ticket"]
    ticket = admin.get(f"/v1/tickets/{named['id']}").json()
    assert ticket["customer"]["tier"] == "strategic" and "HX-75" in ticket["description"]

    stranger = say(admin, "7003", "转人工")["ticket"]
    ticket = admin.get(f"/v1/tickets/{stranger['id']}").json()
    assert ticket["customer"]["tier"] == "standard" and "SN-" not in ticket["description"]
