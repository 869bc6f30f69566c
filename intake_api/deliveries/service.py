"""Plain functions over the outbox; callers own the transaction (one per unit of work).

Ordering rule: a row is due only when every earlier row of its ticket is delivered. A dead row
therefore holds back the later events of its ticket (they stay `pending`, "held") until it is
replayed and delivered: order per ticket is never broken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.errors import Conflict, NotFound
from intake_api.deliveries.models import DeliveryStatus, OutboxEvent, utcnow
from intake_api.pagination import PageRequest


def _has_undelivered_predecessor(row: type[OutboxEvent]) -> ColumnElement[bool]:
    earlier = aliased(OutboxEvent, name="earlier")
    return exists().where(
        earlier.ticket_id == row.ticket_id,
        earlier.id < row.id,
        earlier.status != DeliveryStatus.delivered,
    )


def _not_leased(row: type[OutboxEvent], now: datetime) -> ColumnElement[bool]:
    return or_(row.locked_until.is_(None), row.locked_until < now)


async def claim_due(
    session: AsyncSession, *, worker_id: str, now: datetime, lease_until: datetime, limit: int
) -> list[OutboxEvent]:
    """Lease up to `limit` due rows to `worker_id` in one atomic statement (SKIP LOCKED on PG)."""
    candidate = aliased(OutboxEvent, name="candidate")
    due = (
        select(candidate.id)
        .where(
            candidate.status == DeliveryStatus.pending,
            candidate.next_attempt_at <= now,
            _not_leased(candidate, now),
            ~_has_undelivered_predecessor(candidate),
        )
        .order_by(candidate.id)
        .limit(limit)
        .with_for_update(of=candidate, skip_locked=True)
    )
    stmt = (
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(due), _not_leased(OutboxEvent, now))
        .values(locked_by=worker_id, locked_until=lease_until)
        .returning(OutboxEvent)
        .execution_options(synchronize_session=False)
    )
    rows = list((await session.scalars(stmt)).all())
    return sorted(rows, key=lambda row: row.id)


async def mark_delivered(
    session: AsyncSession, *, row_ids: list[int], status_code: int, now: datetime
) -> None:
    """Record 2xx answers; each ticket's next event becomes due."""
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(row_ids), OutboxEvent.status == DeliveryStatus.pending)
        .values(
            status=DeliveryStatus.delivered,
            attempts=OutboxEvent.attempts + 1,
            delivered_at=now,
            last_status_code=status_code,
            last_error=None,
            locked_by=None,
            locked_until=None,
        )
    )


async def mark_failed(
    session: AsyncSession,
    *,
    row_id: int,
    worker_id: str,
    error: str,
    status_code: int | None,
    retry_at: datetime | None,
) -> None:
    """Record a failed attempt: retry at `retry_at`, or dead-letter the row when it is None.

    Only the worker holding the lease records it, so a worker that lost its lease cannot undo
    the outcome of the one that took the row over.
    """
    status = DeliveryStatus.pending if retry_at is not None else DeliveryStatus.dead
    values: dict[str, object] = {
        "status": status,
        "attempts": OutboxEvent.attempts + 1,
        "last_error": error[:2000],
        "last_status_code": status_code,
        "locked_by": None,
        "locked_until": None,
    }
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    await session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.id == row_id,
            OutboxEvent.status == DeliveryStatus.pending,
            OutboxEvent.locked_by == worker_id,
        )
        .values(**values)
    )


async def release_leases(session: AsyncSession, *, worker_id: str) -> None:
    """Give back the rows a stopping worker still holds, so others take them at once."""
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.locked_by == worker_id, OutboxEvent.status == DeliveryStatus.pending)
        .values(locked_by=None, locked_until=None)
    )


async def list_events(
    session: AsyncSession, *, status: DeliveryStatus | None = None, limit: int = 100
) -> list[OutboxEvent]:
    """Outbox rows in delivery order, optionally of one status."""
    stmt = select(OutboxEvent).order_by(OutboxEvent.id).limit(limit)
    if status is not None:
        stmt = stmt.where(OutboxEvent.status == status)
    return list((await session.scalars(stmt)).all())


