"""`aftersales kb import | validate | stats | export`: manage the stored knowledge base.

Every command migrates the database first. Errors go to stderr one per line, naming file, item
and key, and exit with status 1; a failed import changes nothing.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
import yaml
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import create_engine, session_factory, unit_of_work
from core.settings import Settings, get_settings
from intake_api.cli.kb import kb_app
from intake_api.storage.migrate import migrate
from knowledge_base.errors import KBValidationError
from knowledge_base.format import NODE_LISTS, KnowledgeBase
from knowledge_base.loader import kb_files, read_knowledge_base
from knowledge_base.store import (
    ImportReport,
    export_knowledge_base,
    import_knowledge_base,
    knowledge_base_stats,
    known_ids,
)

T = TypeVar("T")
Sessions = async_sessionmaker[AsyncSession]
# Show a progress bar when a folder has at least this many files.
PROGRESS_MIN_FILES = 20

_stderr = Console(stderr=True)

PATH_ARGUMENT = typer.Argument(..., help="A KB file (.yaml, .yml, .json) or a folder of them.")


def _fail(lines: list[str]) -> typer.Exit:
    for line in lines:
        typer.echo(line, err=True)
    return typer.Exit(code=1)


def _with_store(settings: Settings, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Run `work` on the migrated database of the settings; database trouble exits with 1."""

    async def run() -> T:
        engine = create_engine(settings.resolved_database_url)
        try:
            await migrate(engine)
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    settings.ensure_dirs()
    try:
        return asyncio.run(run())
    except KBValidationError as exc:
        raise _fail([str(error) for error in exc.errors] + [_summary(exc)]) from None
    except (SQLAlchemyError, OSError) as exc:
        url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
        raise _fail([f"database error ({url}): {exc}"]) from None


def _summary(exc: KBValidationError) -> str:
    return f"{len(exc.errors)} error(s); nothing was changed."


@contextmanager
def _file_progress(path: Path) -> Iterator[Callable[[Path], None] | None]:
    """A progress bar on stderr over the files of a big folder; nothing for a few files."""
    total = len(kb_files(path)) if path.is_dir() else 0
    if total < PROGRESS_MIN_FILES:
        yield None
        return
    with Progress(console=_stderr, transient=True) as progress:
        task = progress.add_task("Reading", total=total)
        yield lambda _file: progress.advance(task)


async def _read(sessions: Sessions, path: Path, *, replace: bool) -> KnowledgeBase:
    """Read and validate the files; in upsert mode stored ids count as known references."""
    known: dict[str, set[str]] = {}
    if not replace:
        async with sessions() as session:
            known = await known_ids(session)
    with _file_progress(path) as on_file:
        return read_knowledge_base(path, known_ids=known, on_file=on_file)


def _changed_hook() -> Callable[..., Any] | None:
    """`knowledge_base.service.on_kb_changed` if that module and function exist."""
    try:
        module = importlib.import_module("knowledge_base.service")
    except ModuleNotFoundError as exc:
        if exc.name == "knowledge_base.service":
            return None
        raise
    return getattr(module, "on_kb_changed", None)


async def _notify_changed(settings: Settings, sessions: Sessions) -> None:
    """Let the search index catch up; the import is committed, so a failure here is a warning."""
    hook = _changed_hook()
    if hook is None:
        return
    try:
        # A line, not a spinner: the index shows its own progress bar (tqdm) while it embeds.
        typer.echo("Updating the search index…", err=True)
        result = hook(settings=settings, sessions=sessions)
        if inspect.isawaitable(result):
            await result
    except Exception as exc:  # noqa: BLE001 - any failure of the index must not hide the import
        typer.echo(
            f"warning: the knowledge base was imported, but updating the search index failed "
            f"({type(exc).__name__}: {exc}); it is brought up to date when the service starts.",
            err=True,
        )
    else:
        typer.echo("Search index updated.")


def _print_report(report: ImportReport) -> None:
    typer.echo(f"{'list':<12}{'created':>9}{'updated':>9}{'unchanged':>11}{'removed':>9}")
    for name, counts in report.lists.items():
        typer.echo(
            f"{name:<12}{counts.created:>9}{counts.updated:>9}"
            f"{counts.unchanged:>11}{counts.removed:>9}"
        )
    if report.changed:
        typer.echo(f"Imported; knowledge base revision {report.revision}.")
    else:
        typer.echo(f"Nothing changed (revision {report.revision}).")


@kb_app.command("import")
def import_command(
    path: Path = PATH_ARGUMENT,
    replace: bool = typer.Option(
        False, "--replace", help="Make the store equal to the files: remove items absent from them."
    ),
) -> None:
    """Import a knowledge base (upsert by id); on any error print them all and change nothing."""
    settings = get_settings()

    async def work(sessions: Sessions) -> ImportReport:
        kb = await _read(sessions, path, replace=replace)
        with _stderr.status("Writing to the store…"):
            async with unit_of_work(sessions) as session:
                report = await import_knowledge_base(session, kb, replace=replace)
        _print_report(report)
        if report.changed:
            await _notify_changed(settings, sessions)
        return report

    _with_store(settings, work)


@kb_app.command("validate")
def validate_command(
    path: Path = PATH_ARGUMENT,
    replace: bool = typer.Option(
        False,
        "--replace",
        help="Check as a full replacement: references must resolve in the files.",
    ),
) -> None:
    """Check a knowledge base without writing; references may point at stored items."""

    async def work(sessions: Sessions) -> KnowledgeBase:
        return await _read(sessions, path, replace=replace)

    kb = _with_store(get_settings(), work)
    counts = ", ".join(f"{len(getattr(kb, name))} {name}" for name in NODE_LISTS)
    typer.echo(f"OK: {counts}.")


@kb_app.command("stats")
def stats_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Items per list, edges per relation and the revision of the stored knowledge base."""

    async def work(sessions: Sessions) -> Any:
        async with sessions() as session:
            return await knowledge_base_stats(session)

    stats = _with_store(get_settings(), work)
    if as_json:
        typer.echo(stats.model_dump_json(indent=2))
        return
    for name, count in stats.nodes.items():
        typer.echo(f"{name:<12}{count:>8}")
    typer.echo(f"{'edges':<12}{sum(stats.edges.values()):>8}")
    updated = stats.updated_at.isoformat() if stats.updated_at else "never"
    typer.echo(f"revision {stats.revision}, last change {updated}")


@kb_app.command("export")
def export_command(
    path: Path = typer.Argument(
        ..., help="Output file: YAML, or JSON when it ends in .json; - for stdout."
    ),
) -> None:
    """Write the stored knowledge base in the interchange format (version 1)."""

    async def work(sessions: Sessions) -> dict[str, Any]:
        async with sessions() as session:
            return await export_knowledge_base(session)

    data = _with_store(get_settings(), work)
    if path.suffix.lower() == ".json":
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    else:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
    if str(path) == "-":
        sys.stdout.write(text)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail([f"{path}: cannot write: {exc.strerror or exc}"]) from None
    items = sum(len(data.get(name, [])) for name in NODE_LISTS)
    typer.echo(f"Exported {items} items to {path}.")
