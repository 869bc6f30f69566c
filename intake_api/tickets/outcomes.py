"""What later tickets say about a ticket, stored on it as the tickets are written, so that the
KPIs count them instead of comparing every ticket of a window with its neighbours on each read.

Two tickets are about the same fault when they share their customer and their unit and fault
(`customer_key`, `fault_key`, generated columns of tickets). Then:
- `repeats_fault`: the ticket was opened within 30 days after another of the same fault (fixed
  when it is opened: only earlier tickets decide it);
- `fault_recurred`: another of the same fault was opened within 7 days after this one was
  resolved (set when that other ticket is opened; cleared when this one is resolved anew, since
  then no ticket is yet opened after the new resolution).

A ticket is resolved at `resolved_at`, or at `closed_at` when it was closed without a
resolution. `store_outcomes()` recomputes both for every ticket (migration agents_0006, and
data loaded around the service). Known limit: two tickets of one fault opened at the same moment
by concurrent transactions do not see each other, so neither is marked a repeat until
`store_outcomes()` runs again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Update, and_, case, exists, func, not_, or_, select, update
from sqlalchemy.orm import aliased

from core.epoch import epoch_us, micros
from intake_api.tickets.models import Ticket

REPEAT_WITHIN = timedelta(days=30)
RECUR_WITHIN = timedelta(days=7)


def customer_key(
    phone: str | None, email: str | None, channel: str | None, sender: str | None
) -> str | None:
    """A ticket's `customer_key` as the generated column computes it."""
    if phone or email:
        return f"contact:{phone or ''}|{email or ''}"
    return f"sender:{channel}|{sender}" if sender else None


def fault_key(product_id: str | None, fault_id: str | None) -> str | None:
    """A ticket's `fault_key` as the generated column computes it."""
    if fault_id:
        return f"fault:{fault_id}"
    return f"product:{product_id}" if product_id else None


def resolved_us(ticket: Any = Ticket) -> ColumnElement[Any]:
    """When `ticket` was resolved (`epoch_us`): its resolution, or its closing when closed
    without one; NULL while unresolved."""
    return func.coalesce(
        epoch_us(ticket.resolved_at),
        case((ticket.status == "closed", epoch_us(ticket.closed_at)), else_=None),
    )


def _same_fault(one: Any, other: Any) -> ColumnElement[bool]:
    return and_(one.customer_key == other.customer_key, one.fault_key == other.fault_key)


def _repeats_fault() -> ColumnElement[bool]:
    """Per ticket: another of the same fault was opened before it (ties by id) within 30 days."""
    earlier = aliased(Ticket)
    since = epoch_us(Ticket.created_at) - epoch_us(earlier.created_at)
    return exists().where(
        _same_fault(earlier, Ticket),
        or_(
            earlier.created_at < Ticket.created_at,
            and_(earlier.created_at == Ticket.created_at, earlier.id < Ticket.id),
        ),
        since <= micros(REPEAT_WITHIN),
    )


def _recurred_after(resolved: ColumnElement[Any], later: Any) -> ColumnElement[bool]:
    """`later` (a ticket of the same fault) was opened within 7 days after `resolved`."""
    opened = epoch_us(later.created_at)
    return and_(opened > resolved, opened <= resolved + micros(RECUR_WITHIN))


def store_outcomes() -> Update:
    """The statement that recomputes both facts of every ticket."""
    later = aliased(Ticket)
    recurred = exists().where(_same_fault(later, Ticket), _recurred_after(resolved_us(), later))
    return update(Ticket).values(
        repeats_fault=_repeats_fault(),
        fault_recurred=and_(resolved_us().is_not(None), recurred),
    )


def note_opened(ids: Sequence[int]) -> list[Update]:
    """The statements that record what tickets `ids`, just opened, say: whether each repeats a
    fault, and on the resolved tickets of the same fault, that it recurred."""
    new = aliased(Ticket)
    opened = new.id.in_(ids)
    return [
        update(Ticket).where(Ticket.id.in_(ids)).values(repeats_fault=_repeats_fault()),
        update(Ticket)
        .where(
            not_(Ticket.fault_recurred),
            # narrowed by the (fault, customer) index before each is matched with the new ones
            Ticket.fault_key.in_(select(new.fault_key).where(opened)),
            Ticket.customer_key.in_(select(new.customer_key).where(opened)),
            exists().where(opened, _same_fault(new, Ticket), _recurred_after(resolved_us(), new)),
        )
        .values(fault_recurred=True),
    ]
