"""Which language and script a customer writes in, so every reply follows it per message."""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_base.text import to_simplified, to_traditional

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_MODEL_TOKEN = re.compile(r"\b[A-Za-z]{1,4}[- ]?\d+[A-Za-z0-9-]*\b")
# Words customers type in any language; they do not switch the reply language.
_NEUTRAL = re.compile(r"\b(ok|okay|OK|Ok)\b")
# Characters written alike in both scripts that the converters still change: Cantonese writes
# the particle 吓 ("想問吓", "試吓") in Traditional too, where Simplified-to-Traditional makes it
# 嚇 ("to scare"), so counting it would tie a Traditional message with one Simplified.
_EITHER_SCRIPT = re.compile("[吓]")


def is_traditional(text: str) -> bool:
    """True when more characters change going to Simplified than going to Traditional."""
    return _script_lean(text) > 0


def _script_lean(text: str) -> int:
    """How many more characters change going to Simplified than going to Traditional: above 0
    Traditional, below 0 Simplified, 0 either ("KS70R嚟㗎" is written the same in both)."""
    chinese = "".join(_CJK.findall(_EITHER_SCRIPT.sub("", text)))
    if not chinese:
        return 0
    simplified, traditional = to_simplified(chinese), to_traditional(chinese)
    changed_by_t2s = sum(a != b for a, b in zip(chinese, simplified, strict=False))
    changed_by_s2t = sum(a != b for a, b in zip(chinese, traditional, strict=False))
    return changed_by_t2s - changed_by_s2t


@dataclass(frozen=True)
class Voice:
    """The language (`zh`/`en`) and, for Chinese, the script the bot answers in."""

    lang: str = "zh"
    traditional: bool = False

    def render(self, text: str) -> str:
        """Put a reply into the customer's script: the bot writes Simplified, a knowledge base
        may write either ("農機購置補貼怎麼申請" offered to a Simplified conversation)."""
        if self.traditional:
            return to_traditional(text)
        return to_simplified(text) if self.lang == "zh" else text

    def as_dict(self) -> dict[str, object]:
        return {"lang": self.lang, "traditional": self.traditional}


def detect_voice(text: str, hint: str | None, previous: Voice | None) -> Voice:
    """The customer's language from the text itself; a text without words (a phone number, a
    serial) keeps the conversation's language, then the channel's hint, and Chinese written the
    same in both scripts keeps the conversation's script."""
    if _CJK.search(text):
        lean = _script_lean(text)
        if lean == 0 and previous is not None and previous.lang == "zh":
            return previous  # written the same in both scripts: the conversation's script
        return Voice("zh", lean > 0)
    if _LATIN_WORD.search(_NEUTRAL.sub(" ", _MODEL_TOKEN.sub(" ", text))):
        return Voice("en")
    if previous is not None:
        return previous
    return Voice(hint or "zh")
