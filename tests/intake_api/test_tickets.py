"""Tickets over HTTP on a real server (SQLite and PostgreSQL): create, read, filter, lifecycle."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake_api.audit.models import AuditEntry
from intake_api.deliveries.models import OutboxEvent
from intake_api.tickets.models import (
    FINAL_STATUSES,
    FINISHED_STATUSES,
    NEEDS_PERSON_STATUSES,
    OPEN_STATUSES,
    SOLVED_STATUSES,
    TRANSITIONS,
    TicketEvent,
    TicketStatus,
)
from tests.intake_api.conftest import ADMIN_KEY, new_ticket

JSON_TYPE = {"content-type": "application/json"}
LIFECYCLE = ["triaged", "assigned", "in_progress", "waiting_customer", "resolved", "closed"]


def test_create_answers_201_with_a_triaged_ticket(admin: httpx.Client) -> None:
    ticket = new_ticket(
        admin,
        subject="Compressor AC-300 smoking, production stopped",
        description="Smoke from the motor since 8:00",
        customer={"name": "Wang", "phone": "+86 138 1234 5678", "tier": "key"},
        product_id="AC-300",
        channel="web",
        sender_id="u-1",
    )
    assert ticket["id"].startswith("T-")
    assert ticket["status"] == "new"
    assert ticket["priority"] == "P1"
    assert ticket["category"] == "repair"
    assert ticket["skill_group"] == "field-service.compressors"
    assert len(ticket["status_token"]) >= 20
    assert ticket["customer"]["tier"] == "key"
    created = datetime.fromisoformat(ticket["created_at"])
    assert datetime.fromisoformat(ticket["sla_due_at"]) == created + timedelta(hours=1)
    assert datetime.fromisoformat(ticket["resolution_due_at"]) == created + timedelta(hours=16)


def test_given_category_and_priority_win_over_triage(admin: httpx.Client) -> None:
    ticket = new_ticket(admin, subject="fire!", category="consulting", priority="P4")
    assert (ticket["category"], ticket["priority"]) == ("consulting", "P4")


def test_read_by_id_and_unknown_ids_are_404(admin: httpx.Client) -> None:
    ticket = new_ticket(admin)
    assert admin.get(f"/v1/tickets/{ticket['id']}").json() == ticket
    for unknown in ("T-999999", "nonsense", "T-"):
        response = admin.get(f"/v1/tickets/{unknown}")
        assert response.status_code == 404
        assert unknown in response.json()["message"]


def test_the_whole_lifecycle_with_assignee_and_notes(admin: httpx.Client) -> None:
    ticket = new_ticket(admin)
    for status in LIFECYCLE:
        body = {"status": status, "note": f"now {status}"}
        if status == "assigned":
            body["assignee"] = "agent-7"
        response = admin.patch(f"/v1/tickets/{ticket['id']}", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    final = admin.get(f"/v1/tickets/{ticket['id']}").json()
    assert final["assignee"] == "agent-7"
    assert final["resolved_at"] and final["closed_at"]
    assert final["allowed_transitions"] == []
    history = admin.get(f"/v1/tickets/{ticket['id']}/history").json()
    assert [event["seq"] for event in history] == list(range(1, len(LIFECYCLE) + 2))
    assert [event["status"] for event in history] == ["new", *LIFECYCLE]
    assert history[2]["assignee"] == "agent-7" and history[2]["note"] == "now assigned"


ILLEGAL_MOVES = [
    ([], "closed"),
    ([], "resolved"),
    ([], "waiting_customer"),
    (["triaged", "assigned", "in_progress", "resolved", "closed"], "in_progress"),
    (["cancelled"], "triaged"),
    (["triaged", "in_progress", "waiting_customer"], "assigned"),
    (["triaged"], "triaged"),
]


def test_illegal_moves_are_409_naming_from_to_and_allowed(admin: httpx.Client) -> None:
    for path, illegal in ILLEGAL_MOVES:
        ticket = new_ticket(admin)
        for status in path:
            assert admin.patch(f"/v1/tickets/{ticket['id']}", json={"status": status}).is_success
        response = admin.patch(f"/v1/tickets/{ticket['id']}", json={"status": illegal})
        assert response.status_code == 409, (path, illegal)
        body = response.json()
        current = path[-1] if path else "new"
        assert body["detail"]["from_status"] == current
        assert body["detail"]["to_status"] == illegal
        assert current in body["message"] and illegal in body["message"]
        assert illegal not in body["detail"]["allowed"]
        assert admin.get(f"/v1/tickets/{ticket['id']}").json()["status"] == current


def test_status_groups_agree_with_the_transition_table() -> None:
    final = {status for status, moves in TRANSITIONS.items() if not moves}
    reopenable = {s for s in FINISHED_STATUSES if set(TRANSITIONS[s]) & OPEN_STATUSES}
    everything = set(TicketStatus)
    assert final == FINAL_STATUSES == {"closed", "cancelled"}
    assert reopenable == FINISHED_STATUSES - FINAL_STATUSES == {"resolved"}
    assert everything - FINISHED_STATUSES == OPEN_STATUSES
    assert OPEN_STATUSES - {"waiting_customer"} == NEEDS_PERSON_STATUSES
    assert FINISHED_STATUSES - {"cancelled"} == SOLVED_STATUSES


def test_reopen_from_resolved(admin: httpx.Client) -> None:
    ticket = new_ticket(admin)
    for status in ["triaged", "in_progress", "resolved", "in_progress"]:
        response = admin.patch(f"/v1/tickets/{ticket['id']}", json={"status": status})
        assert response.status_code == 200, response.text
    reopened = response.json()
    assert reopened["status"] == "in_progress"
    assert reopened["resolved_at"] is None


def test_notes_and_reassignment_keep_the_status(admin: httpx.Client) -> None:
    ticket = new_ticket(admin)
    note = admin.post(f"/v1/tickets/{ticket['id']}/notes", json={"note": "called the customer"})
    assert note.status_code == 201
    assert note.json()["status"] == "new"
    assigned = admin.patch(f"/v1/tickets/{ticket['id']}", json={"assignee": "agent-2"})
    assert assigned.json()["assignee"] == "agent-2"
    assert assigned.json()["status"] == "new"


def test_filters_and_pagination(admin: httpx.Client) -> None:
    made = [
        new_ticket(admin, subject="fire in the plant"),  # P1 repair
        new_ticket(admin, subject="Is it possible to get a quote?"),  # P4 consulting
        new_ticket(admin, subject="pump broken", customer={"name": "Zhao"}),  # P3 repair
        new_ticket(admin, subject="pump broken again"),  # P3 repair
    ]
    admin.patch(f"/v1/tickets/{made[3]['id']}", json={"status": "triaged", "assignee": "ann"})

    def ids(**params: str | int | list[str]) -> tuple[list[str], int]:
        page = admin.get("/v1/tickets", params=params).json()
        return [item["id"] for item in page["items"]], page["total"]

    assert ids(priority="P1") == ([made[0]["id"]], 1)
    assert ids(category="consulting") == ([made[1]["id"]], 1)
    assert ids(status="triaged") == ([made[3]["id"]], 1)
    assert ids(status="new", category="repair")[1] == 2
    assert ids(priority=["P1", "P4"])[1] == 2
    assert ids(assignee="ann") == ([made[3]["id"]], 1)
    assert ids(customer="Zhao") == ([made[2]["id"]], 1)
    first, total = ids(limit=3, offset=0)
    second, _ = ids(limit=3, offset=3)
    assert total == 4
    assert first + second == [ticket["id"] for ticket in reversed(made)]


BAD_BODIES = [
    {},
    {"subject": ""},
    {"subject": 123},
    {"subject": "x", "priority": "P9"},
    {"subject": "x", "category": "gardening"},
    {"subject": "x", "customer": {"tier": "gold"}},
    {"subject": "x", "customer": "Wang"},
    {"subject": "x" * 301},
]


def test_bad_ticket_bodies_are_422_with_the_field(admin: httpx.Client) -> None:
    for body in BAD_BODIES:
        response = admin.post("/v1/tickets", json=body)
        assert response.status_code == 422, body
        error = response.json()
        assert error["error"] == "validation_error" and error["message"]
        assert error["detail"]["errors"][0]["loc"][0] == "body"
    assert admin.get("/v1/tickets").json()["total"] == 0


def test_every_framework_error_has_the_error_shape(admin: httpx.Client) -> None:
    """Body parse errors, other media types, unknown paths and methods: `{"error", "message"}`
    like every other error, and a 405 names every method of the path in `Allow`."""
    answers = {
        "unreadable": admin.post("/v1/tickets", content=b'{"subject": "\xff"}', headers=JSON_TYPE),
        "not_json": admin.post(
            "/v1/tickets", content=b"{", headers={"content-type": "application/json"}
        ),
        "text": admin.post("/v1/tickets", content=b"{}", headers={"content-type": "text/plain"}),
        "unknown_path": admin.get("/v1/nothing-here"),
        "wrong_method": admin.put("/v1/tickets/T-000001", json={}),
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "unreadable": 400,
        "not_json": 422,
        "text": 415,
        "unknown_path": 404,
        "wrong_method": 405,
    }
    for answer in answers.values():
        assert set(answer.json()) >= {"error", "message"}, answer.text
    assert answers["wrong_method"].headers["allow"] == "GET, PATCH"


def test_etag_and_if_match_prevent_lost_updates(admin: httpx.Client) -> None:
    created = admin.post("/v1/tickets", json={"subject": "Pump leaks"})
    url = created.headers["location"]
    read = admin.get(url)
    assert read.headers["etag"] == created.headers["etag"] == '"1"'
    first = admin.patch(url, json={"status": "triaged"}, headers={"If-Match": read.headers["etag"]})
    assert first.status_code == 200 and first.headers["etag"] == '"2"'
    assert first.json()["version"] == 2

    # A second agent still holding version 1 is refused, and nothing changes.
    stale = admin.patch(
        url, json={"status": "cancelled", "note": "dup"}, headers={"If-Match": read.headers["etag"]}
    )
    assert stale.status_code == 412, stale.text
    body = stale.json()
    assert body["error"] == "precondition_failed"
    assert body["detail"]["current_version"] == 2 and body["detail"]["etag"] == '"2"'
    assert body["detail"]["ticket"]["status"] == "triaged"
    after = admin.get(url)
    assert after.json()["status"] == "triaged" and after.headers["etag"] == '"2"'
    assert len(admin.get(f"{url}/history").json()) == 2

    # `*` and no If-Match at all change whatever the version, as before.
    assert admin.patch(url, json={"assignee": "ann"}, headers={"If-Match": "*"}).status_code == 200
    assert admin.patch(url, json={"assignee": "bob"}).json()["version"] == 4
    assert admin.patch(url, json={}, headers={"If-Match": '"3"'}).status_code == 412
    assert admin.patch(url, json={}, headers={"If-Match": "3"}).status_code == 412
    assert admin.patch(url, json={}, headers={"If-Match": "4"}).status_code == 200
    assert admin.patch(url, json={}, headers={"If-Match": 'W/"4"'}).status_code == 422


def test_lists_sort_by_a_named_field(admin: httpx.Client) -> None:
    low = new_ticket(admin, priority="P4")
    high = new_ticket(admin, priority="P1")
    by_priority = admin.get("/v1/tickets", params={"sort": "priority"}).json()
    assert [t["id"] for t in by_priority["items"]] == [high["id"], low["id"]]
    oldest_first = admin.get("/v1/tickets", params={"sort": "created_at", "limit": 1}).json()
    assert oldest_first["items"][0]["id"] == low["id"] and oldest_first["total"] == 2
    assert admin.get("/v1/tickets", params={"sort": "subject"}).status_code == 422


def test_other_lists_page_the_same_way_and_check_their_filters(admin: httpx.Client) -> None:
    new_ticket(admin)
    audit = admin.get("/v1/audit", params={"limit": 1, "sort": "-at"}).json()
    assert set(audit) == {"items", "total", "limit", "offset"} and audit["limit"] == 1
    deliveries = admin.get("/v1/deliveries", params={"status": "pending"}).json()
    assert deliveries["total"] == 1 and deliveries["items"][0]["event"] == "ticket.created"
    for query in ({"until": "0.5"}, {"since": "yesterday"}, {"sort": "actor"}):
        assert admin.get("/v1/audit", params=query).status_code == 422, query
    assert admin.get("/v1/audit", params={"until": "2030-01-01T00:00:00Z"}).json()["total"] >= 1


def test_bad_updates_are_4xx(admin: httpx.Client) -> None:
    ticket = new_ticket(admin)
    url = f"/v1/tickets/{ticket['id']}"
    assert admin.patch(url, json={"status": "done"}).status_code == 422
    unchanged = admin.patch(url, json={})
    assert unchanged.status_code == 200 and unchanged.json()["updated_at"] == ticket["updated_at"]
    assert (
        admin.patch(
            url, content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert admin.patch("/v1/tickets/T-424242", json={"status": "triaged"}).status_code == 404
    assert admin.get("/v1/tickets", params={"status": "done"}).status_code == 422
    assert admin.get("/v1/tickets", params={"limit": 0}).status_code == 422


def test_huge_body_is_413(admin: httpx.Client) -> None:
    response = admin.post("/v1/tickets", json={"subject": "x", "description": "y" * 2_000_000})
    assert response.status_code == 413
    assert "limit" in response.json()["message"]


async def test_every_change_writes_event_audit_and_outbox_rows(
    base_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        customer = {"phone": "13812345678", "email": "li.lei@example.com"}
        created = await client.post("/v1/tickets", json={"subject": "E03", "customer": customer})
        ticket = created.json()
        url = f"/v1/tickets/{ticket['id']}"
        await client.patch(url, json={"status": "triaged", "note": "ok"})
        refused = await client.patch(url, json={"status": "closed"})
    assert refused.status_code == 409  # and it wrote nothing
    async with sessions() as session:
        events = (await session.scalars(select(TicketEvent).order_by(TicketEvent.seq))).all()
        audit = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
        outbox = (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))).all()
    assert [(e.seq, e.status, e.note) for e in events] == [(1, "new", None), (2, "triaged", "ok")]
    assert [a.action for a in audit] == ["ticket.created", "ticket.status_changed"]
    assert audit[0].actor == "admin"
    assert "13812345678" not in str(audit[0].changes)
    assert "li.lei@" not in str(audit[0].changes)
    assert [(o.ticket_id, o.event) for o in outbox] == [
        (ticket["id"], "ticket.created"),
        (ticket["id"], "ticket.status_changed"),
    ]


async def test_concurrent_changes_get_gapless_sequence_numbers(
    base_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        ticket = (await client.post("/v1/tickets", json={"subject": "E03"})).json()
        url = f"/v1/tickets/{ticket['id']}/notes"
        answers = await asyncio.gather(
            *(client.post(url, json={"note": f"note {n}"}) for n in range(8))
        )
    assert [answer.status_code for answer in answers] == [201] * 8
    async with sessions() as session:
        events = (await session.scalars(select(TicketEvent).order_by(TicketEvent.seq))).all()
    assert [event.seq for event in events] == list(range(1, 10))
    assert sorted(event.note or "" for event in events[1:]) == [f"note {n}" for n in range(8)]
