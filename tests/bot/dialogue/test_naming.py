"""Naming the equipment across turns: a code several models share is asked about, a model is
named by the words of its name, the model answered for stays, and a model alone is no fault
report (tests/bot/dialogue/kb_naming.yaml: two boilers and a deaerator sharing E10)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.frame import Frame, FrameReader
from bot.dialogue.knowledge import ServiceKnowledge, open_folder
from bot.dialogue.naming import ProductNames
from bot.dialogue.policy import decide, decide_by_code, only_the_model
from bot.dialogue.ports import Candidate, Mentions
from bot.dialogue.prompts import DialogueTexts
from tests.bot.dialogue.conftest import Say, engine, saying

KB_FILE = Path(__file__).with_name("kb_naming.yaml")


@pytest.fixture(scope="module")
def boilers(tmp_path_factory: pytest.TempPathFactory) -> ServiceKnowledge:
    return open_folder(KB_FILE, tmp_path_factory.mktemp("naming-index"))


@pytest.fixture
def say(boilers: ServiceKnowledge, sessions: async_sessionmaker[AsyncSession]) -> Say:
    return saying(engine(boilers), sessions)


def _names() -> ProductNames:
    texts = {
        "PW-3": ["PW-3 3吨 立式蒸汽锅炉", "PW-3 3 t vertical steam boiler", "steam boilers"],
        "PW-9": ["PW-9 9吨 卧式蒸汽锅炉", "PW-9 9 t horizontal steam boiler", "steam boilers"],
        "SF-1": ["SF-1 热力除氧器", "SF-1 thermal deaerator", "water treatment"],
    }
    kinds = {"PW-3": {"蒸汽锅炉", "boiler"}, "PW-9": {"蒸汽锅炉", "boiler"}, "SF-1": {"除氧器"}}
    return ProductNames(texts, ["PW-3", "PW-9", "SF-1"], kinds, frozenset({"unit"}))


def test_a_number_of_one_products_model_points_to_it() -> None:
    """ "the 350 pulse one": 350 is the VM-350P's alone, though both names say "pulse"; a
    number glued to letters is a code or a model number, read elsewhere."""
    texts = {
        "VM-350P": ["VM-350P 350 A pulse MIG welder", "VM350P"],
        "VT-315AC": ["VT-315AC 315 A pulse TIG welder", "VT315"],
    }
    names = ProductNames(texts, ["VM-350P", "VM350P", "VT-315AC", "VT315"], {})
    both = ["VM-350P", "VT-315AC"]
    assert names.named("the 350 pulse one", both) == {"VM-350P"}
    assert names.named("315那台", both) == {"VT-315AC"}
    assert names.named("the pulse one", both) == frozenset()
    assert names.named("shows e350", both) == frozenset()


def test_words_of_one_products_name_point_to_it() -> None:
    names = _names()
    both = ["PW-3", "PW-9"]
    assert names.named("卧式9吨那台", both) == {"PW-9"}
    assert names.named("the horizontal one", both) == {"PW-9"}
    assert names.named("3 t", both) == {"PW-3"}
    assert names.named("9噸嗰部", both) == {"PW-9"}  # one rating, however its unit is written
    # Words both boilers' names use point to neither; two words pointing apart, to none.
    assert names.named("蒸汽锅炉", both) == frozenset()
    assert names.named("立式还是卧式", both) == frozenset()
    # Against every product only the kinds of equipment count: 除氧器 names the deaerator,
    # 立式 (a word of a name, no kind) names nothing there.
    assert names.named("是除氧器报的") == {"SF-1"}
    assert names.named("立式那台") == frozenset()
    assert names.named("9吨那台出问题了") == {"PW-9"}  # a rating is no fault's word


def test_a_rating_in_litres_names_the_model_in_any_spelling() -> None:
    texts = {
        "SV-18": ["SV-18 台式蒸汽灭菌器（18升B类）"],
        "SV-23": ["SV-23 台式蒸汽灭菌器（23升B类）"],
    }
    kinds = {"SV-18": {"蒸汽灭菌器"}, "SV-23": {"蒸汽灭菌器"}}
    names = ProductNames(texts, ["SV-18", "SV-23"], kinds)
    both = ["SV-18", "SV-23"]
    for text, model in (
        ("大的那台，23升的", "SV-23"),
        ("18公升嗰部", "SV-18"),
        ("the 18L", "SV-18"),
    ):
        assert names.named(text, both) == {model}, text


def test_a_kind_written_with_the_other_machine_ending_names_neither_model() -> None:
    """ "软水机" is the kind of both a "双罐软水机" and an "工业软水器": it names neither, while
    a word only one name has still names that one."""
    texts = {"SF-30": ["SF-30 双罐软水机"], "SF-90": ["SF-90 工业软水器"]}
    kinds = {"SF-30": {"双罐软水机", "软水机"}, "SF-90": {"工业软水器", "软水器"}}
    names = ProductNames(texts, ["SF-30", "SF-90"], kinds)
    both = ["SF-30", "SF-90"]
    assert names.named("软水机报警了") == frozenset()
    assert names.named("软水器报警了", both) == frozenset()
    assert names.named("工业用的那台大的", both) == {"SF-90"}


def test_words_pick_one_of_the_models_the_frame_holds(boilers: ServiceKnowledge) -> None:
    texts, words = DialogueTexts.load(), boilers.own_words()
    reader = FrameReader(texts, boilers.mentions, words, named=boilers.named_products)
    frame = Frame(products=["PW-3", "PW-9"])
    reader.update(frame, "卧式的那台")
    assert frame.products == ["PW-9"]


def test_a_code_of_several_models_is_asked_about_even_when_one_item_leads() -> None:
    hits = [
        Candidate("F-PW3-E10", "fault", 1.0, products=("PW-3",), codes=("E10",), confidence=0.9),
        Candidate("F-PW9-E10", "fault", 0.7, products=("PW-9",), codes=("E10",), confidence=0.3),
    ]
    asked = decide(hits, Mentions(codes=frozenset({"E10"})), 0.3, 0.5)
    assert (asked.kind, asked.facet, asked.options) == ("clarify", "products", ("PW-3", "PW-9"))
    named = Mentions(products=frozenset({"PW-3"}), codes=frozenset({"E10"}))
    assert decide(hits, named, 0.3, 0.5).item == hits[0]  # the model is named: no question


def test_a_model_with_no_code_is_no_answer_when_its_faults_are_equally_close() -> None:
    slow = Candidate("F-PW3-slow", "fault", 0.54, products=("PW-3",), confidence=0.8)
    e20 = Candidate("F-PW3-E20", "fault", 0.50, products=("PW-3",), codes=("E20",))
    model = Mentions(products=frozenset({"PW-3"}))
    assert only_the_model([slow, e20], model, 0.3)
    assert not only_the_model([slow, replace(e20, score=0.3)], model, 0.3)  # the words pick
    assert not only_the_model([slow, e20], Mentions(), 0.3)  # no model: "which model?" first


async def test_which_model_is_answered_by_the_words_of_its_name(say: Say) -> None:
    first = await say("锅炉报E10了，水位计看不到水", sender="a")
    assert first.action == "clarify"
    chosen = await say("卧式9吨那台", sender="a")
    assert chosen.action == "answer" and chosen.kb_hits[0].id == "F-PW9-E10"


async def test_the_equipment_chosen_by_words_also_names_its_model(say: Say) -> None:
    """To "which equipment?" (lines as options) "卧式那台锅炉" picks the boilers' line by its
    words and, among its models, the horizontal one: the code is then asked for that model."""
    first = await say("机器报警了", sender="e")
    assert first.action == "clarify"
    assert "1. 蒸汽锅炉 (PW-3 / PW-9)" in first.texts[0]  # whole words the names share
    second = await say("卧式那台锅炉", sender="e")
    assert "PW-9" in second.texts[-1] and "PW-3" not in second.texts[-1]
    third = await say("E10", sender="e")
    assert (third.action, third.kb_hits[0].id) == ("answer", "F-PW9-E10")


async def test_the_model_a_reply_names_wins_over_words_of_another_options_label(say: Say) -> None:
    """To "which equipment?" "热力那台，在蒸汽锅炉房" shares 蒸汽锅炉 with the boilers' option, but
    names the deaerator (热力 is its word alone): its option, and its E10."""
    assert (await say("机器报警了", sender="f")).action == "clarify"
    await say("热力那台，在蒸汽锅炉房", sender="f")
    third = await say("E10", sender="f")
    assert (third.action, third.kb_hits[0].id) == ("answer", "F-SF1-E10")


async def test_after_a_solved_problem_a_shared_code_asks_which_model(say: Say) -> None:
    """ "解决了" closes the PW-3's problem; "another thing, E20" (both boilers' code) may be
    the other boiler: which one is asked, not the PW-3's E20 assumed."""
    assert (await say("PW-3报E30", sender="g")).kb_hits[0].id == "F-PW3-E30"
    assert (await say("解决了", sender="g")).action == "smalltalk"
    assert (await say("another thing, E20", sender="g")).action == "clarify"


