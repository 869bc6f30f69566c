"""Reading Rasa NLU YAML: examples, annotations, synonyms, regexes, lookups, clear errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.nlu import DEFAULT_DATA, TrainingDataError, load_training_data
from bot.nlu.training_data import Message, dump_yaml, parse_annotated, parse_yaml

FULL = """
version: "3.1"
nlu:
- intent: ask_fault
  examples: |
    - my [BM-2](product) shows [E03](alarm_code)
    - [兩頭機]{"entity": "product", "value": "BM-2"} 报警
    - [bm two](product:BM-2) is broken
- intent: greet
  examples:
    - hello
    - text: hi there
- synonym: BM-3
  examples: |
    - 三头机
- regex: order_no
  examples: |
    - ORD\\d{6}
- lookup: city
  examples: |
    - Shanghai
    - 上海
"""


def test_intent_examples_with_annotations() -> None:
    data = parse_yaml(FULL)
    first, second, third = data.messages[:3]
    assert first == Message(
        "my BM-2 shows E03",
        "ask_fault",
        [
            {"entity": "product", "value": "BM-2", "start": 3, "end": 7},
            {"entity": "alarm_code", "value": "E03", "start": 14, "end": 17},
        ],
    )
    assert second.text == "兩頭機 报警"
    assert second.entities == [{"entity": "product", "value": "BM-2", "start": 0, "end": 3}]
    assert third.text == "bm two is broken" and third.entities[0]["value"] == "BM-2"


def test_list_examples_synonyms_regexes_lookups() -> None:
    data = parse_yaml(FULL)
    assert [m.text for m in data.messages if m.intent == "greet"] == ["hello", "hi there"]
    # annotation values that differ from the text become synonyms too
    assert data.synonyms == {"三头机": "BM-3", "兩頭機": "BM-2", "bm two": "BM-2"}
    assert data.regexes == [("order_no", r"ORD\d{6}")]
    assert data.lookups == {"city": ["Shanghai", "上海"]}
    assert data.intents == ["ask_fault", "greet"]


def test_folder_merges_files_and_skips_yaml_without_nlu(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(FULL, encoding="utf-8")
    nested = tmp_path / "more"
    nested.mkdir()
    (nested / "b.yaml").write_text(
        "nlu:\n- intent: bye\n  examples: |\n    - bye\n"
        "- lookup: city\n  examples: |\n    - 北京\n",
        encoding="utf-8",
    )
    (tmp_path / "domain.yml").write_text("responses:\n  utter_greet: []\n", encoding="utf-8")
    data = load_training_data(tmp_path)
    assert Counter(m.intent for m in data.messages) == {"ask_fault": 3, "greet": 2, "bye": 1}
    assert data.lookups["city"] == ["Shanghai", "上海", "北京"]


def test_dump_yaml_round_trips_annotations() -> None:
    messages = parse_yaml(FULL).messages
    again = parse_yaml(dump_yaml(messages)).messages
    assert again == messages


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("nlu:\n- intent: greet\n  examples: |\n    - hi\n   bad: [\n", "invalid YAML at line"),
        ("responses: {}\n", "has no top-level 'nlu:' list"),
        ("nlu: {greet: hi}\n", "'nlu' must be a list"),
        ("nlu:\n- hello\n", "nlu item 1: must be a mapping"),
        ("nlu:\n- examples: |\n    - hi\n", "needs exactly one of the keys"),
        ("nlu:\n- intent: greet\n", "nlu item 1 (intent 'greet'): has no 'examples'"),
        ("nlu:\n- intent: greet\n  examples: |\n    hi\n", "must start with '- '"),
        ("nlu:\n- intent: greet\n  examples: 3\n", "'examples' must be"),
        ("nlu:\n- regex: code\n  examples: |\n    - E(\\d+\n", "not a valid regular expression"),
        (
            'nlu:\n- intent: a\n  examples: |\n    - [x]{"entity": }\n',
            "(intent 'a'): annotation",
        ),
        ("nlu:\n- intent: a\n  examples: |\n    - [x]()\n", "unbalanced entity annotation"),
    ],
)
def test_malformed_files_name_file_and_item(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TrainingDataError) as error:
        load_training_data(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="no such file or folder"):
        load_training_data(tmp_path / "nope.yml")


def test_annotation_parser_keeps_plain_brackets() -> None:
    assert parse_annotated("press [OK] then wait") == ("press [OK] then wait", [])


def test_bundled_data_and_domain_agree() -> None:
    data = load_training_data(DEFAULT_DATA)
    domain = yaml.safe_load((DEFAULT_DATA.parent / "domain.yml").read_text(encoding="utf-8"))
    assert sorted(domain["intents"]) == data.intents
    for name, variants in domain["responses"].items():
        languages = {v["condition"][0]["value"] for v in variants}
        assert languages == {"zh", "en"}, name


def test_yes_and_no_intents_keep_their_names() -> None:
    # YAML 1.1 would read these names as booleans; Rasa (YAML 1.2) reads strings
    content = (
        "nlu:\n- intent: yes\n  examples: |\n    - yep\n- intent: no\n  examples: |\n    - nah\n"
    )
    data = parse_yaml(content)
    assert data.intents == ["no", "yes"]
    assert parse_yaml(dump_yaml(data.messages)).intents == ["no", "yes"]
