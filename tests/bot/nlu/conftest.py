"""Fixtures: small Rasa YAML data written on the fly, and models trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu import DEFAULT_DATA, Interpreter, load_training_data, train
from bot.nlu.training_data import Message, dump_yaml

TEST_DATA = Path(__file__).resolve().parents[1] / "data" / "nlu_test.yml"

SMALL_INTENTS = {
    "greet": ["hello", "hi there", "good morning", "你好", "您好啊", "hey", "早上好"],
    "ask_fault": [
        "my machine shows an error",
        "the pump is broken",
        "机器坏了",
        "报警了怎么办",
        "it is leaking water",
        "不加热了",
        "strange noise from the motor",
    ],
    "out_of_scope": [
        "what is the weather",
        "tell me a joke",
        "今天天气怎么样",
        "讲个笑话",
        "who won the game",
        "play some music",
    ],
}


def write_small_pair(folder: Path) -> tuple[Path, Path]:
    """A tiny train/test pair of Rasa YAML files (trains in seconds)."""
    train_messages = [Message(t, i) for i, texts in SMALL_INTENTS.items() for t in texts]
    test_messages = [
        Message("hello again", "greet"),
        Message("你好呀", "greet"),
        Message("the machine is broken again", "ask_fault"),
        Message("机器又坏了", "ask_fault"),
        Message("what's the weather tomorrow", "out_of_scope"),
        Message("给我讲个笑话吧", "out_of_scope"),
    ]
    paths = folder / "train.yml", folder / "test.yml"
    paths[0].write_text(dump_yaml(train_messages), encoding="utf-8")
    paths[1].write_text(dump_yaml(test_messages), encoding="utf-8")
    return paths


@pytest.fixture(scope="session")
def small_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_small_pair(tmp_path_factory.mktemp("nlu-small"))


@pytest.fixture(scope="session")
def domain_interpreter() -> Interpreter:
    """The bundled after-sales model (trained once; several tests only read it)."""
    return train(load_training_data(DEFAULT_DATA))


@pytest.fixture(scope="session")
def domain_test_data():
    return load_training_data(TEST_DATA)
