"""The reply buttons the bot offers after a turn, from the dialogue state alone."""

from __future__ import annotations

import pytest

from bot.dialogue.buttons import MAX_BUTTONS, buttons_after
from bot.dialogue.language import Voice
from bot.dialogue.state import CLARIFY, COLLECT, FEEDBACK, IDLE, TICKETED, DialogueState

NAMES = {"zh": {"KX-5": "KX-5 制冰机"}, "en": {"KX-5": "KX-5 ice maker"}}


def product_names(lang: str) -> dict[str, str]:
    return NAMES[lang]


def labels(state: DialogueState, voice: Voice) -> list[str]:
    return [button.label for button in buttons_after(state, voice, product_names)]


@pytest.mark.parametrize(
    ("voice", "expected"),
    [
        (Voice("en"), ["Solved", "Not solved", "Talk to a person"]),
        (Voice("zh"), ["已解决", "没解决", "转人工"]),
        (Voice("zh", traditional=True), ["已解決", "沒解決", "轉人工"]),
    ],
)
def test_an_answer_is_rated_in_the_bots_voice(voice: Voice, expected: list[str]) -> None:
    assert labels(DialogueState(stage=FEEDBACK), voice) == expected


def test_a_press_says_what_the_bot_reads_as_the_answer() -> None:
    [solved, not_solved, person] = buttons_after(
        DialogueState(stage=FEEDBACK), Voice("en"), product_names
    )
    assert (solved.payload, not_solved.payload, person.payload) == (
        "solved",
        "not solved",
        "talk to a person",
    )


def test_clarifying_offers_the_candidates_models_by_name() -> None:
    state = DialogueState(
        stage=CLARIFY,
        clarify_facet="products",
        candidates=[{"products": ["KX-5"]}, {"products": ["KX-5", "BM-2"]}],
    )
    assert labels(state, Voice("en")) == ["KX-5 ice maker", "BM-2"]


def test_the_repair_form_offers_the_models_when_it_asks_for_one() -> None:
    assert labels(DialogueState(stage=COLLECT, pending_slot="product"), Voice("zh")) == [
        "KX-5 制冰机"
    ]
    assert labels(DialogueState(stage=COLLECT, pending_slot="address"), Voice("en")) == []
    assert labels(DialogueState(stage=TICKETED), Voice("en")) == []


def test_nothing_waits_nothing_offered_and_never_too_many() -> None:
    assert labels(DialogueState(stage=IDLE), Voice("en")) == []
    codes = [{"codes": [f"E{number:02}" for number in range(20)]}]
    state = DialogueState(stage=CLARIFY, clarify_facet="codes", candidates=codes)
    assert len(labels(state, Voice("en"))) == MAX_BUTTONS


def test_a_form_stored_waiting_for_a_confirmation_is_read_as_the_form() -> None:
    """Conversations stored while the bot still asked "confirm?" go on as the repair form: the
    next message makes the ticket they were waiting for, no button offers a confirmation."""
    state = DialogueState.from_json({"stage": "confirm", "pending_slot": None})
    assert state.stage == COLLECT
    assert labels(state, Voice("en")) == []
