"""Answer assembly from the graph, in zh, zh-Hant and en."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge_base.answers import assemble_answer, normalize_lang
from knowledge_base.errors import UnknownItemError
from knowledge_base.graph import KnowledgeGraph
from knowledge_base.loader import parse_documents, read_knowledge_base

KB = """
version: 1
products:
  - id: AC-300
    name: {zh: AC-300 螺杆空压机, en: AC-300 screw air compressor}
    aliases: [AC300]
parts:
  - id: P-FILTER
    name: {zh: 空气滤芯, en: air filter element}
    sku: "300-AF-01"
solutions:
  - id: S-clean
    title: {zh: 清洁空气滤芯, en: Clean the air filter}
    steps:
      zh: [停机并断电, 取出滤芯吹净]
      en: [Stop the unit and isolate power, Remove the element and blow it clean]
    parts: [P-FILTER]
    safety: {zh: 先断电再打开机壳, en: Isolate power before opening the casing}
  - id: S-replace-valve
    title: {zh: 更换进气阀, en: Replace the intake valve}
    steps: {zh: [拆下旧阀, 装上新阀]}
    requires_engineer: true
  - id: S-check-setting
    title: {en: Check the pressure setting}
    steps: [Open the settings menu, Set the unload pressure to 8 bar]
causes:
  - id: C-rare
    text: {zh: 罕见原因, en: Rare cause}
    likelihood: 0.1
  - id: C-unknown-odds
    text: {zh: 未知概率, en: Unknown odds}
  - id: C-valve
    text: {zh: 进气阀卡住, en: Intake valve stuck}
    solutions: [S-replace-valve]
    likelihood: 0.3
  - id: C-filter
    text: {zh: 空气滤芯堵塞, en: Clogged air filter}
    solutions: [S-clean, S-replace-valve]
    likelihood: 0.6
  - id: C-setting
    text: {zh: 压力设定过低, en: Pressure set too low}
    solutions: [S-check-setting]
    likelihood: 0.3
faults:
  - id: F-E03
    title: {zh: 排气压力低（E03）, en: Low discharge pressure (E03)}
    symptoms: {zh: [压力上不去], en: [pressure will not build up]}
    products: [AC-300]
    codes: [E03]
    causes: [C-rare, C-unknown-odds, C-valve, C-filter, C-setting]
    solutions: [S-check-setting]
  - id: F-diy
    title: {zh: 滤芯脏, en: Dirty filter}
    symptoms: [filter is dirty]
    causes: [C-filter]
    solutions: [S-check-setting]
  - id: F-critical
    title: Motor smoking
    symptoms: [smoke]
    severity: critical
  - id: F-hazard
    title: Oil leak near hot parts
    symptoms: [oil]
    safety_hazard: true
faqs:
  - id: FAQ-warranty
    questions: {zh: [保修期多久], en: [how long is the warranty]}
    answer: {zh: 整机保修两年，易损件三个月。, en: Two years on the unit.}
  - id: FAQ-tw
    questions: [保養週期是多久]
    answer: {zh: 保养周期为两千小时。, zh-Hant: 保養週期為兩千小時（台灣版）。}
