"""Storage functions for inbound messages (the caller owns the transaction).

The statements every message runs are built once (SQLAlchemy then memoizes their cache keys)
and written against the table, not the mapped class: no ORM work for rows nobody loads.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.columns import utcnow
from core.messages import InboundMessage
from intake_api.messages.models import (
    STATUS_ANSWERED,
    STATUS_FAILED,
    STATUS_PROCESSING,
    STATUS_RECEIVED,
    StoredMessage,
)

_TABLE = cast(Table, StoredMessage.__table__)
_KEY = (_TABLE.c.channel == bindparam("channel"), _TABLE.c.message_id == bindparam("message_id"))
_EXISTS = select(_TABLE.c.id).where(*_KEY)
# A new message's row, or nothing when its channel+message_id is stored already: by dialect.
_INSERT_NEW = {
    name: insert(_TABLE)
    .on_conflict_do_nothing(index_elements=["channel", "message_id"])
    .returning(_TABLE.c.id)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
# Messages of a sender stored before a given one, recently, and not answered yet. The two
# statuses are compared one by one: an IN list is re-rendered into the SQL at every execution.
_EARLIER_UNANSWERED = (
    select(_TABLE.c.id)
    .where(
        _TABLE.c.channel == bindparam("channel"),
        _TABLE.c.sender_id == bindparam("sender_id"),
        _TABLE.c.id < bindparam("message_pk"),
        or_(_TABLE.c.status == STATUS_RECEIVED, _TABLE.c.status == STATUS_PROCESSING),
        _TABLE.c.received_at >= bindparam("since", type_=_TABLE.c.received_at.type),
    )
    .limit(1)
)
_ANSWERED = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("message_pk"))
    .values(
        status=STATUS_ANSWERED,
        conversation_id=bindparam("conversation_id"),
        response=bindparam("response", type_=_TABLE.c.response.type),
        answered_at=bindparam("answered_at", type_=_TABLE.c.answered_at.type),
    )
)


async def get(session: AsyncSession, *, channel: str, message_id: str) -> StoredMessage | None:
    """The stored message a channel delivered under `message_id`."""
    query = select(StoredMessage).where(
        StoredMessage.channel == channel, StoredMessage.message_id == message_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def exists(session: AsyncSession, *, channel: str, message_id: str) -> bool:
    """Whether a channel delivered `message_id` before (its id only: no row is loaded)."""
    params = {"channel": channel, "message_id": message_id}
    return (await session.execute(_EXISTS, params)).first() is not None


def _row(data: InboundMessage) -> dict[str, Any]:
    """The columns of a new message's row. Attachments are kept by reference; inline bytes are
    not stored in the message row."""
    return {
        "channel": data.channel,
        "message_id": data.message_id,
        "sender_id": data.sender_id,
        "text": data.text,
        "lang": data.lang,
        "customer": data.customer_facts() or None,
        "attachments": [
            a.model_dump(exclude_none=True, exclude={"data_base64"}) for a in data.attachments
        ]
        or None,
    }


def create(session: AsyncSession, *, data: InboundMessage) -> StoredMessage:
    """A new inbound message row (flushed by the caller's commit; the unique channel+message_id
    rejects a duplicate there)."""
    message = StoredMessage(**_row(data))
    session.add(message)
    return message


async def insert_new(session: AsyncSession, *, data: InboundMessage) -> int | None:
    """The new message row's id, in one statement; None when its channel+message_id is stored
    already (the row is then left as it is)."""
    dialect = session.get_bind().dialect.name
    return (await session.execute(_INSERT_NEW[dialect], _row(data))).scalar()


def earlier_unanswered(
    data: InboundMessage, message_pk: int, within_seconds: float
) -> tuple[Select[int], dict[str, Any]]:
    """A query (and its parameters) for a message of the same sender stored before row
    `message_pk`, in the last `within_seconds` (one a dead worker left behind does not hold the
    conversation for ever), that is not answered yet."""
    params = {
        "channel": data.channel,
        "sender_id": data.sender_id,
        "message_pk": message_pk,
        "since": utcnow() - timedelta(seconds=within_seconds),
    }
    return _EARLIER_UNANSWERED, params


async def mark_processing(session: AsyncSession, *, message_pk: int) -> None:
    """The bot has started on the message (an UPDATE: the transaction's first statement, which
    SQLite needs to queue the transaction behind other writers; the status is overwritten before
    the transaction commits, so nobody else ever sees it)."""
    await session.execute(
        update(StoredMessage).where(StoredMessage.id == message_pk).values(status=STATUS_PROCESSING)
    )


async def mark_answered(
    session: AsyncSession, *, message_pk: int, conversation_id: str, response: dict[str, Any]
) -> None:
    """Store the response the caller gets (and every retry of the same message gets); one
    UPDATE, the row is not loaded."""
    params = {
        "message_pk": message_pk,
        "conversation_id": conversation_id,
        "response": response,
        "answered_at": utcnow(),
    }
    await session.execute(_ANSWERED, params)


async def mark_failed(
    session: AsyncSession, *, message_pk: int, error: str, response: dict[str, Any]
) -> None:
    """Keep a message the bot failed on, with the error and the fallback reply it got."""
    await session.execute(
        update(StoredMessage)
        .where(StoredMessage.id == message_pk)
        .values(status=STATUS_FAILED, error=error[:4000], response=response, answered_at=utcnow())
    )
