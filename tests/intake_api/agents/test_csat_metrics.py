"""CSAT answers (once, by status token or key; bad scores 422) and `/metrics` in the Prometheus
text format with the service's gauges."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.intake_api.agents.conftest import Service, api_key, client, seed_handoff, seed_ticket


async def _resolved(alice: httpx.AsyncClient, sessions: async_sessionmaker) -> dict:
    _, ticket_id = await seed_handoff(sessions)
    answer = await alice.post(f"/v1/agent/tickets/{ticket_id}/resolve", json={"note": "done"})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_customer_answers_once_with_the_status_token(
    service: Service, alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ticket = await _resolved(alice, sessions)
    path = f"/v1/tickets/{ticket['id']}/csat"
    async with httpx.AsyncClient(base_url=service.base) as customer:
        first = await customer.post(
            path, params={"token": ticket["status_token"]}, json={"score": 4, "comment": "quick"}
        )
        second = await customer.post(
            path, params={"token": ticket["status_token"]}, json={"score": 1}
        )
        wrong = await customer.post(path, params={"token": "not-it"}, json={"score": 5})
        anonymous = await customer.post(path, json={"score": 5})
    assert first.status_code == 201
    assert first.json() | {"answered_at": None} == {
        "ticket_id": ticket["id"],
        "score": 4,
        "comment": "quick",
        "answered_at": None,
    }
    assert second.status_code == 409 and "already" in second.json()["message"]
    assert wrong.status_code == 401 and anonymous.status_code == 401
    kpis = (await alice.get("/v1/kpis")).json()["csat"]
    assert kpis["count"] == 1 and kpis["distribution"]["4"] == 1


async def test_bad_scores_are_422_and_unresolved_tickets_409(
    service: Service, alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ticket = await _resolved(alice, sessions)
    open_ticket = await seed_ticket(sessions)
    async with client(service.base, await api_key(service.base, "crm", ["tickets:write"])) as crm:
        for body in ({"score": 0}, {"score": 6}, {"score": "great"}, {}, {"score": 3.5}):
            answer = await crm.post(f"/v1/tickets/{ticket['id']}/csat", json=body)
            assert answer.status_code == 422, (body, answer.text)
        early = await crm.post(f"/v1/tickets/{open_ticket}/csat", json={"score": 5})
        assert early.status_code == 409 and "after resolution" in early.json()["message"]
        missing = await crm.post("/v1/tickets/T-999999/csat", json={"score": 5})
        assert missing.status_code == 404
        by_key = await crm.post(f"/v1/tickets/{ticket['id']}/csat", json={"score": 5})
        assert by_key.status_code == 201 and by_key.json()["score"] == 5
    async with client(service.base, await api_key(service.base, "r", ["tickets:read"])) as reader:
        assert (
            await reader.post(f"/v1/tickets/{ticket['id']}/csat", json={"score": 5})
        ).status_code == 403


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_are_prometheus_text_with_service_gauges(
    service: Service, alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_ticket(sessions, priority="P2")
    conversation_id, _ = await seed_handoff(sessions, with_ticket=False)
    await alice.post(f"/v1/agent/conversations/{conversation_id}/reply", json={"text": "Hi"})
    await _resolved(alice, sessions)
    async with httpx.AsyncClient(base_url=service.base) as anonymous:
        answer = await anonymous.get("/metrics")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = _samples(answer.text)
    assert samples[("aftersales_tickets", (("status", "new"),))] == 1
    assert samples[("aftersales_tickets", (("status", "resolved"),))] == 1
    assert samples[("aftersales_agent_queue_length", ())] == 2
    assert samples[("aftersales_sla_breaches", (("kind", "response"),))] == 0
    assert samples[("aftersales_sla_breaches", (("kind", "resolution"),))] == 0
    line = (("action", "agent"), ("channel", "standin"), ("direction", "out"))
    assert samples[("aftersales_messages", line)] == 1
    assert (
        samples[("aftersales_agent_replies_total", (("channel", "standin"), ("delivered", "true")))]
        >= 1
    )
    assert ("process_cpu_seconds_total", ()) in samples  # the default registry's collectors
