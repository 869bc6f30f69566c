"""`aftersales bot evaluate`: the bot's end-to-end quality on labelled customer messages.

Each query is the first message of a fresh conversation, run through the same dialogue engine
as `POST /v1/messages` (on a throwaway SQLite database), and scored by its label:
`answer` + `id` (answered from that item), `no_answer` (must not be answered), `human` (handed
off), `ticket` (repair request: collected or ticketed).

With `--conversations`, each line is a whole conversation (`read_conversations`): its turns go,
in order, to one sender's conversation, and the bot's last action (and item) is scored against
the conversation's `expect`; a turn's own `expect`, when given, is scored too. The share that
ends as expected is reported per language and script (`zh-Hans`, `zh-Hant`, `en`, `mixed`).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.knowledge import open_folder
from bot.dialogue.ports import Interpreter, NoInterpreter
from bot.triage import load_policy
from core.database import create_engine, session_factory, unit_of_work
from core.messages import Answer, InboundMessage
from core.settings import get_settings
from intake_api.messages.desk import BotTicketDesk
from intake_api.messages.lifespan import load_interpreter, nlu_model_dir
from intake_api.storage.migrate import migrate
from knowledge_base.errors import KBValidationError

bot_app = typer.Typer(help="Evaluate the bot's dialogue.", no_args_is_help=True)

LABELS = ("answer", "no_answer", "human", "ticket")
# What a conversation may be expected to end with: one of the bot's actions, or `book` (a visit
# being collected or its ticket made), `no_answer` (anything but an answer).
ACTIONS = (
    "answer",
    "clarify",
    "collect",
    "ticket",
    "book",
    "handoff",
    "status",
    "smalltalk",
    "fallback",
    "no_answer",
)
SCRIPTS = ("zh-Hans", "zh-Hant", "en", "mixed")


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


def json_lines(path: Path) -> Iterator[tuple[str, Any]]:
    """Each non-empty line of a JSON-lines file, parsed, with `path:line` for error messages."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not JSON ({exc.msg})") from exc


def read_queries(path: Path) -> list[dict[str, Any]]:
    """Labelled queries, one JSON object a line; errors name the line."""
    queries = []
    for where, query in json_lines(path):
        if not isinstance(query, dict) or not isinstance(query.get("text"), str):
            raise ValueError(f"{where}: needs a string `text`")
        if query.get("expect") not in LABELS:
            raise ValueError(f"{where}: `expect` must be one of {', '.join(LABELS)}")
        if query["expect"] == "answer" and not query.get("id"):
            raise ValueError(f"{where}: an `answer` query needs the `id` it expects")
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


def met(expect: dict[str, Any], turn: Answer) -> bool:
    """Whether a turn's outcome is what `expect` asks: its action (a name or a list of names;
    `book`: collect or ticket; `no_answer`: anything but an answer), the item when it answers,
    and words the ticket's subject and description must hold (`ticket_has`)."""
    wanted = expect.get("action")
    names = [wanted] if isinstance(wanted, str) else list(wanted or [])
    expanded = {
        name
        for want in names
        for name in {"book": ("collect", "ticket"), "no_answer": ()}.get(want, (want,))
    }
    action = turn.action
    if action not in expanded and not ("no_answer" in names and action != "answer"):
        return False
    top = turn.kb_hits[0].id if turn.kb_hits else None
    if action == "answer" and expect.get("id") and top != expect["id"]:
        return False
    offered = {hit.id for hit in turn.kb_hits}
    if action == "clarify" and expect.get("id") and expect["id"] not in offered:
        return False
    words = expect.get("ticket_has") or []
    if words:
        ticket = turn.ticket or {}
        text = f"{ticket.get('subject', '')}\n{ticket.get('description', '')}".lower()
        if not all(str(word).lower() in text for word in words):
            return False
    return True


