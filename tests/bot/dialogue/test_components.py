"""A component of the best item named in the message (its mast) says which models are meant: a
close item about another model is no longer a reason to ask "which model?"."""

from __future__ import annotations

import pytest

from bot.dialogue.knowledge import ServiceKnowledge, open_folder
from bot.dialogue.ports import Candidate

KB = """
version: 1
products:
  - {id: EF-25, name: {zh: EF-25 电动叉车, en: EF-25 forklift}, aliases: [EF25]}
  - {id: PX-20, name: {zh: PX-20 搬运车, en: PX-20 pallet truck}, aliases: [PX20]}
components:
  - id: EF.mast
    name: {zh: 门架与起升油缸, en: mast and lift cylinders}
    products: [EF-25]
    aliases: [门架, mast]
faults:
  - id: F-EF-drift
    title: {zh: 货叉自己下降, en: Forks drift down}
    symptoms: {zh: [货叉举起后慢慢下降], en: [raised forks creep down]}
    products: [EF-25]
    components: [EF.mast]
  - id: F-PX-lift
    title: {zh: 搬运车货叉自己下降, en: Pallet truck forks drift down}
    symptoms: {zh: [搬运车货叉抬起后掉下来], en: [pallet truck forks drop]}
    products: [PX-20]
"""


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> ServiceKnowledge:
    folder = tmp_path_factory.mktemp("components")
    (folder / "kb.yaml").write_text(KB, encoding="utf-8")
    return open_folder(folder, tmp_path_factory.mktemp("components-index"))


def hits() -> list[Candidate]:
    return [
        Candidate(id="F-EF-drift", type="fault", score=0.45, products=("EF-25",)),
        Candidate(id="F-PX-lift", type="fault", score=0.40, products=("PX-20",)),
    ]


def test_the_named_component_drops_another_models_item(knowledge: ServiceKnowledge) -> None:
    found = knowledge.by_named_component("货叉放着自己往下掉，門架还往前倾", hits())
    assert [c.id for c in found] == ["F-EF-drift", "F-PX-lift"]
    assert found[1].score == pytest.approx(0.20)


def test_the_components_names_and_aliases_are_the_kbs_part_words(
    knowledge: ServiceKnowledge,
) -> None:
    words = set(knowledge.part_words())
    assert {"门架与起升油缸", "mast and lift cylinders", "门架", "mast"} <= words


def test_without_the_component_both_stay_close(knowledge: ServiceKnowledge) -> None:
    assert knowledge.by_named_component("货叉放着自己往下掉", hits()) == hits()


def test_a_named_model_is_left_to_the_models_check(knowledge: ServiceKnowledge) -> None:
    assert knowledge.by_named_component("PX20 门架往前倾", hits()) == hits()
