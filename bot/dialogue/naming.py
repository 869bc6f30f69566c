"""Which of our products a customer names by the words of its name, not its model number.

To "which model? AX-1 2kW 单相… / AX-9 9kW 三相…" customers answer "三相9kW那台"; they correct
"不是主机，是电池包报的" or write "its on the battery pack". A word of one product's names,
aliases or line that no other product's texts use points to that product; a word several
products share ("逆变器", "inverter") points to none. Which products compete depends on the
moment: the candidates of a clarifying question, the products whose items carry the alarm code
the customer read out, or every product. Against every product only the kinds of equipment the
names end with ("电池包", "battery pack"; in English two words or more, "press" alone is also
a verb) and the ratings ("12kW那台") count: any other word of a name may also describe a fault
of another product ("油温" names an oil heater and is a press's symptom).

Everything is read from the knowledge base's own product texts; words the bot's own data uses
(English in lower case: "machine", "unit"; Chinese: "机器人") are never a product's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import jieba

from knowledge_base.text import STOPWORDS, normalize

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_LATIN_WORD = re.compile(r"[a-z]+")
# A rating written after a number: "50kW", "10.24 kWh", "1.6t", "23升" (not a model's "-6S").
_SPEC = re.compile(
    r"(?<![a-z0-9.\-])(\d+(?:\.\d+)?)\s?(?:([a-z]{1,3})(?![a-z0-9])|(公升|升|千瓦|吨|匹|寸))"
)
# A number standing alone in a customer's text ("the 350 one", "904那台"; not "a120", "vm350p"),
# and the digit runs of a product's own texts.
_NUMBER = re.compile(r"(?<![a-z0-9.])(\d{2,})(?![0-9.])")
_DIGITS = re.compile(r"\d{2,}")
# A number in words or digits: "二十层" says a size, which a customer's "二十分钟" also says.
_NUMERAL = re.compile(r"[\d一二三四五六七八九十百千万两]")
# One spelling per unit, so that a rating matches however it is written ("18公升", "18L").
_UNITS = {"公升": "升", "l": "升", "lt": "升", "ltr": "升", "千瓦": "kw", "t": "吨"}
# The endings that make a word a machine: Chinese writes one kind with either ("净水机", "净水器").
_MACHINE = "机器"
MIN_WORD = 2  # Chinese words of one character say nothing about which product
MIN_LATIN = 3


class ProductNames:
    """The words each product's names, aliases and line use, and the kinds of equipment."""

    def __init__(
        self,
        texts: Mapping[str, Iterable[str]],
        models: Iterable[str],
        kinds: Mapping[str, Iterable[str]],
        plain: frozenset[str] = frozenset(),
        common: str = "",
        lines: Mapping[str, str] | None = None,
    ) -> None:
        """`texts`: each product's names, aliases and line; `models`: every model number and
        alias written in Latin letters (matched elsewhere, left out here); `kinds`: each
        product's kinds of equipment (`frame.kinds_of_equipment`); `plain`: English words and
        `common`: Chinese text that name no product (the bot's own data); `lines`: each
        product's line."""
        ordered = sorted({normalize(m) for m in models if m}, key=len, reverse=True)
        self._plain = plain
        self._texts: dict[str, str] = {}
        self._words: dict[str, set[str]] = {}
        # The numbers in each product's model numbers, names and ratings ("the 350 one").
        self._numbers: dict[str, set[str]] = {}
        for product_id, own in texts.items():
            self._numbers[product_id] = {n for t in own for n in _DIGITS.findall(str(t))}
            text = " | ".join(_without(normalize(str(t)), ordered) for t in own)
            self._texts[product_id] = text
            self._words[product_id] = self._words_of(text)
        self._kinds = {
            pid: {k for k in map(normalize, found) if _a_kind(k, plain, common)}
            for pid, found in kinds.items()
        }
        # The words of a product's texts no product of another line uses ("combi", "激光"):
        # each line's words are looked for once in the texts of every other line together.
        line_of = {pid: (lines or {}).get(pid, pid) for pid in self._texts}
        self._line_of = line_of
        by_line: dict[str, list[str]] = {}
        for pid, line in line_of.items():
            by_line.setdefault(line, []).append(pid)
        self._line_words: dict[str, set[str]] = {}
        for line, pids in by_line.items():
            others = " | ".join(t for pid, t in self._texts.items() if line_of[pid] != line)
            for pid in pids:
                self._line_words[pid] = {
                    word
                    for word in self._words[pid]
                    if not _NUMERAL.search(word) and not _shares(others, word)
                }
        # What says a product's line without its model: its kinds and its line's own words.
        self._kind_words = {
            pid: self._kinds.get(pid, set()) | self._line_words[pid] for pid in self._texts
        }
        # Against every product a rating counts too ("12kW那台"): a fault's words have none.
        self._kinds_and_ratings = {
            pid: self._kinds.get(pid, set()) | _specs(text) for pid, text in self._texts.items()
        }

    def named(self, text: str, among: Iterable[str] | None = None) -> frozenset[str]:
        """The one product the words of `text` point to among `among` (every product, by its
        kinds of equipment only, when None); empty when they point to none or to several."""
        folded = normalize(text)
        if among is None:
            pool = list(self._texts)
            own = self._kinds_and_ratings
        else:
            pool = [p for p in dict.fromkeys(among) if p in self._texts]
            own = self._words
        if len(pool) < 2:
            return frozenset()
        if among is not None:
            # "the 350 pulse one" among a VM-350P and a VT-315AC pulse welder: a number one
            # product's model or rating has says which, before any word both names may share.
            said = set(_NUMBER.findall(folded))
            numbered = {p for p in pool if self._numbers.get(p, set()) & said}
            if len(numbered) == 1:
                return frozenset(numbered)
        specs = _specs(folded)
        pointed = {
            product_id
            for product_id in pool
            for word in own.get(product_id, ())
            if _said(folded, specs, word)
            and not any(_shares(self._texts[other], word) for other in pool if other != product_id)
        }
        return frozenset(pointed) if len(pointed) == 1 else frozenset()

    def lines_of(self, products: Iterable[str]) -> set[str]:
        """The product lines of `products`."""
        return {self._line_of.get(pid, pid) for pid in products}

    def of_kind(self, text: str) -> frozenset[str]:
        """The products whose kind of equipment or whose line's own words `text` says ("激光机",
        "the combi": every product of that line), when that is not every product: the line(s)
        the customer speaks of, without a model."""
        folded = normalize(text)
        specs = _specs(folded)
        named = frozenset(
            product_id
            for product_id, words in self._kind_words.items()
            if any(_said(folded, specs, word) for word in words)
        )
        return named if len(named) < len(self._texts) else frozenset()

    def _words_of(self, text: str) -> set[str]:
        """jieba words and each run's last three characters (the kind: 电池包), English words,
        and ratings ("50kw")."""
        words: set[str] = set()
        for run in _CJK_RUN.findall(text):
            words.update(w for w in jieba.cut(run) if len(w) >= MIN_WORD)
            if len(run) > 3:
                words.add(run[-3:])
        words.update(_specs(text))
        latin = _CJK_RUN.sub(" ", text)
        words.update(
            w
            for w in _LATIN_WORD.findall(latin)
            if len(w) >= MIN_LATIN and w not in STOPWORDS and w not in self._plain
        )
        return words


