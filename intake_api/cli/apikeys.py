"""`aftersales apikey create|list|revoke`: API keys of the intake API, in the configured DB."""

from __future__ import annotations

import json

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from intake_api.auth import service
from intake_api.auth.models import SCOPES, ApiKeyRead
from intake_api.cli.runtime import run_in_transaction

apikey_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

CLI_ACTOR = "cli"


@apikey_app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Who uses the key, e.g. crm-backend."),
    scopes: list[str] = typer.Option(
        ..., "--scope", help=f"Repeat for several: {', '.join(SCOPES)}."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the key and its record as JSON."),
) -> None:
    """Create a key and print it once (only its hash is kept)."""

    async def work(session: AsyncSession) -> tuple[ApiKeyRead, str]:
        row, key = await service.create(session, name=name, scopes=scopes, actor=CLI_ACTOR)
        return ApiKeyRead.model_validate(row), key

    record, key = run_in_transaction(work)
    if as_json:
        typer.echo(json.dumps(record.model_dump(mode="json") | {"key": key}))
        return
    typer.echo(key)
    typer.echo(
        f"id {record.id}, name {record.name}, scopes {' '.join(record.scopes)} "
        "(store the key now: it is not shown again)",
        err=True,
    )


@apikey_app.command("list")
def list_keys(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every key: id, name, prefix, scopes, created, revoked."""

    async def work(session: AsyncSession) -> list[ApiKeyRead]:
        return [ApiKeyRead.model_validate(row) for row in await service.get_all(session)]

    records = run_in_transaction(work)
    if as_json:
        typer.echo(json.dumps([record.model_dump(mode="json") for record in records]))
        return
    for record in records:
        revoked = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}" if record.revoked_at else "active"
        typer.echo(
            f"{record.id}\t{record.name}\tas_{record.prefix}_…\t{','.join(record.scopes)}\t"
            f"{record.created_at:%Y-%m-%d %H:%M}\t{revoked}"
        )


@apikey_app.command("revoke")
def revoke(key_id: int = typer.Argument(..., help="The key's id (see `apikey list`).")) -> None:
    """Revoke a key: requests with it are refused from now on."""

    async def work(session: AsyncSession) -> ApiKeyRead:
        return ApiKeyRead.model_validate(
            await service.revoke(session, key_id=key_id, actor=CLI_ACTOR)
        )

    record = run_in_transaction(work)
    typer.echo(f"revoked key {record.id} ({record.name})")