async def test_a_correction_names_the_model_by_its_kind(say: Say) -> None:
    await say("PW-3报E10", sender="b")
    moved = await say("说错了，是除氧器", sender="b")
    assert moved.action == "answer" and moved.kb_hits[0].id == "F-SF1-E10"


async def test_the_model_answered_for_stays_for_the_next_code(say: Say) -> None:
    first = await say("E30 报警", sender="c")  # E30 is the PW-3's alone
    assert first.kb_hits[0].id == "F-PW3-E30"
    corrected = await say("不是E30，是E20", sender="c")  # E20: both boilers
    assert corrected.action == "answer" and corrected.kb_hits[0].id == "F-PW3-E20"
    other = await say("sorry, wrong unit, its the other model", sender="c")
    assert other.action == "clarify"  # the model is taken back: which one, then?


async def test_a_correction_after_a_dash_names_the_right_model(say: Say) -> None:
    first = await say("PW-3 shows E20", sender="e")
    assert first.kb_hits[0].id == "F-PW3-E20"
    moved = await say("sorry, wrong unit - it is the PW-9", sender="e")
    assert moved.action == "answer" and moved.kb_hits[0].id == "F-PW9-E20"


async def test_a_model_alone_is_no_fault_report(say: Say) -> None:
    """ "boiler trouble" → "PW-3": the bot asks for the code or what they see, then answers
    the code for the model given."""
    first = await say("my boiler is not right", sender="d")
    assert first.action == "clarify"  # which model?
    model = await say("PW-3", sender="d")
    assert model.action == "clarify"  # not the fault without a code that scored best
    code = await say("E20", sender="d")
    assert code.action == "answer" and code.kb_hits[0].id == "F-PW3-E20"


