"""End to end: ticket changes over the real HTTP API reach the backend signed and in order."""

from __future__ import annotations

import httpx

from core.settings import Settings
from intake_api.app import create_app
from tests.intake_api.conftest import ADMIN_KEY
from tests.intake_api.deliveries.conftest import SECRET, eventually
from tests.intake_api.deliveries.receiver import Receiver
from tests.support.server import running_server


async def test_ticket_changes_are_delivered_in_order(
    delivery_settings: Settings, receiver: Receiver
) -> None:
    settings = delivery_settings.model_copy(update={"admin_key": ADMIN_KEY})
    with running_server(create_app(settings)) as base_url:
        async with httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
        ) as api:
            created = await api.post("/v1/tickets", json={"subject": "Pump P-20 leaks oil"})
            assert created.status_code == 201, created.text
            ticket_id = created.json()["id"]
            for status in ("triaged", "assigned"):
                moved = await api.patch(f"/v1/tickets/{ticket_id}", json={"status": status})
                assert moved.is_success, moved.text
            await eventually(lambda: len(receiver.accepted()) >= 3, "three deliveries")

    received = [r.json for r in receiver.accepted()]
    assert all(r.signed_with(SECRET) for r in receiver.accepted())
    assert [(p["event"], p["ticket"]["id"], p["ticket"]["status"]) for p in received] == [
        ("ticket.created", ticket_id, "new"),
        ("ticket.status_changed", ticket_id, "triaged"),
        ("ticket.status_changed", ticket_id, "assigned"),
    ]
    assert len({p["event_id"] for p in received}) == 3
