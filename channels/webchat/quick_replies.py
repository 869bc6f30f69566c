"""Quick-reply buttons under the bot's last reply, from what the dialogue waits for: "solved /
not solved / talk to a person" after an answer, the models or codes a clarifying question
offers, the known models, urgencies and "skip" while filling a repair request, and "confirm"
before a ticket is made. A press sends the button's `says` as the customer's message."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.dialogue.state import CLARIFY, COLLECT, CONFIRM, DialogueState
from channels.texts import ChannelTexts, text_lang
from core.messages import Button

QUICK_REPLIES_FILE = Path(__file__).resolve().parent / "quick_replies.yml"
MAX_BUTTONS = 8
_CODE_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,15}$")


@lru_cache
def _wording() -> dict[str, Any]:
    return yaml.safe_load(QUICK_REPLIES_FILE.read_text(encoding="utf-8"))


def _localized(entries: list[dict[str, Any]], lang: str) -> list[Button]:
    return [Button(label=e["label"][lang], payload=e["says"][lang]) for e in entries]


@dataclass(frozen=True)
class QuickReplies:
    """Builds the buttons for a bot turn from the conversation's state after it."""

    texts: ChannelTexts
    product_names: Callable[[str], dict[str, str]]  # by language: the KB's model names

    def after(self, action: str, state: DialogueState, lang: str | None) -> list[Button]:
        lang = text_lang(lang)
        if action in self.texts.buttons_after:
            found = [Button(label=b.label, payload=b.says) for b in self.texts.buttons(lang)]
        elif state.stage == CLARIFY:
            found = self._options(state, lang)
        elif state.stage == CONFIRM:
            found = _localized(_wording()["confirm"], lang)
        elif state.stage == COLLECT:
            found = self._slot_options(state.pending_slot, lang)
        else:
            found = []
        return found[:MAX_BUTTONS]

    def _options(self, state: DialogueState, lang: str) -> list[Button]:
        """The models (or codes) a clarifying question offers to choose from."""
        facet = "products" if state.clarify_facet == "products" else "codes"
        values: list[str] = []
        for candidate in state.candidates:
            for value in candidate.get(facet) or ():
                if value not in values:
                    values.append(value)
        if facet == "products":
            names = self.product_names(lang)
            return [Button(label=names.get(v, v), payload=names.get(v, v)) for v in values]
        return [Button(label=v, payload=v) for v in values if _CODE_LIKE.match(v)]

    def _slot_options(self, slot: str | None, lang: str) -> list[Button]:
        if slot == "product":
            names = list(dict.fromkeys(self.product_names(lang).values()))
            return [Button(label=name, payload=name) for name in names]
        if slot == "urgency":
            levels = _wording()["urgency"]
            return [Button(label=words[lang], payload=words[lang]) for words in levels.values()]
        if slot == "serial":
            return _localized(_wording()["skip"], lang)
        return []
