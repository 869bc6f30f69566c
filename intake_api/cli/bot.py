"""`aftersales bot evaluate`: the bot's end-to-end quality on labelled customer messages.

Each query is the first message of a fresh conversation, run through the same dialogue engine
as `POST /v1/messages` (on a throwaway SQLite database), and scored by its label:
`answer` + `id` (answered from that item), `no_answer` (must not be answered), `human` (handed
off), `ticket` (repair request: collected or ticketed).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.knowledge import open_folder
from bot.dialogue.ports import Interpreter, NoInterpreter
from core.database import create_engine, session_factory, unit_of_work
from core.messages import Answer, InboundMessage
from core.settings import get_settings
from intake_api.messages.desk import BotTicketDesk
from intake_api.messages.lifespan import load_interpreter, nlu_model_dir
from intake_api.storage.migrate import migrate
from intake_api.triage import load_policy
from knowledge_base.errors import KBValidationError

bot_app = typer.Typer(help="Evaluate the bot's dialogue.", no_args_is_help=True)

LABELS = ("answer", "no_answer", "human", "ticket")


@dataclass
class Scores:
    """Counts per label and outcome; the rates are what docs/benchmarks/bot.md reports."""

    total: Counter[str] = field(default_factory=Counter)
    answered_right: int = 0
    answers: int = 0
    wrong_answers: int = 0
    uncovered_answered: int = 0
    handed_off: int = 0
    collected: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    misses: list[dict[str, Any]] = field(default_factory=list)

    def add(self, query: dict[str, Any], turn: Answer) -> None:
        expect, action = query["expect"], turn.action
        top = turn.kb_hits[0].id if turn.kb_hits else None
        self.total[expect] += 1
        self.actions[action] += 1
        answered = action == "answer"
        right = answered and expect == "answer" and top == query.get("id")
        if answered:
            self.answers += 1
            self.wrong_answers += not right
        ok = {
            "answer": right,
            "no_answer": not answered,
            "human": action == "handoff",
            "ticket": action in ("collect", "ticket"),
        }[expect]
        self.answered_right += right
        self.uncovered_answered += expect == "no_answer" and answered
        self.handed_off += expect == "human" and action == "handoff"
        self.collected += expect == "ticket" and action in ("collect", "ticket")
        if not ok:
            self.misses.append(
                {
                    "text": query["text"],
                    "expect": expect,
                    "id": query.get("id"),
                    "action": action,
                    "top": top,
                }
            )

    def report(self) -> dict[str, Any]:
        def rate(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        return {
            "n": sum(self.total.values()),
            "n_by_label": dict(self.total),
            "ai_handling_share": rate(self.answered_right, self.total["answer"]),
            "wrong_answer_rate": rate(self.wrong_answers, self.answers),
            "uncovered_answered_rate": rate(self.uncovered_answered, self.total["no_answer"]),
            "human_handoff_rate": rate(self.handed_off, self.total["human"]),
            "repair_collected_rate": rate(self.collected, self.total["ticket"]),
            "actions": dict(self.actions),
        }


def read_queries(path: Path) -> list[dict[str, Any]]:
    """Labelled queries, one JSON object a line; errors name the line."""
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            query = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(query, dict) or not isinstance(query.get("text"), str):
            raise ValueError(f"{path}:{number}: needs a string `text`")
        if query.get("expect") not in LABELS:
            raise ValueError(f"{path}:{number}: `expect` must be one of {', '.join(LABELS)}")
        if query["expect"] == "answer" and not query.get("id"):
            raise ValueError(f"{path}:{number}: an `answer` query needs the `id` it expects")
        queries.append(query)
    return queries


async def evaluate(dialogue: DialogueEngine, queries: list[dict[str, Any]], work: Path) -> Scores:
    """Run every query as a new conversation and score the bot's first action."""
    engine = create_engine(f"sqlite+aiosqlite:///{work / 'evaluate.db'}")
    await migrate(engine)
    sessions = session_factory(engine)
    scores = Scores()
    try:
        for number, query in enumerate(queries):
            inbound = InboundMessage(
                channel="evaluate",
                sender_id=f"q{number}",
                message_id=f"q{number}",
                text=query["text"],
                lang=query.get("lang"),
            )
            async with unit_of_work(sessions) as session:
                scores.add(query, await dialogue.handle(session, inbound))
    finally:
        await engine.dispose()
    return scores


@bot_app.command("evaluate")
def evaluate_command(
    kb: Path = typer.Option(..., "--kb", help="Knowledge base file or folder (kb-format.md)."),
    queries: Path = typer.Option(..., "--queries", help="Labelled queries, JSON lines."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
    show_misses: bool = typer.Option(False, "--misses", help="List the queries it got wrong."),
    nlu: bool = typer.Option(
        True, help="Use the NLU model (--no-nlu: phrase rules and the KB only, the baseline)."
    ),
) -> None:
    """Score the bot: AI handling share, wrong answers, uncovered answered, hand-offs, repairs."""
    try:
        labelled = read_queries(queries)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    with tempfile.TemporaryDirectory(prefix="aftersales-eval-") as tmp:
        work = Path(tmp)
        try:
            knowledge = open_folder(kb, work / "index")
        except KBValidationError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        interpreter: Interpreter = (
            load_interpreter(nlu_model_dir(get_settings())) if nlu else NoInterpreter()
        )
        dialogue = DialogueEngine(
            knowledge=knowledge,
            interpreter=interpreter,
            tickets=BotTicketDesk(load_policy(None)),
        )
        scores = asyncio.run(evaluate(dialogue, labelled, work))
    report = scores.report()
    if show_misses:
        report["misses"] = scores.misses
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    _print_table(report)


def _print_table(report: dict[str, Any]) -> None:
    rows = [
        ("queries", report["n"]),
        ("AI handling share (answerable answered right)", report["ai_handling_share"]),
        ("wrong answers / all answers", report["wrong_answer_rate"]),
        ("uncovered questions answered", report["uncovered_answered_rate"]),
        ("human requests handed off", report["human_handoff_rate"]),
        ("repair requests collected", report["repair_collected_rate"]),
    ]
    for name, value in rows:
        typer.echo(f"{name:<48} {'-' if value is None else value}")
    typer.echo(f"{'actions':<48} {json.dumps(report['actions'])}")
    for miss in report.get("misses", []):
        typer.echo(f"  miss: {json.dumps(miss, ensure_ascii=False)}")
