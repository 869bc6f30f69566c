"""`aftersales kb search` and `aftersales kb eval`: query the knowledge base, measure retrieval.

`search` uses the stored KB and the service's on-disk index (built on first use, then updated
incrementally). `eval` builds a throwaway index for a KB file or folder in a temp dir and scores
a query set (JSONL lines `{"text", "lang", "expect": "answer"|"no_answer"|..., "id"}`).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import typer

from core.database import create_engine, session_factory
from core.settings import get_settings
from intake_api.cli.kb import kb_app
from intake_api.kb.lifespan import load_demo_if_empty
from intake_api.storage.migrate import migrate
from knowledge_base.encoders import EncoderError
from knowledge_base.errors import KBValidationError
from knowledge_base.loader import read_knowledge_base
from knowledge_base.search import MAX_QUERY_CHARS, METHODS, evaluate, read_queries
from knowledge_base.service import KnowledgeService


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=1)


@kb_app.command("search")
def search_command(
    text: str = typer.Argument(..., help="The customer's question or message."),
    lang: str | None = typer.Option(None, "--lang", help="zh or en (default: detected)."),
    top_k: int = typer.Option(5, "--top-k", min=1, max=50, help="How many hits."),
    as_json: bool = typer.Option(False, "--json", help='Print [{"id","type","score","title"}].'),
) -> None:
    """Ranked knowledge base items for a text (stored KB; index under the data dir).

    Like `serve`, an empty store gets the bundled demo KB first (unless AFTERSALES_LOAD_DEMO_KB
    is false)."""
    if not text.strip():
        raise _fail("TEXT must not be empty.")
    if len(text) > MAX_QUERY_CHARS:
        raise _fail(f"TEXT is {len(text)} characters long; at most {MAX_QUERY_CHARS} are accepted.")
    if lang is not None and lang not in ("zh", "en"):
        raise _fail(f"--lang must be zh or en, not {lang!r}.")
    settings = get_settings()

    async def run() -> KnowledgeService:
        engine = create_engine(settings.resolved_database_url)
        try:
            await migrate(engine)
            sessions = session_factory(engine)
            if settings.load_demo_kb:
                await load_demo_if_empty(sessions)
            return await KnowledgeService.open(
                sessions, settings.index_dir, settings.embedding_model
            )
        finally:
            await engine.dispose()

    settings.ensure_dirs()
    try:
        service = asyncio.run(run())
    except EncoderError as exc:
        raise _fail(str(exc)) from None
    hits = service.search(text, lang=lang, k=top_k)
    if as_json:
        typer.echo(json.dumps([hit.as_dict() for hit in hits], ensure_ascii=False))
        return
    if not hits:
        typer.echo("No hits.")
    for rank, hit in enumerate(hits, 1):
        typer.echo(f"{rank}. {hit.score:.3f}  {hit.type:<5} {hit.id}  {hit.title}")
    if hits and hits[0].score < service.threshold:
        typer.echo(
            f"(best score below the no-answer threshold {service.threshold}: no good answer)"
        )


@kb_app.command("eval")
def eval_command(
    kb: Path = typer.Option(..., "--kb", help="A KB file or folder (kb-format.md)."),
    queries: Path = typer.Option(..., "--queries", help="JSONL query set."),
    method: str = typer.Option("hybrid", "--method", help=f"One of {', '.join(METHODS)}."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """hit@1 on `answer` queries (overall, zh, en) and no-answer rates at the threshold."""
    if method not in METHODS:
        raise _fail(f"--method must be one of {', '.join(METHODS)}, not {method!r}.")
    try:
        knowledge_base = read_knowledge_base(kb)
        query_set = read_queries(queries)
    except KBValidationError as exc:
        raise _fail("\n".join(str(error) for error in exc.errors)) from None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="aftersales-eval-") as tmp:
        try:
            service = KnowledgeService.from_knowledge_base(
                knowledge_base, Path(tmp) / "index", settings.embedding_model
            )
        except EncoderError as exc:
            raise _fail(str(exc)) from None
        result = evaluate(service.index, query_set, method=method)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    for key, value in result.as_dict().items():
        typer.echo(f"{key:<24}{value}")
