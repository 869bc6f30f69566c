"""Real-time status: SSE and WebSocket show every change of a ticket in order."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from intake_api.events.bus import EVERY_KEY, LocalBus
from tests.intake_api.conftest import ADMIN_KEY
from tests.intake_api.sse import SseReader

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
MOVES = [
    {"status": "triaged"},
    {"status": "assigned", "assignee": "agent-1", "note": "yours"},
    {"status": "in_progress"},
    {"status": "waiting_customer", "note": "please send a photo"},
    {"status": "in_progress"},
    {"status": "resolved", "note": "replaced the valve"},
]


@pytest.fixture
async def client(base_url: str):
    async with httpx.AsyncClient(base_url=base_url, headers=ADMIN, timeout=30) as client:
        yield client


async def _ticket(client: httpx.AsyncClient) -> dict:
    response = await client.post("/v1/tickets", json={"subject": "Boiler leaks water"})
    assert response.status_code == 201
    return response.json()


async def test_sse_shows_history_then_every_change_in_order(client: httpx.AsyncClient) -> None:
    ticket = await _ticket(client)
    url = f"/v1/tickets/{ticket['id']}/events"
    async with asyncio.timeout(30), client.stream("GET", url) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        reader = SseReader(stream)
        first = await reader.next_event()
        for move in MOVES:
            assert (await client.patch(f"/v1/tickets/{ticket['id']}", json=move)).is_success
        events = await reader.take(len(MOVES))
    assert first == ("1", {**first[1], "ticket_id": ticket["id"], "status": "new"})
    assert [event_id for event_id, _ in events] == [str(n) for n in range(2, 2 + len(MOVES))]
    assert [data["status"] for _, data in events] == [move["status"] for move in MOVES]
    assert [data.get("note") for _, data in events] == [move.get("note") for move in MOVES]
    assert all(data["ticket_id"] == ticket["id"] and data["at"] for _, data in events)


async def test_last_event_id_resumes_after_that_event(client: httpx.AsyncClient) -> None:
    ticket = await _ticket(client)
    for move in MOVES[:3]:
        await client.patch(f"/v1/tickets/{ticket['id']}", json=move)
    url = f"/v1/tickets/{ticket['id']}/events"
    async with (
        asyncio.timeout(30),
        client.stream("GET", url, headers={"Last-Event-ID": "2"}) as stream,
    ):
        events = await SseReader(stream).take(2)
    assert [(event_id, data["status"]) for event_id, data in events] == [
        ("3", "assigned"),
        ("4", "in_progress"),
    ]


async def test_customer_follows_with_the_status_token(base_url: str, client) -> None:
    ticket = await _ticket(client)
    await client.patch(f"/v1/tickets/{ticket['id']}", json={"status": "triaged"})
    url = f"{base_url}/v1/tickets/{ticket['id']}/events"
    async with (
        asyncio.timeout(30),
        httpx.AsyncClient() as customer,
        customer.stream("GET", url, params={"token": ticket["status_token"]}) as stream,
    ):
        assert stream.status_code == 200
        events = await SseReader(stream).take(2)
    assert [data["status"] for _, data in events] == ["new", "triaged"]


async def test_wrong_token_or_no_credentials_are_refused(base_url: str, client) -> None:
    ticket = await _ticket(client)
    other = await _ticket(client)
    url = f"{base_url}/v1/tickets/{ticket['id']}/events"
    async with httpx.AsyncClient(timeout=10) as customer:
        wrong = await customer.get(url, params={"token": "not-the-token"})
        borrowed = await customer.get(url, params={"token": other["status_token"]})
        nothing = await customer.get(url)
        bad_key = await customer.get(url, headers={"Authorization": "Bearer wrong"})
    # A wrong token is a wrong credential: 401, as for a wrong key.
    assert wrong.status_code == 401 and "token" in wrong.json()["message"]
    assert borrowed.status_code == 401
    assert nothing.status_code == 401
    assert bad_key.status_code == 401


async def test_unknown_ticket_stream_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/tickets/T-777777/events")
    assert response.status_code == 404


async def test_a_bad_or_huge_last_event_id_is_handled(client: httpx.AsyncClient) -> None:
    ticket = await _ticket(client)
    url = f"/v1/tickets/{ticket['id']}/events"
    bad = await client.get(url, headers={"Last-Event-ID": "abc"})
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["message"]
    await client.patch(f"/v1/tickets/{ticket['id']}", json={"status": "triaged"})
    huge = {"Last-Event-ID": "9" * 19}
    async with asyncio.timeout(30), client.stream("GET", url, headers=huge) as stream:
        assert stream.status_code == 200  # nothing after that; the stream stays open


async def test_websocket_sends_the_same_events(base_url: str, client) -> None:
    ticket = await _ticket(client)
    ws_url = base_url.replace("http://", "ws://") + f"/v1/tickets/{ticket['id']}/ws"
    async with (
        asyncio.timeout(30),
        websockets.connect(f"{ws_url}?token={ticket['status_token']}") as socket,
    ):
        first = json.loads(await socket.recv())
        await client.patch(f"/v1/tickets/{ticket['id']}", json={"status": "triaged", "note": "hi"})
        second = json.loads(await socket.recv())
    assert (first["seq"], first["status"]) == (1, "new")
    assert (second["seq"], second["status"], second["note"]) == (2, "triaged", "hi")


async def test_websocket_with_a_wrong_token_is_closed(base_url: str, client) -> None:
    ticket = await _ticket(client)
    ws_url = base_url.replace("http://", "ws://") + f"/v1/tickets/{ticket['id']}/ws?token=nope"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with asyncio.timeout(30), websockets.connect(ws_url):
            pass
    assert refused.value.response.status_code == 403


async def test_a_worker_wants_only_the_keys_a_stream_of_its_own_follows() -> None:
    """Every worker hears every change through Redis; one decodes only what a stream of its own
    would receive: its ticket's key, or any key while a workspace follows every change."""
    bus = LocalBus()
    assert not bus.wanted("T-1")
    async with bus.subscribe("T-1"):
        assert bus.wanted("T-1")
        assert not bus.wanted("T-2")
    assert not bus.wanted("T-1")
    async with bus.subscribe(EVERY_KEY):
        assert bus.wanted("T-2")
