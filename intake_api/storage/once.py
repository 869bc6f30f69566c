"""Store first, answer once: what inbound messages and phone calls share.

A delivery is stored under its unique key (channel+message_id, call_id) before anything runs.
A repeat of it (a platform's retry, a concurrent duplicate) then fails on that key and gets the
first delivery's stored response, waiting while it is still being made, so nothing runs twice.
SQLite's lock conflicts between concurrent writers are retried a few times before giving up.

Deliveries of one conversation are answered one at a time and in the order they were stored,
on any worker: `lock_key` serializes their transactions (a PostgreSQL advisory lock; SQLite has
one writer at a time anyway), and `InOrder` is raised while an earlier one is still unanswered
(on PostgreSQL that check rides in the lock's statement).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from sqlalchemy import BigInteger, Select, bindparam, exists, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from core.database import Sessions, unit_of_work
from core.errors import ServiceError

# A concurrent writer got there first: try again this many times in all.
CONFLICT_RETRIES = 5
# How long a repeat waits for the first delivery's response before asking to retry.
DUPLICATE_WAIT_SECONDS = 30.0
# How long a delivery waits for an earlier one of its conversation to be answered; past it (a
# worker died on the earlier one), it goes ahead: a stuck message must not stall the customer.
ORDER_WAIT_SECONDS = 20.0


class InOrder(Exception):
    """An earlier delivery of the same conversation is still being answered: wait, retry."""


class Busy(ServiceError):
    """The database stayed locked (SQLite under heavy concurrent writes): retry later."""

    status_code = 503
    code = "busy"


class Delivery(Protocol):
    """A stored delivery: its row id and, once made, the response its sender got."""

    @property
    def id(self) -> int: ...

    @property
    def response(self) -> dict[str, Any] | None: ...


# `lock_key`'s statement on PostgreSQL: built once, so SQLAlchemy's cache key is memoized.
_LOCK = func.pg_advisory_xact_lock(bindparam("lock_id", type_=BigInteger))
_LOCK_ALONE = select(_LOCK)


async def lock_key(
    session: AsyncSession,
    key: str,
    check: Select[Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> bool:
    """Hold `key` until the session's transaction ends: concurrent transactions locking the same
    key, in any process, run one after the other. On PostgreSQL a transaction-level advisory lock
    on a 64-bit hash of `key`; on SQLite nothing is needed once the transaction has written (one
    writer at a time).

    Whether `check` (a query, with `params`) finds a row is the answer. On PostgreSQL it is
    read in the lock's own statement, one round trip for both; that statement's snapshot is
    taken before the lock is granted, so a row another transaction changed while this one
    waited may still be seen as it was: only use it where a row found means "wait and retry"
    (a transaction that waited then retries once, with the lock free and a fresh snapshot)."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        lock_params = {**(params or {}), "lock_id": _lock_id(key)}
        if check is None:
            await session.execute(_LOCK_ALONE, lock_params)
            return False
        _, found = (await session.execute(_locked(check), lock_params)).one()
        return bool(found)
    if check is None:
        return False
    return (await session.execute(check, params)).first() is not None


def _lock_id(key: str) -> int:
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@functools.cache
def _locked(check: Select[Any]) -> Select[None, bool]:
    """The lock and `check`'s EXISTS in one SELECT (built once per check: its cache key stays
    memoized)."""
    return select(_LOCK, exists(check))


async def wait_in_order(attempt: int, waited: float) -> float:
    """Pause before checking again whether an earlier delivery was answered; the time waited."""
    pause = min(0.01 * (2 ** min(attempt, 5)), 0.25)
    await asyncio.sleep(pause)
    return waited + pause


def is_conflict(exc: Exception) -> bool:
    """A lost race with a concurrent writer (retry), as opposed to a real fault."""
    if isinstance(exc, StaleDataError | IntegrityError):
        return True
    text = str(exc).lower()
    return "locked" in text or "busy" in text or "deadlock" in text or "serializ" in text


async def store_first(
    sessions: Sessions, add: Callable[[AsyncSession], Delivery], *, busy: str
) -> int | None:
    """The id of the row `add` puts in a transaction of its own, or None when its unique key is
    stored already (a repeat). Raises `Busy` with the message `busy` when the database stays
    locked."""

    async def write(session: AsyncSession) -> int:
        row = add(session)
        await session.flush()
        return row.id

    return await insert_first(sessions, write, busy=busy)


async def insert_first(
    sessions: Sessions, write: Callable[[AsyncSession], Awaitable[int | None]], *, busy: str
) -> int | None:
    """What `write` answers in a transaction of its own: the new row's id, or None when its
    unique key is stored already (`write` answers None itself, as an INSERT ... ON CONFLICT DO
    NOTHING does, or fails on the key). Raises `Busy` with the message `busy` when the database
    stays locked."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            async with unit_of_work(sessions) as session:
                return await write(session)
        except IntegrityError:
            return None
        except OperationalError as exc:
            if not is_conflict(exc) or attempt == CONFLICT_RETRIES - 1:
                raise Busy(busy) from exc
            await asyncio.sleep(0.05 * (2**attempt))
    raise AssertionError("unreachable: the loop returns or raises on its last attempt")


async def first_response(
    sessions: Sessions,
    find: Callable[[AsyncSession], Awaitable[Delivery | None]],
    not_ready: ServiceError,
) -> dict[str, Any]:
    """The response of the delivery `find` reads, marked `duplicate`, once it is stored;
    `not_ready` is raised when it does not come in time or the row is gone (a first delivery
    that failed and was forgotten)."""
    waited, pause = 0.0, 0.02
    while waited < DUPLICATE_WAIT_SECONDS:
        async with sessions() as session:
            row = await find(session)
        if row is None:
            break
        if row.response is not None:
            return {**row.response, "duplicate": True}
        await asyncio.sleep(pause)
        waited, pause = waited + pause, min(pause * 2, 0.5)
    raise not_ready
