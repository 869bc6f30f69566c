"""`aftersales nlu ...`: train, try and evaluate the Rasa-compatible NLU model."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from bot.nlu import DEFAULT_DATA, NLUError, default_pipeline, load_or_train, train
from bot.nlu.evaluation import EvaluationReport, evaluate
from bot.nlu.training_data import load_training_data
from core.settings import get_settings
from knowledge_base.encoders import EncoderError

nlu_app = typer.Typer(
    help="Train, try and evaluate the NLU (Rasa YAML data).", no_args_is_help=True
)

ENCODER_HELP = "Sentence encoder for the NLU features (default: AFTERSALES_EMBEDDING_MODEL)."


def _fail(error: Exception) -> typer.Exit:
    typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
    return typer.Exit(1)


def _model_dir(model: Path | None) -> Path:
    return model or get_settings().data_dir / "nlu-model"


def _pipeline(encoder: str | None) -> list[dict]:
    return default_pipeline(encoder or get_settings().embedding_model)


@nlu_app.command("train")
def train_command(
    data: list[Path] = typer.Option(
        [DEFAULT_DATA], "--data", "-d", help="Rasa NLU YAML files or folders (repeatable)."
    ),
    model: Path | None = typer.Option(None, "--model", "-m", help="Model folder to write."),
    encoder: str | None = typer.Option(None, help=ENCODER_HELP),
) -> None:
    """Train the NLU model (skipped when the data and pipeline are unchanged)."""
    folder = _model_dir(model)
    started = time.perf_counter()
    try:
        interpreter = load_or_train(folder, data, _pipeline(encoder))
    except (NLUError, EncoderError) as exc:
        raise _fail(exc) from None
    classifier = interpreter.classifier  # None for a pipeline without one
    threshold = f"threshold {classifier.threshold_:.2f}, " if classifier is not None else ""
    typer.echo(
        f"model in {folder}: {len(interpreter.intent_names)} intents, "
        f"{threshold}{time.perf_counter() - started:.1f} s"
    )


@nlu_app.command("parse")
def parse_command(
    text: str = typer.Argument(..., help="The message to understand."),
    model: Path | None = typer.Option(None, "--model", "-m", help="Model folder."),
    data: list[Path] = typer.Option(
        [DEFAULT_DATA], "--data", "-d", help="Training data if the model must be (re)trained."
    ),
    encoder: str | None = typer.Option(None, help=ENCODER_HELP),
) -> None:
    """Print Rasa `/model/parse` JSON for TEXT."""
    try:
        interpreter = load_or_train(_model_dir(model), data, _pipeline(encoder))
        parsed = interpreter.parse(text)
    except (NLUError, EncoderError) as exc:
        raise _fail(exc) from None
    typer.echo(json.dumps(parsed, ensure_ascii=False, indent=2))


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _print_report(report: EvaluationReport) -> None:
    typer.echo(
        f"test examples {report.n_test} (out-of-scope {report.n_oos}); "
        f"threshold {report.threshold:.2f}\n"
        f"intent accuracy   {_percent(report.intent_accuracy)}\n"
        f"macro F1          {_percent(report.macro_f1)}\n"
        f"in-scope accuracy {_percent(report.in_scope_accuracy)}\n"
        f"oos recall        {_percent(report.oos_recall)}\n"
    )
    width = max(len(s.intent) for s in report.per_intent)
    typer.echo(f"{'intent':<{width}}  precision  recall     f1  support")
    for s in report.per_intent:
        typer.echo(
            f"{s.intent:<{width}}  {s.precision:9.3f}  {s.recall:6.3f}  {s.f1:5.3f}  {s.support:7d}"
        )
    if report.confusions:
        typer.echo("\ntop confusions (true -> predicted: count)")
        for truth, predicted, count in report.confusions:
            typer.echo(f"  {truth} -> {predicted}: {count}")
    typer.echo("\nseconds: " + ", ".join(f"{k} {v}" for k, v in report.seconds.items()))


@nlu_app.command("evaluate")
def evaluate_command(
    train_path: Path = typer.Option(
        ..., "--train", help="Rasa NLU YAML file or folder to train on."
    ),
    test_path: Path = typer.Option(..., "--test", help="Rasa NLU YAML file or folder to score on."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
    encoder: str | None = typer.Option(None, help=ENCODER_HELP),
) -> None:
    """Train on --train, score intents on --test (out_of_scope examples give oos recall)."""
    try:
        training = load_training_data(train_path)
        test = load_training_data(test_path)
        started = time.perf_counter()
        interpreter = train(training, _pipeline(encoder))
        trained = time.perf_counter() - started
        report = evaluate(interpreter, test)
    except (NLUError, EncoderError) as exc:
        raise _fail(exc) from None
    report.seconds = {"train": round(trained, 2), **report.seconds}
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_report(report)
