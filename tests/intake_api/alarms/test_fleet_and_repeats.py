"""Fleet incidents (one code on many units within the window) and repeat faults (the same
unit and code again within 30 days)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from core.database import create_engine, session_factory
from core.settings import Settings
from intake_api.alarms.models import RepeatFault
from intake_api.app import create_app
from tests.intake_api.alarms.forms import plain
from tests.intake_api.assets.support import register, store_kb
from tests.intake_api.conftest import ADMIN_KEY
from tests.support.server import running_server


@pytest.fixture
def admin(intake_settings: Settings) -> Iterator[httpx.Client]:
    """The service opening a fleet incident from three units on."""
    settings = intake_settings.model_copy(update={"fleet_incident_units": 3})
    store_kb(settings.resolved_database_url)
    with running_server(create_app(settings)) as url:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            yield client


def alarm(admin: httpx.Client, serial: str, code: str, **fields: object) -> dict:
    response = admin.post("/v1/alarms", json=plain(serial, code, **fields))
    assert response.status_code == 202, response.text
    return response.json()["alarm"]


def test_many_units_with_one_code_make_one_incident_over_their_tickets(
    admin: httpx.Client,
) -> None:
    for serial in ("SN-1", "SN-2", "SN-3", "SN-4"):
        register(admin, serial, product_id="HX-75")
    first = [alarm(admin, serial, "A-112")["ticket_id"] for serial in ("SN-1", "SN-2")]
    alarm(admin, "SN-3", "A-133")  # another code: not part of it
    assert admin.get("/v1/alarms/incidents").json() == []
    first.append(alarm(admin, "SN-3", "A-112")["ticket_id"])
    alarm(admin, "SN-1", "A-112")  # a repeat adds no unit
    first.append(alarm(admin, "SN-4", "A-112")["ticket_id"])
    incidents = admin.get("/v1/alarms/incidents", params={"status": "open"}).json()
    assert len(incidents) == 1
    assert incidents[0]["code"] == "A-112" and sorted(incidents[0]["ticket_ids"]) == sorted(first)
    assert sorted(incidents[0]["serials"]) == ["SN-1", "SN-2", "SN-3", "SN-4"]


def repeat_faults(database_url: str) -> int:
    async def count() -> int:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                return int(await session.scalar(select(func.count()).select_from(RepeatFault)) or 0)
        finally:
            await engine.dispose()

    return asyncio.run(count())


def test_the_same_unit_and_code_again_is_flagged_as_a_repeat_fault(
    admin: httpx.Client, database_url: str
) -> None:
    register(admin, "SN-1")
    register(admin, "SN-2")
    before = alarm(admin, "SN-1", "A-112")
    alarm(admin, "SN-1", "A-112", status="cleared")
    alarm(admin, "SN-2", "A-112")  # another unit: not a repeat
    again = alarm(admin, "SN-1", "A-112")
    assert again["ticket_id"] != before["ticket_id"]
    audit = admin.get("/v1/audit", params={"entity_id": again["ticket_id"]}).text
    assert f"Repeat fault: {before['ticket_id']}" in audit
    assert repeat_faults(database_url) == 1
    assert admin.get("/v1/kpis").json()["repeat_faults"]["unit_repeats"] == 1


def test_a_burst_of_new_alarms_opens_a_ticket_each_in_one_incident_and_flags_the_repeat(
    admin: httpx.Client, database_url: str
) -> None:
    """Alarms arriving together are stored in shared batches: each new one still gets its own
    ticket, the repeat fault among them is flagged, and the fleet incident holds them all."""
    serials = [f"SN-{n}" for n in range(1, 9)]
    for serial in serials:
        register(admin, serial, product_id="HX-75")
    before = alarm(admin, "SN-1", "A-112")
    alarm(admin, "SN-1", "A-112", status="cleared")

    async def burst() -> list[dict]:
        async with httpx.AsyncClient(
            base_url=str(admin.base_url), headers=admin.headers, timeout=30
        ) as client:
            posts = [client.post("/v1/alarms", json=plain(s, "A-112")) for s in serials]
            answers = await asyncio.gather(*posts)
        assert all(answer.status_code == 202 for answer in answers)
        return [answer.json()["alarm"] for answer in answers]

    alarms = asyncio.run(burst())
    tickets = [row["ticket_id"] for row in alarms]
    assert None not in tickets and len(set(tickets) | {before["ticket_id"]}) == len(serials) + 1
    audit = admin.get("/v1/audit", params={"entity_id": tickets[0]}).text
    assert f"Repeat fault: {before['ticket_id']}" in audit
    assert repeat_faults(database_url) == 1
    (incident,) = admin.get("/v1/alarms/incidents", params={"status": "open"}).json()
    assert set(tickets) <= set(incident["ticket_ids"])
    assert sorted(set(incident["serials"])) == sorted(serials)