def test_a_code_written_in_mixed_case_is_one_the_customer_can_name(tmp_path: Path) -> None:
    """The KB writes "Err 12"; the customer "ERR12" or "err 12". The item carries the code as
    the matcher spells it, so the two compare equal and the code picks its item."""
    kb = yaml.safe_load(KB_FILE.read_text(encoding="utf-8"))
    kb["faults"][0]["codes"] = ["Err 12"]
    path = tmp_path / "kb.yaml"
    path.write_text(yaml.safe_dump(kb, allow_unicode=True), encoding="utf-8")
    knowledge = open_folder(path, tmp_path / "index")
    named = knowledge.mentions("ERR12 again")
    hits = knowledge.search("PW-3 err 12", "en", 5)
    picked = decide_by_code(hits, named)
    assert picked is not None and picked.item is not None
    assert picked.item.id == kb["faults"][0]["id"] and set(picked.item.codes) == named.codes


async def test_a_reply_that_picks_the_equipment_and_says_what_is_wrong_keeps_it(say: Say) -> None:
    """To "which equipment?" "蒸汽锅炉，点火后一会儿就灭" picks the boilers and says what is
    wrong: the model named next is answered with that, not asked for its code."""
    assert (await say("机器报警了", sender="h")).action == "clarify"
    await say("蒸汽锅炉，点火后一会儿就灭", sender="h")
    third = await say("PW-9", sender="h")
    assert (third.action, third.kb_hits[0].id) == ("answer", "F-PW9-E10")


async def test_a_reply_naming_the_model_and_its_code_keeps_the_code(say: Say) -> None:
    """To "which equipment?" "卧式那台，报E20" picks the PW-9 by its words and reads out the
    code: the code stays in the frame, so what the customer adds next is searched with it, not
    asked for again."""
    assert (await say("机器报警了", sender="j")).action == "clarify"
    assert (await say("卧式那台，报E20", sender="j")).kb_hits[0].id == "F-PW9-E20"
    third = await say("面板上还有个灯一直在闪", sender="j")
    assert (third.action, third.kb_hits[0].id) == ("answer", "F-PW9-E20")


