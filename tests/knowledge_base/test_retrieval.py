"""What kind of question a text asks: how closely it asks an FAQ's own question (the weighted
words its questions use), and whether it asks for a specification."""

from __future__ import annotations

import pytest

from knowledge_base.index import KnowledgeIndex, documents, product_aliases
from knowledge_base.retrieval import (
    asks_for_specification,
    names_any,
    question_match,
    says_no_alarm,
    word_weights,
)
from tests.knowledge_base.test_index import CountingEncoder, small_kb

QUESTIONS = ["保修期多久", "how long is the warranty"]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeIndex:
    kb = small_kb()
    index = KnowledgeIndex.open(tmp_path_factory.mktemp("idx") / "index", CountingEncoder())
    index.sync(documents(kb), product_aliases(kb))
    return index


def test_asking_what_the_faq_asks_matches_fully(index: KnowledgeIndex) -> None:
    assert question_match(index, "how long is the warranty?", QUESTIONS) == pytest.approx(1.0)
    assert question_match(index, "保修期多久", QUESTIONS) == pytest.approx(1.0)


def test_cantonese_matches_through_its_mandarin_words(index: KnowledgeIndex) -> None:
    assert question_match(index, "保用期幾耐", QUESTIONS) > 0.5


def test_words_only_the_answer_uses_do_not_match(index: KnowledgeIndex) -> None:
    """The answer says "two years on the unit"; the question asks nothing the FAQ asks."""
    assert question_match(index, "two units", QUESTIONS) == 0.0


def test_a_word_no_item_uses_weighs_more_than_a_common_one(index: KnowledgeIndex) -> None:
    weights = word_weights(index, ["运行", "trailer"])
    assert weights["trailer"] > weights["运行"]
    # "knocking" is the question's word, "trailer" no item's: half the words, under half the
    # weight.
    assert question_match(index, "knocking trailer", ["why is it knocking"]) < 0.5


@pytest.mark.parametrize(
    "text",
    [
        "制冰机的冰块尺寸是多大",
        "外形尺寸是多少，多重",
        "最大能举多高",
        "貨𨋢可以載幾重",
        "How heavy is the unit?",
        "what are the dimensions of the COM-6, how much does it weigh",
        "what's the noise level of the WX-60 in dB(A) at full spin",
        "满载运行噪音有多少分贝",
        "这台机功率多大，耗电量是多少",
        "how much power does the dryer draw",
    ],
)
def test_a_size_or_weight_asked_for_is_a_specification(text: str) -> None:
    assert asks_for_specification(text)


@pytest.mark.parametrize(
    "text",
    [
        "零件尺寸差了两三丝",
        "排气温度多高会报警",
        "出现多重报警",
        "the ice cubes come out small",
        "the part dimensions are off and the load weight reading is wrong",
        "making a loud noise at full spin",
        "甩干的时候噪音很大",
        "the power keeps tripping when the dryer heats",
    ],
)
def test_a_fault_report_about_sizes_or_heat_is_not_one(text: str) -> None:
    assert not asks_for_specification(text)


def test_a_component_is_named_by_its_chinese_alias_or_its_english_words() -> None:
    names = ["门架与起升油缸", "门架", "mast", "drive motor"]
    assert names_any("貨叉舉起來，門架往前傾", names)
    assert names_any("the drive motor gets hot", names)
    assert not names_any("the motor gets hot", names)
    assert not names_any("masterclass", names)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("mould temperature keeps drifting up and down by 8 degrees, no alarm at all", True),
        ("没有报警，但是温度一直上不去", True),
        ("部機冇報警，但係成日停", True),
        ("不报警也不动", True),
        ("没有报警代码吗", False),
        ("what does no code mean", False),
        ("显示A110报警", False),
    ],
)
def test_saying_no_alarm_shows(text: str, says: bool) -> None:
    """The customer says no alarm or code shows; asking whether there is one is not that."""
    assert says_no_alarm(text) is says
