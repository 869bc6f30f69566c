"""The database floor: the declarative base of every table, the engine and the unit of work.

SQLite (embedded) and PostgreSQL (production) behind one async engine. Schema migrations are the
service's business and live with it (`intake_api/storage/`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Sessions = async_sessionmaker[AsyncSession]

# A pooled PostgreSQL connection idle for longer than this is checked before it is handed out
# (a server restart or an idle timeout may have closed it); one used a moment ago is not.
PING_AFTER_IDLE_SECONDS = 10.0


class Base(DeclarativeBase):
    """Base of every ORM table; one metadata so Alembic sees the whole schema."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(url: str, *, ping_after_idle: float = PING_AFTER_IDLE_SECONDS) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout for several writers,
    PostgreSQL a pool whose connections are checked only after `ping_after_idle` seconds idle."""
    if url.startswith("sqlite"):
        db_path = url.split(":///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API objects
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = create_async_engine(url, pool_size=10, max_overflow=20)
    _ping_after_idle(engine, ping_after_idle)
    return engine


def _ping_after_idle(engine: AsyncEngine, seconds: float) -> None:
    """Check a connection at check-out only when it sat in the pool for `seconds`.

    `pool_pre_ping` checked every check-out, three round trips each on asyncpg (BEGIN, a ping,
    ROLLBACK), several times a message. A connection returned a moment ago is as good as the
    statement it just ran; one that went stale while idle is replaced here (the pool then
    retries with a fresh one), and a disconnect met while in use invalidates the whole pool, so
    the next check-outs connect anew.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # any failure: this connection is not to be used
            raise DisconnectionError("a pooled connection went stale while idle") from exc


def session_factory(engine: AsyncEngine) -> Sessions:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def one_statement_sessions(sessions: Sessions) -> Sessions:
    """Sessions for work that is a single statement (a read, one INSERT): on PostgreSQL it
    commits on its own, without the BEGIN and COMMIT/ROLLBACK round trips around it. SQLite
    starts no transaction for a read anyway; there `sessions` themselves are answered."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "postgresql":
        return sessions
    return session_factory(bind.execution_options(isolation_level="AUTOCOMMIT"))


@asynccontextmanager
async def unit_of_work(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """One transaction: commit when the block ends, roll back on any error."""
    async with sessions() as session, session.begin():
        yield session
