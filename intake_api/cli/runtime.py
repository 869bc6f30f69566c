"""What the database-backed CLI commands share: one transaction on the migrated database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from core.database import create_engine, session_factory, unit_of_work
from core.errors import ServiceError
from core.settings import get_settings
from intake_api.storage.migrate import migrate

T = TypeVar("T")


def run_in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction on the migrated database; errors exit 1 with a message."""

    async def main() -> T:
        settings = get_settings()
        settings.ensure_dirs()
        engine = create_engine(settings.resolved_database_url)
        try:
            await migrate(engine)
            async with unit_of_work(session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except ServiceError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except (SQLAlchemyError, OSError) as exc:
        typer.echo(f"error: database unavailable: {exc}", err=True)
        raise typer.Exit(1) from None