"""


@pytest.fixture
def graph() -> KnowledgeGraph:
    return KnowledgeGraph(parse_documents([("kb", yaml.safe_load(KB))]))


def test_causes_by_likelihood_then_listed_order(graph: KnowledgeGraph) -> None:
    answer = assemble_answer(graph, "F-E03", "en")
    assert [c.id for c in answer.causes] == [
        "C-filter",
        "C-valve",
        "C-setting",
        "C-rare",
        "C-unknown-odds",
    ]


def test_solutions_in_preference_order_with_steps_and_parts(graph: KnowledgeGraph) -> None:
    answer = assemble_answer(graph, "F-E03", "en")
    filter_cause = answer.causes[0]
    assert [s.id for s in filter_cause.solutions] == ["S-clean", "S-replace-valve"]
    clean = filter_cause.solutions[0]
    assert clean.steps == [
        "Stop the unit and isolate power",
        "Remove the element and blow it clean",
    ]
    assert [(p.name, p.sku) for p in clean.parts] == [("air filter element", "300-AF-01")]
    assert [s.id for s in answer.solutions] == ["S-check-setting"]
    assert answer.safety_notes == ["Isolate power before opening the casing"]
    assert answer.codes == ["E03"] and answer.products == ["AC-300 screw air compressor"]


def test_rendered_text_is_numbered_and_names_parts(graph: KnowledgeGraph) -> None:
    text = assemble_answer(graph, "F-E03", "en").text
    lines = text.splitlines()
    assert lines[0] == "Low discharge pressure (E03)"
    assert "1. Stop the unit and isolate power" in lines
    assert "2. Remove the element and blow it clean" in lines
    assert "Parts: air filter element (SKU 300-AF-01)" in lines
    assert "Possible cause 1: Clogged air filter" in lines
    assert any(line.startswith("Other possible causes:") and "Rare cause" in line for line in lines)
    assert lines[-1] == "This needs a service engineer; we can arrange a visit."


@pytest.mark.parametrize(
    "fault_id",
    ["F-E03", "F-diy", "F-critical", "F-hazard"],  # a solution needs one; critical; hazard
)
def test_engineer_needed_when_a_solution_or_the_fault_says_so(
    graph: KnowledgeGraph, fault_id: str
) -> None:
    assert assemble_answer(graph, fault_id, "en").engineer_needed is True


def test_no_engineer_for_a_do_it_yourself_fault() -> None:
    graph = KnowledgeGraph(
        parse_documents(
            [
                (
                    "kb",
                    {
                        "version": 1,
                        "solutions": [{"id": "S1", "title": "Wipe", "steps": ["Wipe it"]}],
                        "faults": [
                            {
                                "id": "F1",
                                "title": "Dusty",
                                "symptoms": ["dust"],
                                "solutions": ["S1"],
                            }
                        ],
                    },
                )
            ]
        )
    )
    answer = assemble_answer(graph, "F1", "en")
    assert answer.engineer_needed is False
    assert "engineer" not in answer.text


def test_hazard_is_said_first(graph: KnowledgeGraph) -> None:
    answer = assemble_answer(graph, "F-hazard", "zh")
    assert answer.safety_hazard
    assert answer.text.splitlines()[1].startswith("存在安全隐患")


def test_chinese_answer(graph: KnowledgeGraph) -> None:
    answer = assemble_answer(graph, "F-E03", "zh")
    assert answer.title == "排气压力低（E03）"
    assert answer.causes[0].text == "空气滤芯堵塞"
    assert "1. 停机并断电" in answer.text.splitlines()
    assert "所需配件：空气滤芯（编号 300-AF-01）" in answer.text.splitlines()


def test_traditional_answer_is_converted_from_simplified(graph: KnowledgeGraph) -> None:
    answer = assemble_answer(graph, "F-E03", "zh-Hant")
    assert answer.lang == "zh-Hant"
    assert answer.title == "排氣壓力低（E03）"
    assert answer.causes[0].text == "空氣濾芯堵塞"
    assert "1. 停機並斷電" in answer.text.splitlines()
    assert "所需配件：空氣濾芯（編號 300-AF-01）" in answer.text.splitlines()


def test_traditional_text_in_the_kb_is_preferred_over_conversion(graph: KnowledgeGraph) -> None:
    assert assemble_answer(graph, "FAQ-tw", "zh-TW").answer == "保養週期為兩千小時（台灣版）。"
    assert assemble_answer(graph, "FAQ-tw", "zh").answer == "保养周期为两千小时。"


def test_simplified_output_is_converted_from_traditional_only_text() -> None:
    kb = {
        "version": 1,
        "faqs": [
            {
                "id": "Q1",
                "questions": {"zh-TW": ["保固多久"]},
                "answer": {"zh-Hant": "整機保固兩年。"},
            }
        ],
    }
    answer = assemble_answer(KnowledgeGraph(parse_documents([("kb", kb)])), "Q1", "zh")
    assert (answer.title, answer.text) == ("保固多久", "整机保固两年。")


def test_falls_back_to_the_other_language(graph: KnowledgeGraph) -> None:
    answer = assemble_answer(graph, "F-E03", "zh")
    valve = next(c for c in answer.causes if c.id == "C-valve").solutions[0]
    assert valve.steps == ["拆下旧阀", "装上新阀"]
    english = assemble_answer(graph, "F-E03", "en")
    valve_en = next(c for c in english.causes if c.id == "C-valve").solutions[0]
    assert valve_en.steps == ["拆下旧阀", "装上新阀"]  # only Chinese steps exist
    setting = next(c for c in answer.causes if c.id == "C-setting").solutions[0]
    assert setting.title == "Check the pressure setting"  # only English exists


def test_plain_list_of_steps_is_kept_whole_in_every_language() -> None:
    kb = {
        "version": 1,
        "solutions": [{"id": "S1", "title": "复位", "steps": ["关机", "Reset E03", "开机"]}],
        "faults": [{"id": "F1", "title": "E03", "symptoms": ["E03"], "solutions": ["S1"]}],
    }
    graph = KnowledgeGraph(parse_documents([("kb", kb)]))
    for lang, steps in [
        ("zh", ["关机", "Reset E03", "开机"]),
        ("en", ["关机", "Reset E03", "开机"]),
        ("zh-Hant", ["關機", "Reset E03", "開機"]),
    ]:
        assert assemble_answer(graph, "F1", lang).solutions[0].steps == steps


def test_faq_answer_in_each_language(graph: KnowledgeGraph) -> None:
    en = assemble_answer(graph, "FAQ-warranty", "en")
    assert (en.type, en.title, en.text) == (
        "faq",
        "how long is the warranty",
        "Two years on the unit.",
    )
    zh = assemble_answer(graph, "FAQ-warranty", "zh")
    assert zh.text == "整机保修两年，易损件三个月。"
    hant = assemble_answer(graph, "FAQ-warranty", "zh-Hant")
    assert hant.text == "整機保修兩年，易損件三個月。"
    assert hant.title == "保修期多久"


def test_unknown_or_unanswerable_id_is_a_typed_error(graph: KnowledgeGraph) -> None:
    with pytest.raises(UnknownItemError, match="F-nope"):
        assemble_answer(graph, "F-nope", "en")
    with pytest.raises(UnknownItemError):
        assemble_answer(graph, "S-clean", "en")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh-Hans", "zh"),
        ("zh-TW", "zh-Hant"),
        ("zh_hant", "zh-Hant"),
        ("zh-HK", "zh-Hant"),
        ("en-US", "en"),
        (None, "en"),
    ],
)
def test_language_codes_are_normalized(given: str | None, expected: str) -> None:
    assert normalize_lang(given) == expected


@pytest.mark.parametrize("lang", ["zh", "zh-Hant", "en"])
def test_every_sample_item_answers_in_every_language(sample_kb: Path, lang: str) -> None:
    graph = KnowledgeGraph(read_knowledge_base(sample_kb))
    for item_id in [*graph.faults, *graph.faqs]:
        answer = assemble_answer(graph, item_id, lang)
        assert answer.text and answer.title
        if answer.type == "fault":
            assert answer.causes or answer.solutions
