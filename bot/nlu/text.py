"""Text normalization and tokenization shared by featurizers and extractors.

Chinese is folded from Traditional to Simplified (OpenCC `t2s`) and segmented with jieba, so one
model serves both scripts; other text is lower-cased and split into word tokens.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"\w+(?:['’.-]\w+)*", re.UNICODE)


@dataclass(frozen=True)
class Token:
    """A token and its character span in the (folded) text."""

    text: str
    start: int
    end: int


def has_cjk(text: str) -> bool:
    """Whether the text holds Chinese characters."""
    return bool(_CJK.search(text))


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Lower-cased text with Traditional Chinese folded to Simplified (same length when possible).

    Offsets of spans found in the folded text are valid in the original whenever the lengths agree,
    which they do for character-by-character conversions (the usual case). Kept for recent texts:
    reading one message folds its text in the tokenizer and in every extractor (OpenCC's
    conversion is the costly part).
    """
    text = text.lower()
    if not has_cjk(text):
        return text
    converted = _t2s().convert(text)
    return converted if len(converted) == len(text) else text


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


class WhitespaceTokenizer:
    """Word tokens (letters, digits, inner apostrophes/hyphens) of lower-cased text."""

    name = "WhitespaceTokenizer"

    def tokenize(self, text: str) -> list[Token]:
        """Word tokens of the folded text."""
        folded = fold(text)
        return [Token(m.group(0), m.start(), m.end()) for m in _WORD.finditer(folded)]


class JiebaTokenizer(WhitespaceTokenizer):
    """jieba words for Chinese (after t2s folding), word tokens for everything else."""

    name = "JiebaTokenizer"

    def tokenize(self, text: str) -> list[Token]:
        """jieba segments when the text has Chinese characters, else word tokens."""
        folded = fold(text)
        if not has_cjk(folded):
            return super().tokenize(text)
        return [
            Token(word, start, end)
            for word, start, end in _jieba().tokenize(folded)
            if word.strip() and _WORD.search(word)
        ]


TOKENIZERS = {cls.name: cls for cls in (WhitespaceTokenizer, JiebaTokenizer)}
