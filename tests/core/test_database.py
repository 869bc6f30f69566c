"""The PostgreSQL pool: connections are checked only after sitting idle, and one that went stale
while idle (its server process ended) is replaced without the caller noticing; sessions for
one-statement work send each statement in a transaction of its own."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.database import (
    Sessions,
    create_engine,
    one_statement_sessions,
    session_factory,
    unit_of_work,
)


async def _backend_pid(sessions: Sessions) -> int:
    async with unit_of_work(sessions) as session:
        return int(await session.scalar(text("SELECT pg_backend_pid()")))


async def _end_backend(admin_url: str, pid: int) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_ended_while_idle_is_replaced(
    database_url: str, postgres_admin_url: str
) -> None:
    engine = create_engine(database_url, ping_after_idle=0.0)
    sessions = session_factory(engine)
    try:
        first = await _backend_pid(sessions)
        await _end_backend(postgres_admin_url, first)
        assert await _backend_pid(sessions) != first
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_used_a_moment_ago_is_not_checked(
    database_url: str, postgres_admin_url: str
) -> None:
    """No ping on a busy pool: a connection ended right after its use fails the next caller
    (the pool is then renewed), which shows that nothing was sent before the statement."""
    engine = create_engine(database_url, ping_after_idle=3600.0)
    sessions = session_factory(engine)
    try:
        first = await _backend_pid(sessions)
        await _end_backend(postgres_admin_url, first)
        # asyncpg reports the ended connection as closed or terminated, or, when the server's
        # notice of the end arrived first, as "another operation is in progress"
        with pytest.raises(Exception, match="(?i)connection|terminat|another operation"):
            await _backend_pid(sessions)
        assert await _backend_pid(sessions) != first
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_one_statement_sessions_commit_each_statement(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        for factory, separate in ((sessions, False), (one_statement_sessions(sessions), True)):
            async with factory() as session:
                first = await session.scalar(text("SELECT txid_current()"))
                second = await session.scalar(text("SELECT txid_current()"))
            assert (first != second) is separate
        async with unit_of_work(sessions) as session:  # the pool's connections are as before
            assert await session.scalar(text("SELECT txid_current()")) == await session.scalar(
                text("SELECT txid_current()")
            )
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_keeps_its_sessions(database_url: str) -> None:
    sessions = session_factory(create_engine(database_url))
    assert one_statement_sessions(sessions) is sessions
