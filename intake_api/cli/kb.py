"""`aftersales kb ...`: the knowledge base command group (commands live in kb_*.py modules)."""

from __future__ import annotations

import typer

kb_app = typer.Typer(
    help="Import, validate, search and evaluate the fault knowledge base.", no_args_is_help=True
)
