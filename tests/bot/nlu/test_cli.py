"""`aftersales nlu evaluate/train/parse` on small generated Rasa YAML files.

The `nlu` group is invoked directly, so these tests do not depend on the other groups.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from intake_api.cli.nlu import nlu_app

runner = CliRunner()


def test_evaluate_json_has_the_contract_fields(small_pair: tuple[Path, Path]) -> None:
    train, test = small_pair
    result = runner.invoke(
        nlu_app, ["evaluate", "--train", str(train), "--test", str(test), "--json"]
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    for key in ("intent_accuracy", "macro_f1", "oos_recall", "in_scope_accuracy", "n_test"):
        assert isinstance(scores[key], int | float), key
    assert scores["n_test"] == 6 and scores["n_oos"] == 2
    assert scores["intent_accuracy"] >= 0.5
    assert 0.0 <= scores["oos_recall"] <= 1.0


def test_evaluate_report_is_readable(small_pair: tuple[Path, Path]) -> None:
    train, test = small_pair
    result = runner.invoke(nlu_app, ["evaluate", "--train", str(train), "--test", str(test)])
    assert result.exit_code == 0, result.output
    assert "in-scope accuracy" in result.stdout and "oos recall" in result.stdout
    assert "precision" in result.stdout and "ask_fault" in result.stdout


def test_evaluate_on_a_folder_and_malformed_file(
    tmp_path: Path, small_pair: tuple[Path, Path]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("nlu:\n- intent: greet\n  examples: |\n    hello\n", encoding="utf-8")
    result = runner.invoke(
        nlu_app, ["evaluate", "--train", str(small_pair[0].parent), "--test", str(bad)]
    )
    assert result.exit_code == 1
    assert f"{bad}: nlu item 1 (intent 'greet')" in result.stderr
    assert "Traceback" not in result.output


def test_train_then_parse(tmp_path: Path, small_pair: tuple[Path, Path]) -> None:
    model = tmp_path / "model"
    trained = runner.invoke(nlu_app, ["train", "--data", str(small_pair[0]), "--model", str(model)])
    assert trained.exit_code == 0, trained.output
    assert (model / "metadata.json").is_file()
    parsed = runner.invoke(
        nlu_app,
        ["parse", "hello, E05 again", "--data", str(small_pair[0]), "--model", str(model)],
    )
    assert parsed.exit_code == 0, parsed.output
    result = json.loads(parsed.stdout)
    assert result["intent"]["name"] == "greet"
    assert [e["value"] for e in result["entities"]] == ["E05"]