def _a_kind(kind: str, plain: frozenset[str], common: str) -> bool:
    """A kind of equipment that names it alone: Chinese the bot's data does not use, English
    of two words or more ("battery pack")."""
    if _CJK_RUN.search(kind):
        return kind not in common
    return len(kind.split()) >= 2 and kind not in plain


def _without(text: str, models: list[str]) -> str:
    for model in models:
        text = text.replace(model, " ")
    return text


def _specs(text: str) -> set[str]:
    return {
        number + _UNITS.get(unit, unit)
        for number, latin, chinese in _SPEC.findall(text)
        for unit in [latin or chinese]
    }


def _said(folded: str, specs: set[str], word: str) -> bool:
    """The customer's text uses the word: a rating among its ratings, Chinese as a substring,
    English as whole words."""
    if word[0].isdigit():
        return word in specs
    return _uses(folded, word)


def _shares(text: str, word: str) -> bool:
    """Another product's text uses the word, or its twin with the other ending for a machine:
    "软水机" and "软水器" are one kind, so a customer's "软水机" names neither of a "双罐软水机"
    and an "工业软水器"."""
    twins = [word]
    if _CJK_RUN.fullmatch(word) and word[-1] in _MACHINE and len(word) > 2:
        twins += [word[:-1] + other for other in _MACHINE if other != word[-1]]
    return any(_uses(text, twin) for twin in twins)


def _uses(text: str, word: str) -> bool:
    if _CJK_RUN.search(word):
        return word in text
    if word[0].isdigit():
        return word in _specs(text)
    return re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z])", text) is not None
