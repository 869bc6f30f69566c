"""The trained pipeline: Rasa parse shape, entities in context, persistence, retraining."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.nlu import (
    DEFAULT_DATA,
    Interpreter,
    Message,
    ModelError,
    PipelineError,
    TrainingData,
    default_pipeline,
    load_or_train,
    load_training_data,
    train,
)
from bot.nlu.evaluation import evaluate

# Measured on the held-out file when the data was written: 97.1 % intent accuracy (210 examples).
DOMAIN_ACCURACY_FLOOR = 0.93


def test_parse_has_the_rasa_shape(domain_interpreter: Interpreter) -> None:
    text = "我的BM-2显示E03，电话13800001234，紧急"
    parsed = domain_interpreter.parse(text)
    assert set(parsed) == {"text", "intent", "entities", "intent_ranking"}
    assert parsed["text"] == text
    assert set(parsed["intent"]) == {"name", "confidence"}
    assert 0.0 <= parsed["intent"]["confidence"] <= 1.0
    ranking = parsed["intent_ranking"]
    assert ranking[0]["name"] == parsed["intent"]["name"]
    assert [r["confidence"] for r in ranking] == sorted(
        (r["confidence"] for r in ranking), reverse=True
    )
    for entity in parsed["entities"]:
        assert {"entity", "value", "start", "end", "confidence", "extractor"} <= set(entity)
    assert {(e["entity"], e["value"]) for e in parsed["entities"]} >= {
        ("product", "BM-2"),
        ("alarm_code", "E03"),
        ("phone", "13800001234"),
        ("urgency", "high"),
    }
    json.dumps(parsed)  # JSON-ready: no numpy scalars


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("我的機器壞了，請派師傅來修", "request_repair"),
        ("工單T-000123現在什麼狀態", "check_status"),
        ("what's the weather in Paris tomorrow", "out_of_scope"),
        ("can I speak to a real person", "request_human"),
    ],
)
def test_intents_in_both_languages_and_scripts(
    domain_interpreter: Interpreter, text: str, intent: str
) -> None:
    assert domain_interpreter.parse(text)["intent"]["name"] == intent


def test_empty_text_has_no_intent(domain_interpreter: Interpreter) -> None:
    parsed = domain_interpreter.parse("   ")
    assert parsed["intent"] == {"name": None, "confidence": 0.0}
    assert parsed["entities"] == [] and parsed["intent_ranking"] == []


def test_low_confidence_is_rejected_to_out_of_scope(domain_interpreter: Interpreter) -> None:
    classifier = domain_interpreter.classifier
    name, confidence = classifier.decide([("greet", classifier.threshold_ - 0.01), ("thanks", 0.0)])
    assert name == "out_of_scope" and confidence > 0.5
    assert classifier.decide([("greet", classifier.threshold_ + 0.01)])[0] == "greet"
    assert 0.0 <= classifier.threshold_ <= classifier.max_threshold


def test_held_out_domain_accuracy(domain_interpreter: Interpreter, domain_test_data) -> None:
    report = evaluate(domain_interpreter, domain_test_data)
    assert report.n_test == len(domain_test_data.messages)
    assert report.intent_accuracy >= DOMAIN_ACCURACY_FLOOR, report.confusions


def test_one_text_is_read_exactly_as_in_a_batch(
    domain_interpreter: Interpreter, domain_test_data
) -> None:
    """A message's reading takes a numpy-only path (`features_row`, `rank_row`); its features
    and probabilities are the very numbers of the scikit-learn matrix path, to the last bit."""
    classifier = domain_interpreter.classifier
    assert classifier is not None
    texts = [m.text for m in domain_test_data.messages] + ["", "E03", "zzzz qqq"]
    for doc in domain_interpreter.documents(texts):
        matrix = domain_interpreter.features([doc])
        matrix.sort_indices()
        columns, values = domain_interpreter.features_row(doc)
        assert columns.tolist() == matrix.indices.tolist(), doc.text
        assert values.tolist() == matrix.data.tolist(), doc.text
        assert classifier.rank_row(columns, values) == classifier.rank(matrix)[0], doc.text


def test_one_text_of_a_two_intent_model_is_read_as_in_a_batch() -> None:
    """Two intents make a binary logistic model (one row of coefficients): the one-text path
    hands it to scikit-learn and reads the same probabilities."""
    greet = ["hello", "hi there", "good morning", "你好", "早上好", "hey"]
    broken = ["the pump is broken", "机器坏了", "it is leaking", "不加热了", "E03 again", "no heat"]
    data = TrainingData(messages=[Message(t, "greet") for t in greet])
    data.messages += [Message(t, "ask_fault") for t in broken]
    interpreter = train(data)
    assert interpreter.classifier is not None and interpreter.classifier.model is not None
    assert interpreter.classifier.model.coef_.shape[0] == 1
    for doc in interpreter.documents(["hello again", "机器又坏了", "zzz"]):
        expected = interpreter.classifier.rank(interpreter.features([doc]))[0]
        assert interpreter.classifier.rank_row(*interpreter.features_row(doc)) == expected


def test_persist_and_load_round_trip(tmp_path: Path, small_pair: tuple[Path, Path]) -> None:
    interpreter = train(load_training_data(small_pair[0]))
    folder = interpreter.persist(tmp_path / "model")
    loaded = Interpreter.load(folder)
    texts = ["hello", "机器坏了, QX-7 shows E03", "tell me a joke"]
    assert loaded.parse_batch(texts) == interpreter.parse_batch(texts)
    assert loaded.classifier.threshold_ == interpreter.classifier.threshold_


def test_load_or_train_retrains_only_when_the_data_changes(
    tmp_path: Path, small_pair: tuple[Path, Path]
) -> None:
    data = tmp_path / "data.yml"
    shutil.copy(small_pair[0], data)
    model = tmp_path / "model"
    first = load_or_train(model, [data])
    stamp = (model / "model.joblib").stat().st_mtime_ns
    assert load_or_train(model, [data]).fingerprint == first.fingerprint
    assert (model / "model.joblib").stat().st_mtime_ns == stamp
    data.write_text(
        data.read_text(encoding="utf-8") + "- intent: bye\n  examples: |\n    - bye\n    - 再见\n",
        encoding="utf-8",
    )
    again = load_or_train(model, [data])
    assert again.fingerprint != first.fingerprint
    assert "bye" in again.intent_names
    assert "bye" in Interpreter.load(model).intent_names


def test_loading_a_folder_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="holds no NLU model"):
        Interpreter.load(tmp_path)


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ([{"name": "NoSuchComponent"}], "unknown pipeline component 'NoSuchComponent'"),
        ([{"name": "CharTfidfFeaturizer", "colour": "red"}], "bad options for CharTfidfFeaturizer"),
        ([{"name": "LogisticRegressionIntentClassifier", "threshold": "high"}], "threshold"),
        ([{"name": "LogisticRegressionIntentClassifier"}], "needs at least one featurizer"),
    ],
)
def test_bad_pipelines_are_clear_errors(
    small_pair: tuple[Path, Path], pipeline: list[dict], message: str
) -> None:
    with pytest.raises(PipelineError, match=message):
        train(load_training_data(small_pair[0]), pipeline)


def test_default_data_is_the_bundled_folder() -> None:
    assert DEFAULT_DATA.is_dir() and any(DEFAULT_DATA.glob("*.yml"))
    assert default_pipeline("minilm")[1]["model"] == "minilm"


def test_each_value_is_reported_once(domain_interpreter: Interpreter) -> None:
    # E01 and "urgent" are also annotated in the training data (lookup) and found by rules
    entities = domain_interpreter.parse("our BM-2 shows E01 again, it's urgent")["entities"]
    assert [(e["entity"], e["value"]) for e in entities] == [
        ("product", "BM-2"),
        ("alarm_code", "E01"),
        ("urgency", "high"),
    ]