async def get_all(
    session: AsyncSession,
    *,
    page: PageRequest,
    status: DeliveryStatus | None = None,
    ticket_id: str | None = None,
) -> tuple[list[OutboxEvent], int]:
    """A page of outbox rows, filtered by status and ticket, and how many match in all."""
    query = select(OutboxEvent)
    if status is not None:
        query = query.where(OutboxEvent.status == status)
    if ticket_id is not None:
        query = query.where(OutboxEvent.ticket_id == ticket_id)
    return await page.fetch(session, query, tiebreak=OutboxEvent.id)


@dataclass(frozen=True)
class OutboxStats:
    """Counts by status, held rows (behind a dead one), and the oldest undelivered row's age."""

    pending: int
    delivered: int
    dead: int
    held: int
    oldest_pending_age_seconds: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "pending": self.pending,
            "delivered": self.delivered,
            "dead": self.dead,
            "held": self.held,
            "oldest_pending_age_seconds": self.oldest_pending_age_seconds,
        }


async def stats(session: AsyncSession) -> OutboxStats:
    """A snapshot of the outbox for operators."""
    counts = dict(
        (
            await session.execute(
                select(OutboxEvent.status, func.count()).group_by(OutboxEvent.status)
            )
        ).all()
    )
    earlier_dead = aliased(OutboxEvent, name="earlier_dead")
    held = await session.scalar(
        select(func.count())
        .select_from(OutboxEvent)
        .where(
            OutboxEvent.status == DeliveryStatus.pending,
            exists().where(
                earlier_dead.ticket_id == OutboxEvent.ticket_id,
                earlier_dead.id < OutboxEvent.id,
                earlier_dead.status == DeliveryStatus.dead,
            ),
        )
    )
    oldest = await session.scalar(
        select(OutboxEvent)
        .where(OutboxEvent.status == DeliveryStatus.pending)
        .order_by(OutboxEvent.id)
        .limit(1)
    )
    age = (utcnow() - oldest.created_at).total_seconds() if oldest else None
    return OutboxStats(
        pending=counts.get(DeliveryStatus.pending, 0),
        delivered=counts.get(DeliveryStatus.delivered, 0),
        dead=counts.get(DeliveryStatus.dead, 0),
        held=held or 0,
        oldest_pending_age_seconds=age,
    )


def _requeue_values(now: datetime) -> dict[str, object]:
    return {
        "status": DeliveryStatus.pending,
        "attempts": 0,
        "next_attempt_at": now,
        "locked_by": None,
        "locked_until": None,
        "delivered_at": None,
    }


async def replay_dead(session: AsyncSession) -> int:
    """Requeue every dead row; each ticket's events then go out again in their original order."""
    result = await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.status == DeliveryStatus.dead)
        .values(**_requeue_values(utcnow()))
    )
    return _rowcount(result)


async def replay_event(session: AsyncSession, *, event_id: str) -> OutboxEvent:
    """Requeue one dead or delivered row (a delivered one is sent again, before later pending
    events of its ticket)."""
    row = await session.scalar(select(OutboxEvent).where(OutboxEvent.event_id == event_id))
    if row is None:
        raise NotFound(f"no delivery with event id {event_id!r}", event_id=event_id)
    if row.status == DeliveryStatus.pending:
        raise Conflict(f"delivery {event_id} is already pending", event_id=event_id)
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == row.id, OutboxEvent.status == row.status)
        .values(**_requeue_values(utcnow()))
    )
    await session.refresh(row)
    return row


async def purge_delivered(session: AsyncSession, *, before: datetime) -> int:
    """Delete rows delivered before `before` (order only ever looks at undelivered rows)."""
    result = await session.execute(
        delete(OutboxEvent).where(
            OutboxEvent.status == DeliveryStatus.delivered, OutboxEvent.delivered_at < before
        )
    )
    return _rowcount(result)


def _rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE matched (its result is a `CursorResult`, typed as any `Result`)."""
    return cast(CursorResult[Any], result).rowcount
