"""What the customer reads and what they press say the same words: every prompt that offers
buttons names each button's label, in every language and script; the ticket statuses the bot
reports are the ones the channels (and the web chat page) show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.dialogue.buttons import buttons_after
from bot.dialogue.language import Voice, detect_voice
from bot.dialogue.prompts import DialogueTexts
from bot.dialogue.state import FEEDBACK, DialogueState

VOICES = {"zh": Voice("zh"), "zh-Hant": Voice("zh", traditional=True), "en": Voice("en")}
ROOT = Path(__file__).resolve().parents[3]

# Each prompt that offers choices, and the dialogue state its buttons come from.
PROMPTS_WITH_BUTTONS = {"ask_solved": DialogueState(stage=FEEDBACK)}


def _no_products(lang: str) -> dict[str, str]:
    return {}


@pytest.fixture(scope="module")
def texts() -> DialogueTexts:
    return DialogueTexts.load()


@pytest.mark.parametrize("script", sorted(VOICES))
@pytest.mark.parametrize("prompt", sorted(PROMPTS_WITH_BUTTONS))
def test_every_button_label_is_named_in_its_prompt(
    texts: DialogueTexts, prompt: str, script: str
) -> None:
    voice = VOICES[script]
    said = texts.say(prompt, voice, summary="", options="").casefold()
    buttons = buttons_after(PROMPTS_WITH_BUTTONS[prompt], voice, _no_products)
    assert buttons, f"{prompt} offers no buttons"
    missing = [b.label for b in buttons if b.label.casefold() not in said]
    assert not missing, f"{prompt} ({script}) says {said!r} but the buttons say {missing}"


@pytest.mark.parametrize("script", sorted(VOICES))
def test_a_typed_label_is_read_like_the_press(texts: DialogueTexts, script: str) -> None:
    """Typing what a button says (its label) means what pressing it sends."""
    voice = VOICES[script]
    [solved, not_solved, _person] = buttons_after(
        PROMPTS_WITH_BUTTONS["ask_solved"], voice, _no_products
    )
    assert texts.is_cue("yes", solved.label) and texts.is_cue("yes", solved.payload)
    assert texts.is_cue("no", not_solved.label) and texts.is_cue("no", not_solved.payload)


def test_ticket_statuses_read_the_same_from_the_bot_the_channels_and_the_page(
    texts: DialogueTexts,
) -> None:
    channel = yaml.safe_load((ROOT / "channels/data/texts.yml").read_text(encoding="utf-8"))
    page = (ROOT / "channels/webchat/static/chat.js").read_text(encoding="utf-8")
    for status, names in channel["statuses"].items():
        assert texts.status_label(status, "zh") == names["zh"], status
        assert texts.status_label(status, "en") == names["en"], status
        for name in names.values():  # the page's own label of the status, in each script
            assert re.search(rf'\b{status}"?: "{re.escape(name)}"', page), (status, name)


@pytest.mark.parametrize(
    ("text", "previous", "voice"),
    [
        ("KS70R嚟㗎", Voice("zh", traditional=True), Voice("zh", traditional=True)),
        ("KS70R嚟㗎", Voice("zh"), Voice("zh")),
        ("部機壞咗", Voice("zh"), Voice("zh", traditional=True)),  # Traditional characters
        ("机器坏了", Voice("zh", traditional=True), Voice("zh")),
        ("你好，想問吓", None, Voice("zh", traditional=True)),  # the particle 吓 is both scripts'
        ("你好，想问吓", None, Voice("zh")),
        ("13812345678", Voice("en"), Voice("en")),  # no words: the conversation's language
    ],
)
def test_chinese_written_alike_in_both_scripts_keeps_the_conversations_script(
    text: str, previous: Voice | None, voice: Voice
) -> None:
    assert detect_voice(text, "zh", previous) == voice


def test_a_reply_follows_the_customers_script_whichever_the_kb_wrote() -> None:
    """A knowledge base may write Traditional: a Simplified conversation still reads Simplified,
    and English is left as written."""
    assert Voice("zh").render("1. 農機購置補貼怎麼申請") == "1. 农机购置补贴怎么申请"
    assert Voice("zh", traditional=True).render("农机购置补贴") == "農機購置補貼"
    assert Voice("en").render("FarmLink 農機") == "FarmLink 農機"
