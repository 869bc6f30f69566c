"""`aftersales deliveries list|replay|stats|purge`: inspect, requeue and prune deliveries."""

from __future__ import annotations

import json
from datetime import timedelta

import typer

from intake_api.cli.runtime import run_in_transaction
from intake_api.deliveries import service
from intake_api.deliveries.models import DeliveryRead, DeliveryStatus, utcnow

deliveries_app = typer.Typer(
    help="Deliveries of ticket events to the backend webhook: list, replay, stats, purge.",
    no_args_is_help=True,
)


@deliveries_app.command("list")
def list_deliveries(
    status: DeliveryStatus | None = typer.Option(None, help="Only deliveries in this state."),
    limit: int = typer.Option(100, min=1, help="At most this many, oldest first."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List deliveries in delivery order."""
    rows = run_in_transaction(
        lambda session: service.list_events(session, status=status, limit=limit)
    )
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
        row = run_in_transaction(lambda session: service.replay_event(session, event_id=event_id))
        typer.echo(f"requeued delivery {row.event_id} ({row.event} of ticket {row.ticket_id})")
        return
    count = run_in_transaction(service.replay_dead)
    typer.echo(f"requeued {count} dead-lettered deliveries")


@deliveries_app.command("purge")
def purge(
    older_than_days: float = typer.Option(
        ..., "--older-than-days", min=0, help="Delete deliveries delivered longer ago than this."
    ),
) -> None:
    """Delete old delivered rows to keep the outbox small (pending and dead rows stay)."""
    before = utcnow() - timedelta(days=older_than_days)
    count = run_in_transaction(lambda session: service.purge_delivered(session, before=before))
    typer.echo(f"deleted {count} delivered deliveries older than {older_than_days:g} days")


@deliveries_app.command("stats")
def stats(as_json: bool = typer.Option(False, "--json", help="Print a JSON object.")) -> None:
    """Counts by state, deliveries held behind a dead one, and the oldest pending age."""
    snapshot = run_in_transaction(service.stats).as_dict()
    if as_json:
        typer.echo(json.dumps(snapshot))
        return
    for key, value in snapshot.items():
        shown = "-" if value is None else (f"{value:.1f}" if isinstance(value, float) else value)
        typer.echo(f"{key}: {shown}")
