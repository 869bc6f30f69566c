"""`enqueue`: record a ticket change for delivery inside the caller's own transaction."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from intake_api.deliveries.doorbell import ring
from intake_api.deliveries.models import OutboxEvent, utcnow


def encode_body(*, event_id: str, event: str, ticket: dict[str, Any], occurred_at: str) -> str:
    """The delivered JSON body, serialized once so every retry sends (and signs) the same bytes."""
    body = {"event_id": event_id, "event": event, "ticket": ticket, "occurred_at": occurred_at}
    return json.dumps(jsonable_encoder(body), ensure_ascii=False, separators=(",", ":"))


def _ring_after_commit(session: AsyncSession) -> None:
    """Wake this process's delivery worker as soon as the caller commits (no poll wait)."""
    sync_session = session.sync_session
    if not sync_session.info.get("deliveries_doorbell"):
        sa_event.listen(sync_session, "after_commit", lambda _s: ring())
        sync_session.info["deliveries_doorbell"] = True


def enqueue(session: AsyncSession, *, ticket_id: str, event: str, ticket: dict[str, Any]) -> str:
    """Add a delivery of `event` for `ticket` to the caller's transaction; return its event_id.

    Never commits: the row is committed (or rolled back) with the caller's change. Events of one
    ticket are delivered in enqueue order; call this after writing the ticket row, whose row lock
    orders concurrent changes of the same ticket.
    """
    event_id = uuid.uuid4().hex
    now = utcnow()
    body = encode_body(event_id=event_id, event=event, ticket=ticket, occurred_at=now.isoformat())
    session.add(
        OutboxEvent(
            event_id=event_id,
            ticket_id=str(ticket_id),
            event=event,
            body=body,
            created_at=now,
            next_attempt_at=now,
        )
    )
    _ring_after_commit(session)
    return event_id