@dataclass
class ConversationScores:
    """Conversations that end as expected, per language and script, and turns that do."""

    ended: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    turns_met: int = 0
    turns_checked: int = 0
    last_actions: Counter[str] = field(default_factory=Counter)
    misses: list[dict[str, Any]] = field(default_factory=list)

    def add(self, conversation: dict[str, Any], answers: list[Answer]) -> None:
        script = conversation["lang"]
        last = answers[-1]
        ok = met(conversation["expect"], last)
        self.total[script] += 1
        self.ended[script] += ok
        self.last_actions[last.action] += 1
        turn_misses = []
        for number, (turn, answer) in enumerate(zip(conversation["turns"], answers, strict=True)):
            if turn.get("expect"):
                self.turns_checked += 1
                if met(turn["expect"], answer):
                    self.turns_met += 1
                else:
                    turn_misses.append(number)
        if not ok or turn_misses:
            self.misses.append(
                {
                    "id": conversation["id"],
                    "expect": conversation["expect"],
                    "turns": [
                        {
                            "text": turn["text"],
                            "action": answer.action,
                            "top": answer.kb_hits[0].id if answer.kb_hits else None,
                            "reply": " | ".join(answer.texts)[:160],
                        }
                        for turn, answer in zip(conversation["turns"], answers, strict=True)
                    ],
                    "ended_as_expected": ok,
                    "turn_misses": turn_misses,
                }
            )

    def report(self) -> dict[str, Any]:
        def rate(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        n = sum(self.total.values())
        return {
            "conversations": n,
            "ended_as_expected": rate(sum(self.ended.values()), n),
            "by_lang": {
                script: {
                    "n": self.total[script],
                    "ended_as_expected": rate(self.ended[script], self.total[script]),
                }
                for script in SCRIPTS
                if self.total[script]
            },
            "turn_expectations_met": rate(self.turns_met, self.turns_checked),
            "turn_expectations": self.turns_checked,
            "last_actions": dict(self.last_actions),
        }


def _check_expect(where: str, expect: Any) -> None:
    if not isinstance(expect, dict):
        raise ValueError(f"{where}: `expect` must be an object")
    wanted = expect.get("action")
    names = [wanted] if isinstance(wanted, str) else wanted
    if not names or not isinstance(names, list) or any(name not in ACTIONS for name in names):
        raise ValueError(f"{where}: `expect.action` must be one or a list of {', '.join(ACTIONS)}")


def read_conversations(path: Path) -> list[dict[str, Any]]:
    """Labelled conversations, one JSON object a line:
    `{"id", "lang": zh-Hans|zh-Hant|en|mixed, "turns": [{"text", "expect"?}], "expect":
    {"action", "id"?, "ticket_has"?}}`; errors name the line."""
    found = []
    for where, item in json_lines(path):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ValueError(f"{where}: needs a string `id`")
        if item.get("lang") not in SCRIPTS:
            raise ValueError(f"{where}: `lang` must be one of {', '.join(SCRIPTS)}")
        turns = item.get("turns")
        texts = [isinstance(t, dict) and isinstance(t.get("text"), str) for t in turns or []]
        if not texts or not all(texts):
            raise ValueError(f"{where}: `turns` must be a list of objects with a string `text`")
        _check_expect(where, item.get("expect"))
        for turn in turns or []:
            if "expect" in turn:
                _check_expect(where, turn["expect"])
        found.append(item)
    return found


async def evaluate_conversations(
    dialogue: DialogueEngine, items: list[dict[str, Any]], work: Path
) -> ConversationScores:
    """Run each conversation's turns, in order, as one sender, and score how it ends."""
    engine = create_engine(f"sqlite+aiosqlite:///{work / 'conversations.db'}")
    await migrate(engine)
    sessions = session_factory(engine)
    scores = ConversationScores()
    try:
        for number, item in enumerate(items):
            answers = []
            for index, turn in enumerate(item["turns"]):
                lang = "en" if item["lang"] == "en" else "zh"
                inbound = InboundMessage(
                    channel="evaluate",
                    sender_id=f"c{number}",
                    message_id=f"c{number}-{index}",
                    text=turn["text"],
                    lang=lang,
                )
                async with unit_of_work(sessions) as session:
                    answers.append(await dialogue.handle(session, inbound))
            scores.add(item, answers)
    finally:
        await engine.dispose()
    return scores


def build_dialogue(kb: Path, work: Path, *, nlu: bool = True) -> DialogueEngine:
    """The bot over the knowledge base at `kb` (indexed under `work`), as the service builds it;
    `nlu=False` leaves out the NLU model (phrase rules and the KB only)."""
    interpreter: Interpreter = (
        load_interpreter(nlu_model_dir(get_settings())) if nlu else NoInterpreter()
    )
    return DialogueEngine(
        knowledge=open_folder(kb, work / "index"),
        interpreter=interpreter,
        tickets=BotTicketDesk(load_policy(None)),
    )


@bot_app.command("evaluate")
def evaluate_command(
    kb: Path = typer.Option(..., "--kb", help="Knowledge base file or folder (kb-format.md)."),
    queries: Path | None = typer.Option(None, "--queries", help="Labelled queries, JSON lines."),
    conversations: Path | None = typer.Option(
        None, "--conversations", help="Labelled multi-turn conversations, JSON lines."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
    show_misses: bool = typer.Option(False, "--misses", help="List the queries it got wrong."),
    nlu: bool = typer.Option(
        True, help="Use the NLU model (--no-nlu: phrase rules and the KB only, the baseline)."
    ),
) -> None:
    """Score the bot: AI handling share, wrong answers, uncovered answered, hand-offs, repairs
    (--queries); or the share of conversations that end as expected (--conversations)."""
    if (queries is None) == (conversations is None):
        typer.echo("error: give one of --queries or --conversations", err=True)
        raise typer.Exit(2)
    try:
        labelled = read_queries(queries) if queries else []
        talks = read_conversations(conversations) if conversations else []
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    with tempfile.TemporaryDirectory(prefix="aftersales-eval-") as tmp:
        work = Path(tmp)
        try:
            dialogue = build_dialogue(kb, work, nlu=nlu)
        except KBValidationError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        if conversations is not None:
            talk_scores = asyncio.run(evaluate_conversations(dialogue, talks, work))
            report = talk_scores.report()
            if show_misses:
                report["misses"] = talk_scores.misses
        else:
            scores = asyncio.run(evaluate(dialogue, labelled, work))
            report = scores.report()
            if show_misses:
                report["misses"] = scores.misses
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    if conversations is not None:
        _print_conversations(report)
        return
    _print_table(report)


def _print_conversations(report: dict[str, Any]) -> None:
    typer.echo(f"{'conversations':<48} {report['conversations']}")
    typer.echo(f"{'ended as expected':<48} {report['ended_as_expected']}")
    for script, row in report["by_lang"].items():
        typer.echo(f"{'  ' + script:<48} {row['ended_as_expected']} (n={row['n']})")
    checked = report["turn_expectations"]
    typer.echo(f"{'turn expectations met':<48} {report['turn_expectations_met']} (n={checked})")
    typer.echo(f"{'last actions':<48} {json.dumps(report['last_actions'])}")
    for miss in report.get("misses", []):
        typer.echo(f"  miss: {json.dumps(miss, ensure_ascii=False)}")


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
