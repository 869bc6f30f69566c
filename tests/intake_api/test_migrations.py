"""Upgrading a database that already holds data keeps every row (SQLite and PostgreSQL).

A migration that rebuilds a table on SQLite (Alembic's batch mode copies it and drops the old
one) deletes, with foreign keys on, every row that references it through ON DELETE CASCADE.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import ReflectedColumn

from core.database import create_engine
from intake_api.storage.migrate import alembic_config, migrate

# The newest revision of each branch in the first release that had tickets with events.
RELEASED_HEADS = (
    "intake@intake_0001",
    "agents@agents_0001",
    "deliveries@deliveries_0001",
    "dialogue@dialogue_0003",
    "kb@kb_0001",
    "phone@phone_0001",
)


def _upgrade_to(connection: Connection, targets: tuple[str, ...]) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    for target in targets:
        command.upgrade(config, target)


def _filler(column: ReflectedColumn) -> object:
    """A value for a NOT NULL column without a default, by its reflected type."""
    kind = column["type"]
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 1
    if isinstance(kind, sa.Float | sa.Numeric):
        return 0.0
    if isinstance(kind, sa.DateTime):
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    if isinstance(kind, sa.JSON):
        return "{}"
    return "x"


def _insert_row(connection: Connection, table: str, values: dict[str, object]) -> None:
    """Insert `values`, filling the other required columns of `table` as reflected."""
    row = dict(values)
    for column in sa.inspect(connection).get_columns(table):
        required = not column["nullable"] and column["default"] is None
        if required and column["name"] not in row and not column.get("autoincrement"):
            row[column["name"]] = _filler(column)
    names = ", ".join(row)
    marks = ", ".join(f":{name}" for name in row)
    connection.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), row)


def _seed(connection: Connection) -> None:
    _upgrade_to(connection, RELEASED_HEADS)
    _insert_row(connection, "tickets", {"id": 1, "status_token": "t"})
    _insert_row(connection, "ticket_events", {"id": 1, "ticket_id": 1, "seq": 1})


def _counts(connection: Connection) -> tuple[int, int]:
    tickets = connection.execute(sa.text("SELECT count(*) FROM tickets")).scalar_one()
    events = connection.execute(sa.text("SELECT count(*) FROM ticket_events")).scalar_one()
    return tickets, events


async def test_upgrading_keeps_tickets_and_the_rows_that_reference_them(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_seed)
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_counts) == (1, 1)
            version = await connection.execute(sa.text("SELECT version FROM tickets"))
            assert version.scalar_one() == 1
    finally:
        await engine.dispose()
