"""The diagnosis frame: what a conversation has told the bot about one problem so far.

Customers write in fragments ("设备又出问题了" → "HX-37" → "面板上显示A-141"), correct themselves
("不是E07，是E08") and switch topics ("另外问一下保养周期"). The frame gathers the product(s),
alarm code(s), the customer's words about the problem, what they tried, and what the bot
suggested; each message updates it (a correction replaces), the knowledge base is searched with
it, and tickets say what it knows. It lives in the conversation's state JSON.

The words it listens for (negations, topic switches, other makers and kinds of equipment) are
data (Cantonese is read as Mandarin by the knowledge base search, knowledge_base/dialect.yml):
`bot/data/dialogue.yml` and `bot/data/frame.yml`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import jieba
import jieba.posseg
import yaml

from bot.dialogue.ports import Mentions
from bot.dialogue.prompts import DATA_DIR, DialogueTexts, fold
from knowledge_base.text import everyday_english_words, to_mandarin

FRAME_FILE = DATA_DIR / "frame.yml"
MAX_TEXTS = 4  # the customer's last messages about the problem kept for the search and tickets
_CLAUSE = re.compile(
    r"[，,。.;；!！?？、\n]+|\s+[-–—]+\s+|[—–]+|\s+but\s+|而是|但是|\s+(?=not\s)"
    r"|(?<=\S)(?=不是|唔系|唔係)"
    # "不是E05是E12": what is named after the code or model taken back is a clause of its own.
    r"|(?<=[A-Za-z0-9])\s*(?=[是係][\sA-Za-z0-9])"
)
_CJK = re.compile(r"[\u3400-\u9fff]")
_SENTENCE_END = re.compile(r"[，,。.;；!！?？\n]+\s*")
_MODEL = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,6})[\s\-_.]?(\d{1,5})(?![0-9])")
# A model in a family with a series letter: "KR-P10" (family KR, series P, number 10).
_SERIES_MODEL = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,6})[\s\-_.]([A-Za-z]{1,3})[\s\-_.]?(\d{1,5})(?![0-9])"
)
# A word that may be a maker's name ("Miele", "kohler", "ASCO"; all capitals from four letters,
# shorter ones are mostly abbreviations), and what may stand between it and the kind of
# equipment it names: a space, 的, a measure word ("Speed Queen部乾衣機", "Wittmann的水温机").
_NAME = re.compile(r"(?<![A-Za-z0-9])(?:[A-Za-z][a-z]{2,}|[A-Z]{4,})(?![A-Za-z0-9])")
_MEASURE = re.compile(r"\s*的?\s*[部台个架套款只]?\s*")
# What may stand between a Chinese maker's name and the kind ("海容的冰柜", "力健部跑步机").
# Not glued to Latin letters or digits: "用RO水入蒸焗炉" names water, not a maker.
_CJK_BEFORE_KIND = re.compile(
    r"(?<![A-Za-z0-9])([\u3400-\u9fff]+?)(?:的|牌|品牌)?(?:[这那呢嗰]?[部台个架套款只])?$"
)
# A word jieba's dictionary counts this often or more is everyday Chinese, not a maker's name
# (健身房 113, 会所 39; the makers on the read sets: 英派斯 3, 康明斯 12, 海天 38, or none).
MAKER_MAX_FREQ = 40
# jieba's parts of speech a maker's name is never given: verbs, numbers, measure words,
# pronouns, adverbs, prepositions, directions, times, particles ("要装", "四台", "上次").
_NOT_A_NAME = ("v", "m", "q", "r", "d", "p", "f", "t", "u", "c", "y", "e", "o", "s")
# A model number in one of our names: letters, then digits ("TS-800 自动转换开关" → TS-800), or
# one digit with a letter after it ("HB-5H 混合逆变器"; not "Type 2", a kind of plug).
_MODEL_NUMBER = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{1,6}[\s\-_.]?(?:\d{2,5}[A-Za-z]?|\d[A-Za-z]{1,2})(?![A-Za-z0-9])"
)
# A model number just ahead ("336", "pc200", "d6t"): letters, then two digits or more.
_MODEL_AHEAD = re.compile(r"[a-z]{0,3}[\s\-_.]?\d{2,}")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,}")
# What a reply naming the equipment says around its name ("是那台PB-110", "KS70R嚟㗎", "the
# SF-90M one").
_FILLER_CHARACTERS = set("是的那这台部个嗰呢啦呀吧啊哦嘅款只架套嚟㗎喎囉咧吖")
_FILLER_WORDS = frozenset({"model", "unit", "machine", "that", "this", "with", "ours", "mine"})
# Courtesies and pleas around a name say nothing about the problem ("不好意思，是HX-75那台",
# "製冰機點算": what to do, not what is wrong). Matched on folded text.
_NO_DESCRIPTION = re.compile(
    r"不好意思|对不起|唔好意思|怎么办|怎么搞|怎么弄|咋办|咋整|点算好?|点搞|点算|"
    r"\b(sorry|oops|my bad|help|what (do|should|can) (i|we) do)\b"
)
_LATIN_WORDS = re.compile(r"[a-z]+(?:-[a-z]+)*")
_LOWER_WORD = re.compile(r"(?<![A-Za-z])[a-z]+(?![A-Za-z])")
# The bot's own training and dialogue data: words customers use that name no maker.
_BOT_TEXTS = ("nlu/en.yml", "dialogue.yml", "domain.yml")


@dataclass
class Frame:
    """One problem as known so far; stored as JSON in the dialogue state."""

    products: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    suggested: list[str] = field(default_factory=list)
    offered: list[str] = field(default_factory=list)  # the last "did you mean" items
    serial: str | None = None
    site: str | None = None
    other_maker: str | None = None
    asked: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Frame:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def is_empty(self) -> bool:
        return not (self.products or self.codes or self.texts)

    def next_topic(self) -> Frame:
        """A new frame for a new question about the same equipment."""
        return Frame(products=list(self.products), serial=self.serial, site=self.site)

    def after_solved(self) -> Frame:
        """A new frame once the problem is solved: the unit known by its serial and site stays,
        the model spoken of does not (the next problem may be another unit's)."""
        return Frame(serial=self.serial, site=self.site)

    def query(self) -> str:
        """The text the knowledge base is searched with: models, codes, the customer's words."""
        return " ".join([*self.products, *self.codes, *self.texts[-3:]]).strip()

    def symptom(self) -> str:
        """The customer's own description, the latest messages first cut to one line."""
        return " ".join(self.texts[-3:]).strip()


@dataclass(frozen=True)
class Update:
    """What one message changed in the frame."""

    new_codes: frozenset[str] = frozenset()
    new_products: frozenset[str] = frozenset()
    corrected: bool = False  # the message took something back ("不是E07")
    text: str = ""  # the message without the clauses it took back


@lru_cache
def _frame_data(path: Path = FRAME_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


class FrameReader:
    """Reads messages into a frame, with the knowledge base's `mentions` for models and codes."""

    def __init__(
        self,
        texts: DialogueTexts,
        mentions: Callable[[str], Mentions],
        own_names: Iterable[str] = (),
        data: Mapping[str, Any] | None = None,
        known: Callable[[str], bool] | None = None,
        named: Callable[[str, list[str]], frozenset[str]] | None = None,
        parts: Iterable[str] = (),
    ) -> None:
        data = data if data is not None else _frame_data()
        self._texts = texts
        self._mentions = mentions
        # The one of several models the words of their names point to (`Knowledge.named_products`).
        self._named = named or (lambda _text, _among: frozenset())
        self._negations = [fold(w) for w in _flat(texts.cues.get("negation"))]
        self._topic = [fold(w) for w in _flat(texts.cues.get("topic_switch"))]
        self._topic_inside = [fold(w) for w in _flat(texts.cues.get("topic_switch_inside"))]
        self._openers = [re.compile(p, re.IGNORECASE) for p in _flat(texts.cues.get("ask_openers"))]
        own = " ".join(fold(name) for name in own_names)
        self._makers = _others(data.get("other_makers"), own)
        self._everyday_makers = _others(data.get("everyday_makers"), own)
        # Another appliance, unless our products have it as a part ("the kiosk's printer").
        self._equipment = _others(
            data.get("other_equipment"), " ".join([own, *(fold(part) for part in parts)])
        )
        self._kinds = kinds_of_equipment(own_names)
        self._models = _model_pattern(_model_numbers(own_names))
        # The same, in any case: the frame's texts are searched as written, not folded.
        self._models_any_case = (
            re.compile(self._models.pattern, re.IGNORECASE) if self._models else None
        )
        # Whole names, and the Chinese part of each ("螺杆空压机" of "AC-300 螺杆空压机"); an
        # English name's single words ("pump") may also be the customer's description.
        names = {fold(name) for name in own_names}
        names |= {part for name in names for part in name.split() if _CJK.search(part)}
        self._own_names = sorted((n for n in names if len(n) >= 2), key=len, reverse=True)
        self._known = known or (lambda _word: True)
        self._plain = plain_words(data)
        self._not_maker_endings = tuple(str(c) for c in data.get("not_maker_endings") or [])
        self._cjk_kinds = sorted((k for k in self._kinds if _CJK.search(k)), key=len, reverse=True)
        self._units = [fold(str(w)) for w in _flat(data.get("equipment_words"))]

    # --- reading a message ---------------------------------------------------------------

    def clauses(self, text: str) -> list[tuple[str, bool]]:
        """The message's clauses, each with whether it takes something back."""
        found = []
        for clause in _CLAUSE.split(text):
            if not clause.strip():
                continue
            folded = fold(clause)
            negated = any(_opens_with(folded, word) for word in self._negations)
            found.append((clause.strip(), negated))
        return found

    def update(self, frame: Frame, text: str) -> Update:
        """Fold one customer message into `frame`: new codes and models replace the old ones, a
        clause that takes something back removes it, and the words join the description."""
        codes: set[str] = set()
        products: set[str] = set()
        dropped_codes: set[str] = set()
        dropped_products: set[str] = set()
        wrong_unit = False  # "sorry, wrong unit": the equipment is taken back, none named
        other_unit = False  # "a different welder of ours": not the unit spoken of, none named
        kept = []
        clauses = self.clauses(text)
        for clause, negated in clauses:
            found = self._mentions(clause)
            if negated:
                dropped_codes |= found.codes
                dropped_products |= found.products
                wrong_unit = wrong_unit or (not found.products and self._names_unit(clause))
            else:
                codes |= found.codes
                products |= found.products
                other_unit = other_unit or self._other_unit(clause)
                kept.append(clause)
        if not clauses:
            kept = [text]
        if not products and len(kept) > 1:
            # The words of a name and the code may stand in different clauses ("部储能机…，出A205").
            products |= self._mentions(", ".join(kept)).products
        if not products and len(frame.products) > 1:
            # "模温机报警了" → "油式的那台": which of the models the frame holds.
            products |= self._named(" ".join(kept) or text, list(frame.products))
        old_codes = set(frame.codes)
        if codes:
            frame.codes = sorted(codes)
        elif dropped_codes:
            frame.codes = [c for c in frame.codes if c not in dropped_codes]
        if products:
            frame.products = sorted(products)
        elif dropped_products:
            frame.products = [p for p in frame.products if p not in dropped_products]
        elif wrong_unit or other_unit:
            frame.products = []
        replaced = (old_codes - set(frame.codes)) | dropped_codes
        if replaced:
            # The customer's earlier words were about the code they took back.
            frame.texts = [t for t in frame.texts if not self._mentions(t).codes & replaced]
        clean = " ".join(kept).strip()
        if clean and not self.names_only(clean) and not self._only_opener(clean):
            frame.texts = [*frame.texts, clean][-MAX_TEXTS:]
        maker = self.other_maker(text)
        if maker:
            frame.other_maker = maker
        elif frame.other_maker and self._models is not None and self._models.search(fold(text)):
            frame.other_maker = None  # "不好意思，是ND-250M": one of ours after all
        return Update(
            new_codes=frozenset(codes - old_codes),
            new_products=frozenset(products),
            corrected=bool(dropped_codes or dropped_products or any(n for _, n in clauses)),
            text=clean,
        )

    def names_only(self, text: str) -> bool:
        """The text names our equipment and says nothing else ("PB-110", "液压折弯机", "the
        SF-90M one", "是RO500嘅"): no words of a description to search with."""
        found = self._mentions(text)
        if found.codes or not found.products:
            return False
        rest = fold(text)
        for name in self._own_names:
            rest = rest.replace(name, " ")
        rest = _MODEL_NUMBER.sub(" ", self._without_name_parts(_NO_DESCRIPTION.sub(" ", rest)))
        words = [w for w in _LATIN_WORDS.findall(rest) if len(w) > 3 and w not in _FILLER_WORDS]
        chinese = [c for c in _CJK.findall(rest) if c not in _FILLER_CHARACTERS]
        return not words and len(chinese) <= 1

    def _without_name_parts(self, folded: str) -> str:
        """The text without runs of three or more Chinese characters that stand in one of our
        names ("十二头" of "十二头十五针电脑平绣机"): part of a name is still a name."""
        parts, longest = self._name_parts
        out, i = [], 0
        while i < len(folded):
            end = next(
                (
                    j
                    for j in range(min(len(folded), i + longest), i + 2, -1)
                    if folded[i:j] in parts
                ),
                None,
            )
            out.append(folded[i] if end is None else " ")
            i = i + 1 if end is None else end
        return "".join(out)

    @cached_property
    def _name_parts(self) -> tuple[frozenset[str], int]:
        """Every run of three or more Chinese characters inside our names, and the longest."""
        parts = {
            run[a:b]
            for name in self._own_names
            for run in _CJK_RUN.findall(name)
            for a in range(len(run))
            for b in range(a + 3, len(run) + 1)
        }
        return frozenset(parts), max(map(len, parts), default=0)

    def _other_unit(self, clause: str) -> bool:
        """The clause speaks of another of the customer's units (dialogue.yml `other_unit`): a
        measure word for a machine in Chinese, a unit or a kind of ours in English."""
        found = self._texts.phrase_search("other_unit", fold(clause))
        return found is not None and (bool(_CJK.search(found.group(0))) or self._names_unit(clause))

    def _names_unit(self, clause: str) -> bool:
        """The clause speaks of a piece of equipment: a word for one (frame.yml
        `equipment_words`) or a kind of equipment our names use ("逆变器")."""
        folded = fold(clause)
        return any(_contains(folded, word) for word in [*self._units, *self._kinds])

    def opens_new_topic(self, text: str) -> bool:
        """The message opens with a topic switch ("另外问一下…", "by the way…")."""
        folded = fold(text)
        return any(_opens_with(folded, word) for word in self._topic)

    def later_topic(self, text: str) -> str | None:
        """The rest of the message from a later sentence that switches topic (dialogue.yml
        `topic_switch_inside`): "好的我去看看同步器。顺便问下你们热线几点下班" asks the hotline's
        hours, not the answer's problem again. None when no later sentence does."""
        for found in _SENTENCE_END.finditer(text):
            rest = text[found.end() :].strip()
            folded = fold(rest)
            if rest and any(_opens_with(folded, word) for word in self._topic_inside):
                return rest
        return None

    def other_maker(self, text: str) -> str | None:
        """Another maker's name, another kind of appliance, or words saying the equipment is not
        ours, in the message. An appliance beside one of our models named by its number is
        what ours works with ("GS30一开空调和冷库就跳闸"), not the customer's equipment."""
        folded = fold(text)
        ours = self._models is not None and self._models.search(folded) is not None
        for name in self._makers + ([] if ours else self._equipment):
            if _contains(folded, name) and _as_words(folded, name):
                return name
        match = self._texts.phrase_search("other_maker", folded)
        if match:
            return match.group(0)
        return self._everyday_maker(folded) or self._unlisted_maker(text)

    def _everyday_maker(self, folded: str) -> str | None:
        """A maker whose name is also an everyday word (frame.yml `everyday_makers`), written
        just before a model number that is not ours or a kind of equipment the knowledge base
        names ("cat 336", "兄弟的拷边机"; not "the cat", "兄弟，KV737")."""
        for name in self._everyday_makers:
            for found in re.finditer(rf"(?<![a-z]){re.escape(name)}(?![a-z])", folded):
                rest = _past_measure(folded[found.end() :])
                ours = self._models is not None and self._models.match(rest) is not None
                if (_MODEL_AHEAD.match(rest) and not ours) or self._opens_with_kind(rest):
                    return name
        return None

    def _opens_with_kind(self, rest: str) -> bool:
        """A folded text opens with a kind of equipment the knowledge base names."""
        return any(_opens_with(rest, kind) for kind in self._kinds)

    def _unlisted_maker(self, text: str) -> str | None:
        """A maker no list names: a word that neither the knowledge base (`known`, its search
        vocabulary) nor the bot's own data uses, written just before a kind of equipment the
        knowledge base names ("Girbau ironer", "our miele dryer", "Speed Queen部乾衣機", "海容的
        冰柜"). Our own brand is in the knowledge base's texts, so it is known."""
        return self._unlisted_latin_maker(text) or self._unlisted_chinese_maker(text)

    def _unlisted_chinese_maker(self, text: str) -> str | None:
        """The Chinese word just before the first kind of equipment the message names, when it
        reads as a name (`_a_maker_name`)."""
        folded = fold(to_mandarin(text))
        for kind in self._cjk_kinds:
            start = folded.find(kind)
            if start < 0:
                continue
            before = _CJK_BEFORE_KIND.search(folded[:start])
            if before is None:
                return None
            word, flag = list(jieba.posseg.cut(before.group(1)))[-1]
            return word if self._a_maker_name(word, flag) else None
        return None

    def _a_maker_name(self, word: str, flag: str) -> bool:
        """Two Chinese characters or more that jieba's dictionary hardly knows
        (MAKER_MAX_FREQ), tagged as no verb, number or particle, used by neither the knowledge
        base nor the bot, not ending like a place or a type ("冻房", "手推式")."""
        if len(word) < 2 or not all(_CJK.match(c) for c in word):
            return False
        if flag.startswith(_NOT_A_NAME) or (jieba.dt.FREQ.get(word) or 0) >= MAKER_MAX_FREQ:
            return False
        if word.endswith(self._not_maker_endings) or word in bot_chinese():
            return False
        return not self._known(word)

    def _unlisted_latin_maker(self, text: str) -> str | None:
        """A Latin word that may be a maker's name (`_NAME`) just before a kind of equipment."""
        for match in _NAME.finditer(text):
            word = match.group(0)
            if word.lower() in self._plain or self._known(word):
                continue
            if word.lower() in everyday_english_words():
                continue
            if self._opens_with_kind(_past_measure(fold(text[match.end() :]))):
                return word
        return None

    def without_topic_cue(self, text: str) -> str:
        """The message without the topic-switch words it opens with ("另外问一下保养周期" →
        "问一下保养周期"), which only add noise to a search."""
        folded = fold(text)
        for word in sorted(self._topic, key=len, reverse=True):
            if _opens_with(folded, word):
                rest = text.lstrip()[len(word) :]
                return rest.lstrip(" ,，、:：") or text
        return text

    def search_text(self, text: str) -> str:
        """The text to search the knowledge base with: Chinese in Simplified, Cantonese words in
        their Mandarin form (knowledge_base/dialect.yml; Latin text keeps its case: "DXF"),
        without the clauses that take back a model or a code."""
        return self._without_opener(
            to_mandarin(self.without_topic_cue(self.without_taken_back(text)))
        )

    def frame_query(self, frame: Frame) -> str:
        """The text the frame is searched with: its models and codes, then each of the
        customer's texts as searched alone ("HX-37 保养的事情" for "想問下保養嘅嘢" and "空壓機":
        an opener is dropped where it opens a text, not only at the start of the whole)."""
        texts = [self._without_models(self.search_text(text)) for text in frame.texts[-3:]]
        return " ".join([*frame.products, *frame.codes, *texts]).strip()

    def _without_models(self, text: str) -> str:
        """A text of the frame without our model numbers: the frame's models lead its query,
        and a model taken back since ("HX-37 电机过载跳停" → "是HX-75那台") must not pull its
        items up."""
        if self._models_any_case is None:
            return text
        return " ".join(self._models_any_case.sub(" ", text).split())

    def _only_opener(self, text: str) -> bool:
        """The text only says a question comes ("问一下", "想問下"): nothing to describe the
        problem with, and in the frame's search text it would take the model before it along
        as part of an opener."""
        mandarin = to_mandarin(text).strip()
        return any(
            (found := opener.match(mandarin)) is not None and not mandarin[found.end() :].strip()
            for opener in self._openers
        )

    def _without_opener(self, text: str) -> str:
        """The searched text without an opener that only says a question comes (dialogue.yml
        `ask_openers`: "等的时候问一下，你们热线周末有人吗" → "你们热线周末有人吗")."""
        for opener in self._openers:
            found = opener.match(text)
            if found and text[found.end() :].strip():
                return text[found.end() :]
        return text

    def without_taken_back(self, text: str) -> str:
        """The message without its clauses that take back a model or a code ("sorry, it's T07
        not T21" → "sorry, it's T07"): searched, the code taken back would find its own item."""
        clauses = self.clauses(text)
        kept = [clause for clause, negated in clauses if not negated or not self._names(clause)]
        return text if len(kept) == len(clauses) or not kept else ", ".join(kept)

    def _names(self, clause: str) -> bool:
        found = self._mentions(clause)
        return bool(found.codes or found.products)


def unknown_models(text: str, mentions: Mentions, product_ids: Iterable[str]) -> list[str]:
    """Model numbers shaped like ours that are none of ours: "HX-90" when the knowledge base has
    HX-37 and HX-75, "KR-X5" (the same family, another series) when it has KR-P10 and KR-S8.
    A kind of equipment the message also names ("WX-40 洗脱机", "my DR-50 dryer") does not make
    the model ours: only one of our own model numbers in the message does."""
    ids = list(product_ids)
    prefixes: dict[str, set[str]] = {}
    for product_id in ids:
        match = _MODEL.search(product_id)
        if match:
            prefixes.setdefault(match.group(1).upper(), set()).add(match.group(2))
    codes = {c.replace("-", "").upper() for c in mentions.codes}
    found = []
    for match in _MODEL.finditer(text):
        letters, number = match.group(1).upper(), match.group(2)
        if number in prefixes.get(letters, ()):
            return []  # one of ours is named
        if letters in prefixes and f"{letters}{number}" not in codes:
            found.append(match.group(0))
    if found or mentions.products:
        return found
    return _unknown_series(text, ids)


def _unknown_series(text: str, product_ids: list[str]) -> list[str]:
    """Models of one of our families ("KR-") whose series and number are none of ours."""
    ours = {re.sub(r"[^A-Z0-9]", "", i.upper()) for i in product_ids}
    families = {m.group(1).upper() for i in product_ids if (m := _SERIES_MODEL.match(i))}
    return [
        match.group(0)
        for match in _SERIES_MODEL.finditer(text)
        if match.group(1).upper() in families
        and re.sub(r"[^A-Z0-9]", "", match.group(0).upper()) not in ours
    ]


def kinds_of_equipment(names: Iterable[str]) -> set[str]:
    """The kinds of equipment the knowledge base's names say: an English name's last word and
    the words just before it ("DR-35 gas tumble dryer" → dryer, tumble dryer, gas tumble dryer:
    "our sumitomo demag moulding machine"), a Chinese name's run of characters and its last
    three (燃气滚筒烘干机 → 烘干机)."""
    kinds: set[str] = set()
    for name in names:
        folded = fold(str(name))
        for run in _CJK_RUN.findall(folded):
            kinds.update({run, run[-3:]})
        if not _CJK.search(folded):
            words = _LATIN_WORDS.findall(folded)
            if words and len(words[-1]) >= 4:
                kinds.update(_trailing_phrases(words))
    return kinds


def _others(names: Iterable[object] | None, own: str) -> list[str]:
    """frame.yml's names of other makers or appliances, without those our own names use."""
    return [fold(str(name)) for name in names or [] if fold(str(name)) not in own]


def _model_numbers(names: Iterable[str]) -> set[str]:
    """The model numbers in our names and aliases ("AC-300", "gs30", "JP 160")."""
    return {fold(model) for name in names for model in _MODEL_NUMBER.findall(str(name))}


def _model_pattern(models: Iterable[str]) -> re.Pattern[str] | None:
    """Any of our model numbers standing in a folded text, its letters and digits apart or not
    ("rd60", "RD 60" for RD-60); None without models. Built once: every message is read by it."""
    spelled = []
    for model in sorted(models, key=len, reverse=True):
        runs = [re.escape(run) for run in re.findall(r"[a-z]+|\d+", model)]
        spelled.append(r"[\s\-_.]?".join(runs) if runs else re.escape(model))
    if not spelled:
        return None
    return re.compile(rf"(?<![a-z0-9])(?:{'|'.join(spelled)})(?![a-z0-9])")


def _trailing_phrases(words: list[str]) -> set[str]:
    """The name's last word, and it with up to two words of three letters or more before it."""
    phrases = {words[-1]}
    for start in range(len(words) - 2, max(len(words) - 4, -1), -1):
        if len(words[start]) < 3:
            break
        phrases.add(" ".join(words[start:]))
    return phrases


def plain_words(data: Mapping[str, Any] | None = None) -> frozenset[str]:
    """English words that name no maker and no product: the bot's own data's and frame.yml's
    `plain_words`."""
    data = data if data is not None else _frame_data()
    return _bot_words() | {fold(str(word)) for word in data.get("plain_words") or []}


@lru_cache
def bot_chinese() -> str:
    """The Chinese of the bot's own data (NLU examples, prompts, phrases), folded: words the
    customers use about any equipment ("机器人" in "不想跟机器人说话")."""
    texts = [DATA_DIR / name for name in (*_BOT_TEXTS, "nlu/zh.yml")]
    return "|".join(fold(path.read_text(encoding="utf-8")) for path in texts if path.exists())


@lru_cache
def _bot_words() -> frozenset[str]:
    """The English words of the bot's own data (NLU examples, prompts, responses), as written
    in lower case there: a name it capitalizes ("45 Queen Road") is no plain word."""
    words: set[str] = set()
    for name in _BOT_TEXTS:
        path = DATA_DIR / name
        if path.exists():
            words.update(_LOWER_WORD.findall(path.read_text(encoding="utf-8")))
    return frozenset(words)


def _flat(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [str(v) for group in value.values() for v in group or []]
    return [str(v) for v in value or []]


# Both first ask whether the word is there at all (a message is checked against every maker and
# cue word, and seldom holds one), then, for a Latin word, whether it stands as a whole word.
def _opens_with(folded: str, word: str) -> bool:
    if not word or not folded.startswith(word):
        return False
    return bool(_CJK.search(word)) or re.match(rf"{re.escape(word)}(?![a-z])", folded) is not None


def _past_measure(text: str) -> str:
    """`text` after what may stand between a maker's name and a kind (`_MEASURE`)."""
    return text[_MEASURE.match(text).end() :]  # type: ignore[union-attr]


def _as_words(folded: str, name: str) -> bool:
    """A Chinese name is not read across two words that each run past it: "上柴" (a maker)
    is not in "接上柴油发电机" (jieba: 接上 / 柴油 / 发电机). One word running past it is jieba's
    guess at an unknown name ("那台上柴的": 台上 / 柴), or a name that starts a word (格力空调).
    Nor is it read as the tail of one word ("重机" in "起重机")."""
    if not _CJK.search(name):
        return True
    words = list(jieba.tokenize(folded))
    for found in re.finditer(re.escape(name), folded):
        start, end = found.span()
        starts_mid_word = any(a < start < b for _, a, b in words)
        ends_mid_word = any(start < a < end < b for _, a, b in words)
        inside_a_word = any(a < start and end <= b for _, a, b in words)
        if not (starts_mid_word and ends_mid_word) and not inside_a_word:
            return True
    return False


def _contains(folded: str, word: str) -> bool:
    if word not in folded:
        return False
    if _CJK.search(word):
        return True
    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", folded) is not None
