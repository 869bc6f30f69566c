"""Reply buttons under the bot's last reply, from what the dialogue waits for after a turn:
"solved / not solved / talk to a person" under an answer, the models or codes a clarifying
question offers, and the known models when a repair request asks which one. A press sends the
button's payload as the customer's message, so every channel with buttons offers the same ones
and the bot reads a press like typed words.

The wording is in `bot/data/buttons.yml`, per language and script.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import yaml

from bot.dialogue.language import Voice
from bot.dialogue.prompts import DATA_DIR
from bot.dialogue.state import CLARIFY, COLLECT, FEEDBACK, DialogueState
from core.messages import Button

BUTTONS_FILE = DATA_DIR / "buttons.yml"
LANGS = ("zh", "zh-Hant", "en")
MAX_BUTTONS = 8
_CODE_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,15}$")

# The knowledge base's model names by id, in a language (`zh` or `en`).
ProductNames = Callable[[str], dict[str, str]]


class ButtonsError(ValueError):
    """The buttons file lacks an entry or a language the dialogue needs."""


def _entry_texts(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """Each text of the file by its place (`feedback[0].label`)."""
    return [
        (f"feedback[{number}].{part}", entry.get(part) if isinstance(entry, dict) else None)
        for number, entry in enumerate(data.get("feedback") or [None])
        for part in ("label", "says")
    ]


@lru_cache
def _wording() -> dict[str, Any]:
    """The buttons file, read once per process; a missing text fails, naming it, at the first
    turn rather than at a customer's later one."""
    data = yaml.safe_load(BUTTONS_FILE.read_text(encoding="utf-8")) or {}
    for key, texts in _entry_texts(data):
        missing = [lang for lang in LANGS if not isinstance((texts or {}).get(lang), str)]
        if missing:
            raise ButtonsError(f"{BUTTONS_FILE.name}: `{key}` has no text for {', '.join(missing)}")
    return data


def script_of(voice: Voice) -> str:
    """The wording's language for the bot's voice: `zh`, `zh-Hant` or `en`."""
    if voice.lang == "en":
        return "en"
    return "zh-Hant" if voice.traditional else "zh"


def buttons_after(
    state: DialogueState,
    voice: Voice,
    product_names: ProductNames,
) -> list[Button]:
    """The buttons for what `state` waits on after a turn, in the bot's voice."""
    words = _wording()
    script = script_of(voice)
    if state.stage == FEEDBACK:
        found = _localized(words["feedback"], script)
    elif state.stage == CLARIFY and state.options:
        found = [Button(label=o["label"], payload=o["label"]) for o in state.options]
    elif state.stage == CLARIFY:
        found = _options(state, product_names(voice.lang))
    elif state.stage == COLLECT and state.pending_slot == "product":
        names = product_names(voice.lang).values()
        found = [Button(label=name, payload=name) for name in dict.fromkeys(names)]
    else:
        found = []
    return found[:MAX_BUTTONS]


def _localized(entries: list[dict[str, Any]], script: str) -> list[Button]:
    return [Button(label=e["label"][script], payload=e["says"][script]) for e in entries]


def _options(state: DialogueState, names: dict[str, str]) -> list[Button]:
    """The models (or codes) a clarifying question offers to choose from."""
    facet = "products" if state.clarify_facet == "products" else "codes"
    values: list[str] = []
    for candidate in state.candidates:
        for value in candidate.get(facet) or ():
            if value not in values:
                values.append(value)
    if facet == "products":
        return [Button(label=names.get(v, v), payload=names.get(v, v)) for v in values]
    return [Button(label=v, payload=v) for v in values if _CODE_LIKE.match(v)]
