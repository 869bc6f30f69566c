"""`aftersales serve`: the whole service on embedded defaults."""

from __future__ import annotations

import typer
import uvicorn

from core.settings import get_settings


def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default from settings)."),
    port: int | None = typer.Option(None, help="Port to bind (default from settings)."),
    workers: int = typer.Option(1, min=1, help="Worker processes (use Redis for several)."),
) -> None:
    """Run the intake API, channel webhooks, web chat and agent console."""
    settings = get_settings()
    uvicorn.run(
        "intake_api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
    )
