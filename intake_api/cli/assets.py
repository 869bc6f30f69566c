"""`aftersales assets import PATH [--replace]`: load installed units into the registry.

The products are checked against the stored knowledge base (the demo KB is loaded first into an
empty store when `AFTERSALES_LOAD_DEMO_KB` is on, as `aftersales serve` does). Errors go to
stderr one per line, naming the row and field, and exit 1; a failed import changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import get_settings
from intake_api.assets import service
from intake_api.assets.importer import read_assets
from intake_api.cli.runtime import run_in_transaction
from intake_api.kb.lifespan import DEMO_KB_DIR
from knowledge_base.loader import read_knowledge_base
from knowledge_base.store import import_knowledge_base, is_empty

assets_app = typer.Typer(help="The registry of installed units.", no_args_is_help=True)


@assets_app.command("import")
def import_assets(
    path: Path = typer.Argument(..., help="A .csv, .yaml/.yml or .json file of units."),
    replace: bool = typer.Option(False, "--replace", help="Also remove units not in the file."),
) -> None:
    """Import units (all or nothing); a unit already registered is updated."""

    async def work(session: AsyncSession) -> tuple[int, int, int]:
        if get_settings().load_demo_kb and await is_empty(session):
            await import_knowledge_base(session, read_knowledge_base(DEMO_KB_DIR))
        rows = read_assets(path, await service.kb_products(session))
        return await service.store_all(session, rows, replace=replace)

    added, updated, removed = run_in_transaction(work)
    typer.echo(f"assets: {added} added, {updated} updated, {removed} removed")