async def test_which_code_is_not_asked_twice(say: Say) -> None:
    """To "which code: E30 / E20?" "no idea, it is just too high" names none: the same question
    again would loop, so the items are offered by what they are ("did you mean …?")."""
    first = await say("PW-3 过高", sender="k")
    assert "E30" in first.texts[0] and "E20" in first.texts[0]
    second = await say("no idea, it is just too high", sender="k")
    assert second.action == "clarify" and second.texts[0] != first.texts[0]
    assert second.kb_hits[0].id == "F-PW3-E30" and "Flue gas" in second.texts[0]


@pytest.mark.parametrize("reply", ["不知道型号", "唔知咩型號", "not sure which one, sorry"])
async def test_not_knowing_the_model_is_no_dead_end(say: Say, reply: str) -> None:
    """To "which equipment?" "不知道型号": the customer is asked what they see or which code,
    and told where the model is written, not "I cannot answer that"."""
    assert (await say("机器坏了", sender="m")).action == "clarify"
    turn = await say(reply, sender="m")
    assert turn.action == "clarify"
    assert "铭牌" in turn.texts[0] or "銘牌" in turn.texts[0] or "nameplate" in turn.texts[0]


async def test_a_kind_named_narrows_which_equipment_to_its_models(say: Say) -> None:
    """ "蒸汽锅炉坏了" names the boilers' kind: which model is asked (PW-3 or PW-9), not which
    kind of equipment among every line; the pick then asks what the model shows."""
    first = await say("蒸汽锅炉坏了", sender="n")
    assert first.action == "clarify" and "PW-3" in first.texts[0] and "PW-9" in first.texts[0]
    assert "SF-1" not in first.texts[0]
    second = await say("2", sender="n")
    assert second.action == "clarify" and "PW-9" in second.texts[0]


async def test_a_reply_that_cannot_read_the_code_is_asked_what_it_sees(say: Say) -> None:
    """To "which code: E30 / E20?" "面板看不清楚" gives neither: what the customer sees is asked
    for, not "I cannot answer"."""
    assert "E30" in (await say("PW-3 过高", sender="i")).texts[0]
    second = await say("面板看不清楚", sender="i")
    assert second.action == "clarify" and "PW-3" in second.texts[0]


def test_a_kind_of_equipment_names_every_product_of_that_kind() -> None:
    """ "蒸汽锅炉" is both boilers' kind: it names no one model, but says which products the
    customer speaks of; a text naming no kind, or every product's, says nothing."""
    names = _names()
    assert names.of_kind("蒸汽锅炉的操作培训怎么报名") == {"PW-3", "PW-9"}
    assert names.of_kind("除氧器要多久保养一次") == {"SF-1"}
    assert names.of_kind("设备坏了") == frozenset()
    assert names.of_kind("蒸汽锅炉和除氧器都要保养") == frozenset()


def test_a_word_only_one_lines_names_use_names_that_line() -> None:
    """ "deaerator" alone is no kind (English needs two words), but only the water treatment
    line's names use it; "steam" both lines' texts use ("steam boilers", a deaerator's steam)
    names neither."""
    texts = {
        "PW-3": ["PW-3 vertical steam boiler", "steam boilers"],
        "PW-9": ["PW-9 horizontal steam boiler", "steam boilers"],
        "SF-1": ["SF-1 steam deaerator", "water treatment"],
    }
    lines = {"PW-3": "steam boilers", "PW-9": "steam boilers", "SF-1": "water treatment"}
    names = ProductNames(texts, list(texts), {}, lines=lines)
    assert names.of_kind("is the deaerator covered by warranty") == {"SF-1"}
    assert names.of_kind("how often should the boiler be serviced") == {"PW-3", "PW-9"}
    assert names.of_kind("steam leaks everywhere") == frozenset()


LASERS = """
version: 1
products:
  - {id: LZ-30, name: {zh: LZ-30 光纤激光切割机, en: LZ-30 fiber laser cutter}, line: lasers}
  - {id: LZ-60, name: {zh: LZ-60 大幅面激光切割机, en: LZ-60 large laser cutter}, line: lasers}
faqs:
  - id: FAQ-LZ-training
    questions: {zh: [激光切割机培训课程], en: [laser cutter training course]}
    answer: {zh: 激光切割机验收时免费培训一天。, en: One day of training at handover.}
    category: training
"""


