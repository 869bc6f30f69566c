"""`POST /v1/alarms` in every form, de-duplication under concurrency, clearing, bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from core.settings import Settings
from intake_api.app import create_app
from tests.intake_api.alarms.forms import FORMS, encode, plain, thingsboard
from tests.intake_api.assets.support import register, store_kb
from tests.intake_api.conftest import ADMIN_KEY
from tests.support.server import running_server


def post(
    client: httpx.Client, form: str, serial: str, code: str, **fields: object
) -> httpx.Response:
    headers, body = encode(form, serial, code, **fields)
    return client.post("/v1/alarms", content=body, headers=headers)


def accepted(response: httpx.Response) -> dict:
    assert response.status_code == 202, response.text
    return response.json()["alarm"]


@pytest.mark.parametrize("form", FORMS)
def test_each_form_opens_one_ticket_with_the_product_and_the_kb_fault(
    admin: httpx.Client, form: str
) -> None:
    register(admin, "SN-1")
    alarm = accepted(post(admin, form, "SN-1", "A-112"))
    assert alarm["serial"] == "SN-1" and alarm["code"] == "A-112"
    assert alarm["status"] == "active" and alarm["count"] == 1 and alarm["matched"] is True
    ticket = admin.get(f"/v1/tickets/{alarm['ticket_id']}").json()
    assert ticket["product_id"] == "HX-37" and ticket["fault_id"] == "F-HX-A112"
    assert ticket["priority"] == "P2"  # major x key in the SLA policy's alarms section
    assert ticket["customer"]["tier"] == "key" and ticket["category"] == "repair"
    # The KB's diagnosis: the cause, the steps of its solution and the part it needs.
    for words in ("冷却器脏堵", "反吹冷却器翅片", "HX-OC-01"):
        assert words in ticket["description"]
    assert admin.get("/v1/tickets").json()["total"] == 1
    repeat = accepted(post(admin, form, "SN-1", "A-112"))
    assert (repeat["id"], repeat["ticket_id"], repeat["count"]) == (
        alarm["id"],
        alarm["ticket_id"],
        2,
    )


def test_fifty_concurrent_repeats_give_one_alarm_and_one_ticket(
    admin: httpx.Client, base_url: str
) -> None:
    register(admin, "SN-1")

    async def burst() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
            return await asyncio.gather(
                *(client.post("/v1/alarms", json=plain("SN-1", "A-112")) for _ in range(50))
            )

    alarms = [accepted(response) for response in asyncio.run(burst())]
    assert len({alarm["id"] for alarm in alarms}) == 1
    assert len({alarm["ticket_id"] for alarm in alarms}) == 1 and alarms[0]["ticket_id"]
    assert sorted(alarm["count"] for alarm in alarms) == list(range(1, 51))
    listed = admin.get("/v1/alarms", params={"status": "active"}).json()
    assert listed["total"] == 1 and listed["items"][0]["count"] == 50
    assert admin.get("/v1/tickets").json()["total"] == 1


def test_two_services_on_one_database_keep_one_alarm_under_concurrent_repeats(
    admin: httpx.Client, base_url: str, intake_settings: Settings
) -> None:
    """Each service has its own alarm writer (as each `serve` worker does): their batches meet
    only in the database, whose unique index keeps one active alarm per unit and code."""
    register(admin, "SN-1")
    with running_server(create_app(intake_settings)) as second_url:

        async def burst() -> list[httpx.Response]:
            headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
            async with httpx.AsyncClient(headers=headers, timeout=60) as client:
                return await asyncio.gather(
                    *(
                        client.post(f"{url}/v1/alarms", json=plain("SN-1", "A-112"))
                        for _ in range(25)
                        for url in (base_url, second_url)
                    )
                )

        alarms = [accepted(response) for response in asyncio.run(burst())]
    assert len({alarm["id"] for alarm in alarms}) == 1
    assert len({alarm["ticket_id"] for alarm in alarms}) == 1 and alarms[0]["ticket_id"]
    assert sorted(alarm["count"] for alarm in alarms) == list(range(1, 51))
    assert admin.get("/v1/tickets").json()["total"] == 1


def test_a_retry_with_the_same_idempotency_key_counts_once(admin: httpx.Client) -> None:
    register(admin, "SN-1")
    headers = {"Idempotency-Key": "gw-7-000123"}
    first = admin.post("/v1/alarms", json=plain("SN-1", "A-112"), headers=headers)
    again = admin.post("/v1/alarms", json=plain("SN-1", "A-112"), headers=headers)
    assert again.status_code == 202 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json() and again.json()["alarm"]["count"] == 1
    assert accepted(admin.post("/v1/alarms", json=plain("SN-1", "A-112")))["count"] == 2


def test_clearing_asks_an_agent_to_verify_by_default(admin: httpx.Client) -> None:
    register(admin, "SN-1")
    alarm = accepted(admin.post("/v1/alarms", json=plain("SN-1", "A-112")))
    cleared_body = thingsboard("SN-1", "A-112", status="CLEARED_UNACK")
    cleared = accepted(admin.post("/v1/alarms", json=cleared_body))
    assert cleared["id"] == alarm["id"] and cleared["status"] == "cleared"
    assert admin.get("/v1/alarms", params={"status": "active"}).json()["total"] == 0
    assert admin.get(f"/v1/tickets/{alarm['ticket_id']}").json()["status"] == "new"
    audit = admin.get("/v1/audit", params={"entity_id": alarm["ticket_id"]})
    assert "please verify" in audit.text, audit.text
    # The next alarm of the code is a new one, with a new ticket.
    again = accepted(admin.post("/v1/alarms", json=plain("SN-1", "A-112")))
    assert again["id"] != alarm["id"] and again["ticket_id"] != alarm["ticket_id"]


@pytest.fixture
def resolving_admin(intake_settings: Settings) -> Iterator[httpx.Client]:
    """The service with `AFTERSALES_ALARM_CLEARED_ACTION=resolve`."""
    settings = intake_settings.model_copy(update={"alarm_cleared_action": "resolve"})
    store_kb(settings.resolved_database_url)
    with running_server(create_app(settings)) as url:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            yield client


def test_clearing_resolves_the_ticket_when_configured(resolving_admin: httpx.Client) -> None:
    admin = resolving_admin
    register(admin, "SN-1")
    alarm = accepted(admin.post("/v1/alarms", json=plain("SN-1", "A-112")))
    accepted(admin.post("/v1/alarms", json=plain("SN-1", "A-112", status="cleared")))
    assert admin.get(f"/v1/tickets/{alarm['ticket_id']}").json()["status"] == "resolved"


def test_unknown_unit_is_kept_unmatched_and_unknown_code_has_no_diagnosis(
    admin: httpx.Client,
) -> None:
    stray = accepted(admin.post("/v1/alarms", json=plain("SN-404", "A-112")))
    assert stray["matched"] is False and stray["ticket_id"] is None
    unmatched = admin.get("/v1/alarms", params={"status": "unmatched"}).json()
    assert [item["serial"] for item in unmatched["items"]] == ["SN-404"]
    register(admin, "SN-1")
    odd = accepted(admin.post("/v1/alarms", json=plain("SN-1", "Z-999")))
    ticket = admin.get(f"/v1/tickets/{odd['ticket_id']}").json()
    assert ticket["fault_id"] is None and ticket["product_id"] == "HX-37"
    assert "没有该报警代码" in ticket["description"]
    assert admin.get("/v1/alarms", params={"status": "unmatched"}).json()["total"] == 1


@pytest.mark.parametrize(
    ("headers", "body", "field"),
    [
        ({"content-type": "application/json"}, b'{"serial": "SN-1"}', "code"),
        (
            {"content-type": "application/json"},
            b'{"serial": "SN-1", "code": "A", "severity": "bad"}',
            "severity",
        ),
        ({"content-type": "application/json"}, b"not json", "body"),
        (
            {"content-type": "application/json"},
            b'{"type": "A-112", "originator": {"id": "x"}}',
            "originator",
        ),
        (
            {"content-type": "application/cloudevents+json"},
            b'{"specversion": "1.0", "type": "t", "id": "1", '
            b'"data": {"serial": "SN-1", "code": "A"}}',
            "source",
        ),
        (
            {
                "ce-specversion": "1.0",
                "ce-type": "t",
                "ce-source": "/s",
                "ce-id": "1",
                "content-type": "application/json",
            },
            b'{"serial": "SN-1"}',
            "data.code",
        ),
        # binary mode needs all four required attributes
        (
            {"ce-id": "1", "content-type": "application/json"},
            b'{"serial": "S", "code": "A"}',
            "ce-specversion",
        ),
        # CloudEvents extension names are lower-case letters and digits
        (
            {"content-type": "application/cloudevents+json"},
            b'{"specversion": "1.0", "type": "t", "id": "1", "source": "/s", "Site": "x", '
            b'"data": {"serial": "SN-1", "code": "A"}}',
            "Site",
        ),
        # a date-time is RFC 3339, not a bare number in a string
        (
            {"content-type": "application/json"},
            b'{"serial": "S", "code": "A", "occurred_at": "0"}',
            "occurred_at",
        ),
    ],
)
def test_malformed_alarms_are_a_4xx_naming_the_field(
    admin: httpx.Client, headers: dict[str, str], body: bytes, field: str
) -> None:
    response = admin.post("/v1/alarms", content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]["field"] == field, response.text


def test_a_body_not_sent_as_json_is_415(admin: httpx.Client) -> None:
    body = b'{"serial": "SN-1", "code": "A-112"}'
    refused = admin.post("/v1/alarms", content=body, headers={"content-type": "text/plain"})
    assert refused.status_code == 415, refused.text


def test_a_key_without_alarms_write_is_refused(admin: httpx.Client, base_url: str) -> None:
    created = admin.post("/v1/apikeys", json={"name": "reader", "scopes": ["alarms:read"]})
    key = created.json()["key"]
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        refused = client.post("/v1/alarms", json=plain("SN-1", "A-112"))
        assert refused.status_code == 403 and "alarms:write" in refused.text
        assert client.get("/v1/alarms").status_code == 200


BATCH = {"content-type": "application/cloudevents-batch+json"}


def structured(serial: str, code: str) -> dict:
    """One structured CloudEvent as the SDK writes it, for a batch."""
    return json.loads(encode("cloudevents-structured", serial, code)[1])


def test_a_batch_of_cloudevents_stores_each_alarm_as_if_posted_alone(
    admin: httpx.Client,
) -> None:
    register(admin, "SN-1")
    events = [
        structured(*pair) for pair in (("SN-1", "A-112"), ("SN-1", "A-112"), ("SN-404", "A-112"))
    ]
    response = admin.post("/v1/alarms", content=json.dumps(events), headers=BATCH)
    assert response.status_code == 202, response.text
    first, repeat, stray = response.json()["alarms"]
    assert (first["count"], first["matched"]) == (1, True) and first["ticket_id"]
    assert (repeat["id"], repeat["ticket_id"], repeat["count"]) == (
        first["id"],
        first["ticket_id"],
        2,
    )
    assert stray["matched"] is False and stray["ticket_id"] is None
    ticket = admin.get(f"/v1/tickets/{first['ticket_id']}").json()
    assert ticket["fault_id"] == "F-HX-A112"
    assert admin.get("/v1/tickets").json()["total"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"specversion": "1.0"}', "body"),  # not an array
        (b"[]", "body"),
        (
            json.dumps(
                [
                    structured("SN-1", "A-112"),
                    {
                        "specversion": "1.0",
                        "id": "2",
                        "type": "t",
                        "data": {"serial": "SN-1", "code": "B"},
                    },
                ]
            ).encode(),
            "[1].source",
        ),
    ],
)
def test_a_malformed_batch_is_a_4xx_naming_the_event_and_stores_nothing(
    admin: httpx.Client, body: bytes, field: str
) -> None:
    register(admin, "SN-1")
    response = admin.post("/v1/alarms", content=body, headers=BATCH)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["field"] == field
    assert admin.get("/v1/alarms").json()["total"] == 0
