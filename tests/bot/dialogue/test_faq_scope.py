"""An FAQ that names no product belongs to the product lines of the file it came from: in a KB of
two lines' files, line A's warranty FAQ must not answer a question about line B's product."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue.knowledge import ServiceKnowledge, open_folder
from knowledge_base.loader import read_knowledge_base
from tests.bot.dialogue.conftest import Say

COMPRESSORS = """
version: 1
products:
  - {id: AC-300, name: {zh: AC-300 螺杆空压机, en: AC-300 screw compressor}, aliases: [AC300],
     line: compressors}
faqs:
  - id: FAQ-AC-warranty
    questions: {zh: [保修期多久, 保修多长时间], en: [how long is the warranty]}
    answer: {zh: 整机保修两年，机头保修五年。, en: "Two years on the unit, five on the air end."}
    category: warranty
"""

DRYERS = """
version: 1
products:
  - {id: DR-50, name: {zh: DR-50 冷干机, en: DR-50 refrigerated dryer}, aliases: [DR50],
     line: dryers}
solutions:
  - id: S-drain
    title: {zh: 清洗排水器, en: Clean the drain valve}
    steps: {zh: [关闭进气阀, 拆下排水器清洗], en: [Close the inlet valve, Clean the drain]}
faults:
  - id: F-DR-water
    title: {zh: 压缩空气带水, en: Water in the compressed air}
    symptoms: {zh: [压缩空气里有水, 排水器不排水], en: [water in the air, drain does not open]}
    products: [DR-50]
    solutions: [S-drain]
"""

COMPANY = """
version: 1
faqs:
  - id: FAQ-hours
    questions: {zh: [客服工作时间, 你们几点上班], en: [what are your service hours]}
    answer: {zh: 客服时间为每天8:00-20:00。, en: Our service desk is open 8:00-20:00 every day.}
"""


@pytest.fixture(scope="module")
def kb_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("two-lines")
    for name, text in (("compressors", COMPRESSORS), ("dryers", DRYERS), ("company", COMPANY)):
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def knowledge(kb_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> ServiceKnowledge:
    """Overrides the dialogue tests' KB with the two-line folder."""
    return open_folder(kb_folder, tmp_path_factory.mktemp("two-lines-index"))


def test_a_line_less_faq_takes_its_files_lines(kb_folder: Path) -> None:
    faqs = {faq.id: faq.products for faq in read_knowledge_base(kb_folder).faqs}
    # A file without products (company-wide FAQs) keeps its FAQs for every product.
    assert faqs == {"FAQ-AC-warranty": ["AC-300"], "FAQ-hours": []}


def test_a_single_file_kb_keeps_its_faqs_for_every_product(kb_folder: Path) -> None:
    faqs = read_knowledge_base(kb_folder / "compressors.yaml").faqs
    assert [faq.products for faq in faqs] == [[]]


async def test_line_a_faq_does_not_answer_a_question_about_line_b(say: Say) -> None:
    other = await say("DR50 冷干机保修期多久？", sender="bob")
    assert not (other.action == "answer" and other.kb_hits[0].id == "FAQ-AC-warranty")
    own = await say("AC300 保修期多久？", sender="carol")
    assert own.action == "answer" and own.kb_hits[0].id == "FAQ-AC-warranty"
