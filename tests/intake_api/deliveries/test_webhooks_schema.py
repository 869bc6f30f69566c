"""Every delivery the backend receives matches its entry in the OpenAPI `webhooks` section:
the body validates against the event's payload schema (from the live `/openapi.json`) and the
headers carry the signature, event id and event the entry documents."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs

from core.settings import Settings
from intake_api.app import create_app
from intake_api.deliveries.webhooks import EVENTS
from tests.intake_api.conftest import ADMIN_KEY
from tests.intake_api.deliveries.conftest import SECRET, eventually
from tests.intake_api.deliveries.receiver import Receiver
from tests.support.server import running_server


def _validator(document: dict[str, Any], event: str) -> jsonschema_rs.Validator:
    """A JSON Schema 2020-12 validator of `event`'s body; `$ref`s resolve in the document."""
    body = document["webhooks"][event]["post"]["requestBody"]["content"]["application/json"]
    schema = {**body["schema"], "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def _header_names(document: dict[str, Any], event: str) -> set[str]:
    parameters = document["webhooks"][event]["post"]["parameters"]
    return {p["name"].lower() for p in parameters if p["in"] == "header"}


async def test_every_delivery_matches_its_webhooks_schema(
    delivery_settings: Settings, receiver: Receiver
) -> None:
    settings = delivery_settings.model_copy(update={"admin_key": ADMIN_KEY})
    with running_server(create_app(settings)) as base_url:
        async with httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
        ) as api:
            document = (await api.get("/openapi.json")).json()
            created = await api.post("/v1/tickets", json={"subject": "Dryer D-5 overheats"})
            url = created.headers["location"]
            for change in ({"status": "triaged"}, {"assignee": "ann"}, {"note": "called back"}):
                assert (await api.patch(url, json=change)).status_code == 200
            escalated = await api.post(
                f"/v1/agent/tickets/{created.json()['id']}/priority", json={"priority": "P1"}
            )
            assert escalated.status_code == 200, escalated.text
            await eventually(lambda: len(receiver.accepted()) >= 5, "five deliveries")

    received = receiver.accepted()
    assert sorted({r.json["event"] for r in received}) == sorted(EVENTS)
    for delivery in received:
        event = delivery.json["event"]
        errors = [e.message for e in _validator(document, event).iter_errors(delivery.json)]
        assert errors == [], (event, errors)
        assert _header_names(document, event) <= {name.lower() for name in delivery.headers}
        assert delivery.headers["X-Aftersales-Event"] == event
        assert delivery.signed_with(SECRET)
