"""`aftersales deliveries list|replay|stats|purge`: inspect, requeue and prune deliveries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from intake_api.deliveries import service
from intake_api.deliveries.models import DeliveryRead, DeliveryStatus, utcnow
from intake_api.errors import ServiceError
from intake_api.settings import get_settings
from intake_api.storage.db import create_engine, migrate, session_factory, unit_of_work

deliveries_app = typer.Typer(
    help="Deliveries of ticket events to the backend webhook: list, replay, stats, purge.",
    no_args_is_help=True,
)

T = TypeVar("T")


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
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


@deliveries_app.command("list")
def list_deliveries(
    status: DeliveryStatus | None = typer.Option(None, help="Only deliveries in this state."),
    limit: int = typer.Option(100, min=1, help="At most this many, oldest first."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List deliveries in delivery order."""
    rows = _run(lambda session: service.list_events(session, status=status, limit=limit))
    items = [DeliveryRead.model_validate(row) for row in rows]
    if as_json:
        typer.echo(json.dumps([item.model_dump(mode="json") for item in items], indent=2))
        return
    if not items:
        typer.echo("no deliveries")
        return
    for item in items:
        when = item.delivered_at or item.next_attempt_at
        error = f"  {item.last_error}" if item.last_error else ""
        typer.echo(
            f"{item.event_id}  {item.status:<9}  ticket={item.ticket_id}  {item.event}  "
            f"attempts={item.attempts}  {when.isoformat(timespec='seconds')}{error}"
        )


@deliveries_app.command("replay")
def replay(
    dead: bool = typer.Option(False, "--dead", help="Requeue every dead-lettered delivery."),
    event_id: str | None = typer.Option(
        None, "--event-id", help="Requeue this one delivery (dead, or delivered to resend)."
    ),
) -> None:
    """Requeue deliveries; each ticket's events go out again in their original order."""
    if dead == (event_id is not None):
        typer.echo("error: give exactly one of --dead or --event-id ID", err=True)
        raise typer.Exit(1)
    if event_id is not None:
        row = _run(lambda session: service.replay_event(session, event_id=event_id))
        typer.echo(f"requeued delivery {row.event_id} ({row.event} of ticket {row.ticket_id})")
        return
    count = _run(service.replay_dead)
    typer.echo(f"requeued {count} dead-lettered deliveries")


@deliveries_app.command("purge")
def purge(
    older_than_days: float = typer.Option(
        ..., "--older-than-days", min=0, help="Delete deliveries delivered longer ago than this."
    ),
) -> None:
    """Delete old delivered rows to keep the outbox small (pending and dead rows stay)."""
    before = utcnow() - timedelta(days=older_than_days)
    count = _run(lambda session: service.purge_delivered(session, before=before))
    typer.echo(f"deleted {count} delivered deliveries older than {older_than_days:g} days")


@deliveries_app.command("stats")
def stats(as_json: bool = typer.Option(False, "--json", help="Print a JSON object.")) -> None:
    """Counts by state, deliveries held behind a dead one, and the oldest pending age."""
    snapshot = _run(service.stats).as_dict()
    if as_json:
        typer.echo(json.dumps(snapshot))
        return
    for key, value in snapshot.items():
        shown = "-" if value is None else (f"{value:.1f}" if isinstance(value, float) else value)
        typer.echo(f"{key}: {shown}")
