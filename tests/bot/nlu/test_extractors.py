"""Rule-based entity extraction: codes, serials, tickets, phones, emails, products, addresses."""

from __future__ import annotations

import pytest

from bot.nlu.extractors import (
    AddressExtractor,
    EntitySynonymMapper,
    LookupEntityExtractor,
    RegexEntityExtractor,
    UrgencyExtractor,
)
from bot.nlu.training_data import parse_yaml


def found(extractor, text: str) -> list[tuple[str, str, str]]:
    """(entity, value, covered text) triples, proving the spans point into the original text."""
    return [(e["entity"], e["value"], text[e["start"] : e["end"]]) for e in extractor.extract(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("显示e-03", [("alarm_code", "E03", "e-03")]),
        ("alarm A-112 again", [("alarm_code", "A112", "A-112")]),
        ("group 2 shows E09-2", [("alarm_code", "E09-2", "E09-2")]),
        ("屏幕报Err04和AL-7", [("alarm_code", "ERR04", "Err04")]),
        ("工单T-000123进度", [("ticket_id", "T-000123", "T-000123")]),
        ("ticket tk20240315001 please", [("ticket_id", "TK20240315001", "tk20240315001")]),
        ("电话138 0000 1234", [("phone", "13800001234", "138 0000 1234")]),
        ("call +86 139-1234-5678 now", [("phone", "+8613912345678", "+86 139-1234-5678")]),
        ("座机021-64881234", [("phone", "02164881234", "021-64881234")]),
        ("ring (415) 555-0132", [("phone", "4155550132", "(415) 555-0132")]),
        (
            "mail Ops.Team@Example.co.uk",
            [("email", "Ops.Team@Example.co.uk", "Ops.Team@Example.co.uk")],
        ),
        ("S/N: bm2x-2304-1500", [("serial_number", "BM2X-2304-1500", "bm2x-2304-1500")]),
        ("序列号是AB12345678", [("serial_number", "AB12345678", "AB12345678")]),
        ("a 12 month plan, P1 priority, BM-2 model", []),
    ],
)
def test_builtin_patterns(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert found(RegexEntityExtractor(), text) == expected


def test_yaml_regexes_name_their_entity() -> None:
    extractor = RegexEntityExtractor(use_builtins=False)
    extractor.train(parse_yaml("nlu:\n- regex: order_no\n  examples: |\n    - ORD\\d{6}\n"))
    assert found(extractor, "order ord123456 late") == [("order_no", "ord123456", "ord123456")]


def test_lookup_aliases_spacing_variants_and_traditional_text() -> None:
    extractor = LookupEntityExtractor()
    extractor.train(
        parse_yaml(
            "nlu:\n- lookup: product\n  examples: |\n    - BM-2\n    - 两头机\n"
            "- synonym: BM-2\n  examples: |\n    - 双头机\n"
        )
    )
    extractor.add("product", {"AC 300": "AC-300", "空压机三百": "AC-300"})
    text = "bm2、BM 2、兩頭機、双头机 and ac-300, 空壓機三百"
    assert [(e, v) for e, v, _ in found(extractor, text)] == [
        ("product", "BM-2"),
        ("product", "BM-2"),
        ("product", "两头机"),
        ("product", "BM-2"),
        ("product", "AC-300"),
        ("product", "AC-300"),
    ]
    assert found(extractor, "XBM-20 is another model") == []


def test_lookup_prefers_the_longest_entry() -> None:
    extractor = LookupEntityExtractor()
    extractor.add("product", ["BM-3", "BM-3 Pro"])
    assert found(extractor, "my bm-3 pro leaks") == [("product", "BM-3 Pro", "bm-3 pro")]


def test_lookup_entries_of_one_character_chunks_and_at_word_edges() -> None:
    extractor = LookupEntityExtractor()
    extractor.add("product", ["X 5", "泵", "K"])
    assert found(extractor, "x5 and x-5, 泵坏了, k") == [
        ("product", "X 5", "x5"),
        ("product", "X 5", "x-5"),
        ("product", "泵", "泵"),
        ("product", "K", "k"),
    ]
    assert found(extractor, "ax5 x55 kk") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "我在上海市浦东新区张江路188号3栋",
            [
                ("city", "上海", "上海市"),
                ("address", "上海市浦东新区张江路188号3栋", "上海市浦东新区张江路188号3栋"),
            ],
        ),
        (
            "工廠在台北市信義路五段7號",
            [("city", "台北", "台北市"), ("address", "台北市信義路五段7號", "台北市信義路五段7號")],
        ),
        ("送到文三路90号就行", [("address", "文三路90号", "文三路90号")]),
        (
            "we are at 12 King Street, Toronto",
            [("city", "Toronto", "Toronto"), ("address", "12 King Street", "12 King Street")],
        ),
        ("I have 2 machines on the street", []),
    ],
)
def test_addresses_and_cities(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert found(AddressExtractor(), text) == expected


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("緊急！機器壞了", "high"),
        ("生产线停产了", "critical"),
        ("Production down at plant 2", "critical"),
        ("need it ASAP", "high"),
        ("there is smoke coming out", "critical"),
    ],
)
def test_urgency_words(text: str, level: str) -> None:
    assert [e["value"] for e in UrgencyExtractor().extract(text)] == [level]


def test_no_urgency_in_calm_text() -> None:
    assert UrgencyExtractor().extract("whenever suits you next month") == []


def test_synonym_mapper_is_case_and_script_insensitive() -> None:
    mapper = EntitySynonymMapper()
    mapper.add({"兩頭機": "BM-2", "Double Head": "BM-2"})
    entities = [
        {"entity": "product", "value": "两头机"},
        {"entity": "product", "value": "double head"},
    ]
    assert [e["value"] for e in mapper.process(entities)] == ["BM-2", "BM-2"]
    assert entities[0]["processors"] == ["EntitySynonymMapper"]