async def test_an_faq_of_another_line_does_not_answer_a_kind_named(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A KB of two files: the boilers' training FAQ is worded just like the customer's
    question, but the customer speaks of the laser: the boilers' FAQ is about boilers alone."""
    kb = yaml.safe_load(KB_FILE.read_text(encoding="utf-8"))
    kb["faqs"].append(
        {
            "id": "FAQ-boiler-training",
            "questions": {"zh": ["有没有人来教我们操作"], "en": ["do you train our operators"]},
            "answer": {"zh": "司炉工培训每季度一期。", "en": "Courses run quarterly."},
            "category": "training",
        }
    )
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "boilers.yaml").write_text(yaml.safe_dump(kb, allow_unicode=True), "utf-8")
    (folder / "lasers.yaml").write_text(LASERS, "utf-8")
    knowledge = open_folder(folder, tmp_path / "index")
    say = saying(engine(knowledge), sessions)
    asked = await say("买了你们的激光切割机，有没有人来教我们操作")
    assert not asked.kb_hits or asked.kb_hits[0].id != "FAQ-boiler-training"
    assert "FAQ-boiler-training" not in {hit.id for hit in asked.kb_hits}
    boilers = await say("蒸汽锅炉有没有人来教我们操作", sender="bob")
    assert boilers.action == "answer" and boilers.kb_hits[0].id == "FAQ-boiler-training"


async def test_one_lines_faq_beside_the_companys_asks_which_equipment(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The boilers have a hotline of their own, the company one for everything: asked with no
    equipment named, the bot asks which equipment, and each line gets its own answer."""
    kb = yaml.safe_load(KB_FILE.read_text(encoding="utf-8"))
    hours = {"zh": "锅炉热线周日也有人值班。", "en": "The boiler hotline is staffed on Sundays."}
    kb["faqs"] += [
        {
            "id": "FAQ-boiler-hotline",
            "questions": {"en": ["is the support hotline open on Sundays"]},
            "answer": hours,
            "category": "other",
            "products": ["PW-3", "PW-9"],
        },
        {
            "id": "FAQ-service-hours",
            "questions": {"en": ["what are your support hours"]},
            "answer": {"zh": "客服每天 8:00–20:00。", "en": "Support works 8:00 to 20:00."},
            "category": "consulting",
        },
    ]
    path = tmp_path / "kb.yaml"
    path.write_text(yaml.safe_dump(kb, allow_unicode=True), encoding="utf-8")
    say = saying(engine(open_folder(path, tmp_path / "index")), sessions)
    asked = await say("is your support open on Sundays?")
    assert asked.action == "clarify" and "deaerator" in asked.replies[0].text
    boilers = await say("1")
    assert boilers.action == "answer" and boilers.kb_hits[0].id == "FAQ-boiler-hotline"
    await say("is your support open on Sundays?", sender="bob")
    deaerator = await say("deaerator", sender="bob")
    assert deaerator.action == "answer" and deaerator.kb_hits[0].id == "FAQ-service-hours"


async def test_one_lines_kind_before_another_lines_name_keeps_both_in_scope(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """ "激光切割机的除氧器": the words name the deaerator and the laser's kind; the deaerator
    may be the laser's own, so neither line's FAQs are left out and none is the model."""
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "boilers.yaml").write_text(KB_FILE.read_text(encoding="utf-8"), "utf-8")
    (folder / "lasers.yaml").write_text(LASERS, "utf-8")
    knowledge = open_folder(folder, tmp_path / "index")
    alone = knowledge.mentions("除氧器多久保养")
    assert alone.products == {"SF-1"}  # one line's name alone: its product
    both = knowledge.mentions("激光切割机的除氧器多久保养")
    assert both.products == frozenset()
    assert {"LZ-30", "LZ-60", "SF-1"} <= both.kinds
    # The kind of the named product's own line says no more than the name: "9吨那台蒸汽锅炉".
    assert knowledge.mentions("9吨那台蒸汽锅炉坏了").products == {"PW-9"}
