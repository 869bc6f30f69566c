"""Text handling for retrieval: normalization, tokenization, language/script detection, codes.

Customers write Simplified or Traditional Chinese or English, in full- or half-width forms, with
model numbers and alarm codes typed any way (`AC300`, `ac-300`, `AC 300`, `E-03`, `e3`, `报E03`,
`E09-2`). Everything here folds those variants to one form so that the lexical and exact channels
of the index compare like with like. Code and model matching is done against the knowledge base's
KNOWN codes and product ids/aliases (`CodeMatcher`): a generic regex alone would take the model
`BM-2` for an alarm code.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from re import _constants as _sre_constants  # type: ignore[attr-defined]
from re import _parser as _sre_parser  # type: ignore[attr-defined]
from typing import Any

import jieba
import yaml
from opencc import OpenCC

jieba.setLogLevel(60)  # jieba prints its dictionary loading to stderr otherwise

LANG_ZH = "zh"
LANG_EN = "en"
SCRIPT_HANS = "zh-Hans"
SCRIPT_HANT = "zh-Hant"

# Unified ideographs with extensions A and B-F (Cantonese writes 𨋢 "lift", U+282E2).
_CJK_CHAR = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
_CJK = re.compile(f"[{_CJK_CHAR}]")
_CJK_RUN = re.compile(f"[{_CJK_CHAR}]+")
_WORD = re.compile(r"[a-z]+|[0-9]+")
# Letters and digits as separate runs, with what separates them (for codes and model numbers).
_ALNUM_RUN = re.compile(r"[A-Z]+|[0-9]+")
_CONNECTORS = {"", "-", "_", ".", "/", " ", " - ", "- ", " -"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")

# A small English stopword list: function words that carry no fault meaning. Negations ("no",
# "not", "never") are kept on purpose: "no heat" and "heat" are different faults.
STOPWORDS = frozenset(
    """a an the and or but if then so of to in on at by for with from into onto over under
    is are was were be been being am do does did doing have has had having i me my we our us
    you your he she it its they them their this that these those there here what which who whom
    how when where why can could would should will shall may might must just also very really
    about up out off as than too again any some all each every much many more most such own
    please hi hello thanks thank get got getting gets one ones like""".split()  # noqa: SIM905
)


@lru_cache(maxsize=2)
def _opencc(config: str) -> OpenCC:
    return OpenCC(config)


# Memoised: one customer message is folded dozens of times (NLU, search, dialogue rules), and
# OpenCC's pure-Python matcher costs ~5% of a message's CPU when it runs every time.
@lru_cache(maxsize=8192)
def to_simplified(text: str) -> str:
    """Traditional Chinese folded to Simplified (other text unchanged)."""
    return _opencc("t2s").convert(text) if _CJK.search(text) else text


@lru_cache(maxsize=8192)
def to_traditional(text: str) -> str:
    """Simplified Chinese to Traditional (other text unchanged)."""
    return _opencc("s2t").convert(text) if _CJK.search(text) else text


DIALECT_FILE = Path(__file__).with_name("dialect.yml")


@lru_cache(maxsize=1)
def _dialect_data() -> dict[str, Any]:
    """dialect.yml, read once: its Cantonese words and its service words."""
    data: dict[str, Any] = yaml.safe_load(DIALECT_FILE.read_text(encoding="utf-8")) or {}
    return data


_LOOKAROUND = re.compile(r"\(\?<?[!=][^)]*\)")


@lru_cache(maxsize=1)
def _dialect() -> tuple[re.Pattern[str], tuple[str, ...]]:
    """One pattern over every Cantonese word of dialect.yml (`_dialect_alternation`) and the
    Mandarin of each alternative, by group number."""
    alternation, standard = _dialect_alternation()
    return re.compile(_at_first_chars(alternation)), standard


def _dialect_alternation() -> tuple[str, tuple[str, ...]]:
    """The words of dialect.yml as one alternation of groups (longest words first, so 系咪 wins
    over 系; of two as long, the one with a context condition first, so 快啲 is read before
    a plain 啲) and the Mandarin of each group."""
    data = _dialect_data()
    words = sorted(
        ((to_simplified(str(k)), str(v)) for k, v in (data.get("words") or {}).items()),
        key=lambda kv: (-len(_LOOKAROUND.sub("", kv[0])), not _LOOKAROUND.search(kv[0])),
    )
    alternation = "|".join(f"({word})" for word, _ in words)
    return alternation, tuple(standard for _, standard in words)


def _at_first_chars(pattern: str) -> str:
    """`pattern` behind a lookahead for the characters its matches can start with: the regex
    engine then passes over any other position on one test instead of trying each of the
    table's two hundred alternatives there (≈ 1.2 ms → 0.04 ms a text). The same matches; the
    pattern as it is when its first characters cannot be worked out."""
    ranges = _first_chars(pattern)
    if ranges is None:
        return pattern
    chars = "".join(
        re.escape(chr(low)) + (f"-{re.escape(chr(high))}" if high > low else "")
        for low, high in sorted(ranges)
    )
    return f"(?=[{chars}])(?:{pattern})"


class _Unreadable(Exception):
    """A pattern element whose first characters `_first_chars` does not work out."""


def _first_chars(pattern: str) -> set[tuple[int, int]] | None:
    """The code point ranges a match of `pattern` can start with; None when a match may be
    empty or an element is not one of the plain kinds the dialect table uses."""
    parsed = _sre_parser.parse(pattern)
    if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
        return None
    try:
        ranges, may_be_empty = _sequence_starts(parsed.data)
    except _Unreadable:
        return None
    return None if may_be_empty or not ranges else ranges


def _sequence_starts(items: Iterable[tuple[Any, Any]]) -> tuple[set[tuple[int, int]], bool]:
    """(ranges a match of the sequence can start with, whether it can match nothing)."""
    ranges: set[tuple[int, int]] = set()
    for op, arg in items:
        starts, may_be_empty = _element_starts(op, arg)
        ranges |= starts
        if not may_be_empty:
            return ranges, False
    return ranges, True


def _element_starts(op: Any, arg: Any) -> tuple[set[tuple[int, int]], bool]:
    sre = _sre_constants
    if op is sre.LITERAL:
        return {(arg, arg)}, False
    if op is sre.IN:
        ranges = set()
        for kind, value in arg:
            if kind is sre.LITERAL:
                ranges.add((value, value))
            elif kind is sre.RANGE:
                ranges.add(value)
            else:  # a negated set or a category
                raise _Unreadable
        return ranges, False
    if op in (sre.ASSERT, sre.ASSERT_NOT, sre.AT):  # zero width: look further
        return set(), True
    if op is sre.SUBPATTERN and not (arg[1] or arg[2]):  # a group without flags of its own
        return _sequence_starts(arg[3])
    if op is sre.BRANCH:
        found = [_sequence_starts(branch) for branch in arg[1]]
        return set().union(*(r for r, _ in found)), any(e for _, e in found)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        ranges, may_be_empty = _sequence_starts(arg[2])
        return ranges, may_be_empty or arg[0] == 0
    raise _Unreadable


# A Cantonese "A唔A" question (可唔可以…, 會唔會…, 要唔要…) asks what Mandarin asks with 吗
# at the end of the clause ("可以…吗"), which is how knowledge bases write their questions; a
# particle closing the clause (呀, 啊, 呢, 咩 …) gives way to the 吗. Mandarin's 可不可以 is
# left as it is.
_A_NOT_A_QUESTION = re.compile(
    r"([可会能要])唔\1([^，。？！?!,;；\n]*?)[呀啊呢啦嘛吖喇咩]*(?=[，。？！?!,;；\n]|$)"
)

# Bump when `tokenize` changes what it makes of the same text: saved lexical indexes compare it.
TOKENIZER_VERSION = 2


@lru_cache(maxsize=1)
def tokenizer_revision() -> str:
    """What the lexical tokens of a text depend on besides the text (the code's version, the
    dialect table, jieba's), so that an index saved with other tokens is re-tokenized."""
    digest = hashlib.sha1(f"{TOKENIZER_VERSION}|{jieba.__version__}|".encode())
    digest.update(DIALECT_FILE.read_bytes())
    return digest.hexdigest()


# Memoised: the search, its tokens and the dialogue's question rules read the same message.
@lru_cache(maxsize=8192)
def to_mandarin(text: str) -> str:
    """Chinese in Simplified script with colloquial Cantonese words in their Mandarin form
    ("保用幾耐" -> "保修多久"), for searching a knowledge base written in Mandarin; Latin text
    keeps its case."""
    simplified = to_simplified(text)
    if not _CJK.search(simplified):
        return simplified
    pattern, standard = _dialect()
    asked = _A_NOT_A_QUESTION.sub(r"\1\2吗", simplified)
    return pattern.sub(lambda m: standard[(m.lastindex or 1) - 1], asked)


@lru_cache(maxsize=8192)
def search_form(text: str) -> str:
    """What the search reads of a text, a query's or an item's: its Mandarin form
    (`to_mandarin`) and, after it, the usual words of each service it names in other words or
    in the other language (dialect.yml `service_words`: "service desk" → hotline 热线)."""
    return _with_service_words(to_mandarin(text))


@lru_cache(maxsize=8192)
def services_named(text: str) -> frozenset[str]:
    """The after-sales services a text names (dialect.yml `service_words`: "热线周六上班吗" →
    hotline), read in its Mandarin form."""
    return frozenset(_services_in(to_mandarin(text)))


def _services_in(mandarin: str) -> list[str]:
    """The `service_words` keys ("hotline 热线") whose patterns a Mandarin text matches, in the
    file's order."""
    return [
        words for words, patterns in _service_words() if any(p.search(mandarin) for p in patterns)
    ]


def _with_service_words(text: str) -> str:
    lowered = text.lower()
    added = [word for words in _services_in(text) for word in words.split() if word not in lowered]
    return " ".join([text, *added]) if added else text


@lru_cache(maxsize=1)
def _service_words() -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    data = _dialect_data()
    return tuple(
        (str(word), tuple(re.compile(str(p), re.IGNORECASE) for p in patterns))
        for word, patterns in (data.get("service_words") or {}).items()
    )


def fold_width(text: str) -> str:
    """NFKC: full-width letters, digits and punctuation become their half-width forms."""
    return unicodedata.normalize("NFKC", text)


def clean(text: str) -> str:
    """Control characters and replacement characters removed (binary garbage gets emptied)."""
    return _CONTROL.sub(" ", text)


def normalize(text: str) -> str:
    """One comparable form: NFKC, control chars removed, Simplified Chinese, lower case."""
    return to_simplified(clean(fold_width(text))).lower()


def has_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


def detect_lang(text: str) -> str:
    """`zh` when the text has Chinese characters, else `en`."""
    return LANG_ZH if has_chinese(text) else LANG_EN


def detect_script(text: str) -> str:
    """`zh-Hant` when t2s changes the Chinese in it, `zh-Hans` for other Chinese, else `en`."""
    if not has_chinese(text):
        return LANG_EN
    chinese = "".join(_CJK_RUN.findall(text))
    return SCRIPT_HANT if to_simplified(chinese) != chinese else SCRIPT_HANS


def stem(word: str) -> str:
    """Light English stemming: plural and verb endings folded (`leaks`, `leaking` -> `leak`)."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "es" and not word.endswith(("ses", "xes", "zes", "ches", "shes")):
                return word[:-1]
            if suffix == "s" and word.endswith("ss"):
                return word
            base = word[: len(word) - len(suffix)] + keep
            if suffix in ("ing", "ed") and len(base) > 3 and base[-1] == base[-2]:
                base = base[:-1]  # "stopped" -> "stop", "dripping" -> "drip"
            return base
    return word


def _chinese_tokens(run: str) -> list[str]:
    """jieba search-mode words plus character bigrams (robust to unknown words and typos)."""
    words = [w for w in jieba.cut_for_search(run) if w.strip()]
    bigrams = [run[i : i + 2] for i in range(len(run) - 1)]
    return words + bigrams if len(run) > 1 else words


def tokenize(text: str) -> list[str]:
    """Lexical tokens of a text as the search reads it (`search_form`: Cantonese read as
    Mandarin, the usual words of the services it names added): Chinese words and bigrams,
    English stems, digit runs."""
    norm = search_form(normalize(text))
    tokens: list[str] = []
    position = 0
    for match in _CJK_RUN.finditer(norm):
        tokens.extend(_latin_tokens(norm[position : match.start()]))
        tokens.extend(_chinese_tokens(match.group()))
        position = match.end()
    tokens.extend(_latin_tokens(norm[position:]))
    return tokens


# Memoised: the search's lexical channel and the FAQ question match tokenize the same message,
# and an FAQ's questions recur at every message that asks for one. A text's tokens depend on the
# text alone within a process (`tokenizer_revision` is fixed for its life).
@lru_cache(maxsize=8192)
def query_tokens(text: str) -> tuple[str, ...]:
    """`tokenize` of a text searched with or compared against (the index's documents, a million
    of them, are tokenized with `tokenize` and kept out of this cache)."""
    return tuple(tokenize(text))


def _latin_tokens(text: str) -> list[str]:
    """English stems without stopwords; digit runs without leading zeros (`e03` ~ `e3`)."""
    return [
        (w.lstrip("0") or "0") if w.isdigit() else stem(w)
        for w in _WORD.findall(text)
        if w not in STOPWORDS
    ]


# The shortest English word a typo is corrected in: shorter words have too many neighbours one
# letter away ("seal", "heal", "real") to tell which was meant.
MIN_RESPELLED = 5
# English words at least this common in pyspellchecker's frequency list are never typos, even
# when the knowledge base does not use them ("interval" is not "internal").
ENGLISH_WORD_COUNT = 100
# English words at least this common are everyday words, not names ("our twin tower dryer").
EVERYDAY_WORD_COUNT = 2000
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_LONG_WORD = re.compile(rf"[A-Za-z]{{{MIN_RESPELLED},}}")


def respelled(text: str, known: Callable[[str], bool]) -> str:
    """`text` with each English typo corrected to the one word of the knowledge base it is one
    typo from ("warrenty" → "warranty": a letter changed, left out, added or two swapped).
    `known` says whether the knowledge base uses a search token. A word stays as written when
    the knowledge base uses it, when it is an English word, or when it is one typo from no word
    of the knowledge base or from several (the typo says not which)."""

    def correct(match: re.Match[str]) -> str:
        word = match.group(0).lower()
        if known(stem(word)) or word in english_words():
            return match.group(0)
        found = {stem(c): c for c in sorted(_one_typo_away(word)) if known(stem(c))}
        return next(iter(found.values())) if len(found) == 1 else match.group(0)

    return _LONG_WORD.sub(correct, text)


def _one_typo_away(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    left_out = {a + b[1:] for a, b in splits if b}
    swapped = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    changed = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    added = {a + c + b for a, b in splits for c in _LETTERS}
    return (left_out | swapped | changed | added) - {word}


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """English words of MIN_RESPELLED letters or more, from pyspellchecker's frequency list (the
    common ones only: rarer entries include common misspellings)."""
    return frozenset(
        word
        for word, count in _english_counts().items()
        if len(word) >= MIN_RESPELLED and count >= ENGLISH_WORD_COUNT
    )


@lru_cache(maxsize=1)
def everyday_english_words() -> frozenset[str]:
    """English words at least EVERYDAY_WORD_COUNT common in pyspellchecker's frequency list, of
    any length: "twin", "fridge", "crown". Makers' names are rarer (Quincy 472, Otis 1,060)."""
    return frozenset(
        word for word, count in _english_counts().items() if count >= EVERYDAY_WORD_COUNT
    )


def _english_counts() -> dict[str, int]:
    resource = files("spellchecker").joinpath("resources/en.json.gz")
    counts: dict[str, int] = json.loads(gzip.decompress(resource.read_bytes()))
    return counts


# --- codes and model numbers ----------------------------------------------------------------


def code_key(text: str) -> tuple[str, ...]:
    """Canonical form of a code or model number: letter and digit runs, digits without leading
    zeros, separators dropped: `E-03`, `e3`, `E03` -> ("E", "3"); `AC 300` -> ("AC", "300")."""
    runs = _ALNUM_RUN.findall(fold_width(text).upper())
    return tuple(run.lstrip("0") or "0" if run.isdigit() else run for run in runs)


@dataclass(frozen=True)
class _Run:
    value: str
    start: int
    end: int


def _alnum_runs(text: str) -> list[_Run]:
    upper = fold_width(text).upper()
    return [
        _Run(m.group().lstrip("0") or "0" if m.group().isdigit() else m.group(), m.start(), m.end())
        for m in _ALNUM_RUN.finditer(upper)
    ]


@dataclass
class Mentions:
    """What a query names: known codes, known products, and code-like strings nobody knows."""

    codes: set[str] = field(default_factory=set)
    products: set[str] = field(default_factory=set)
    unknown_codes: set[str] = field(default_factory=set)


class CodeMatcher:
    """Finds a knowledge base's known codes and products in free text, however they are typed.

    Codes and product ids/aliases with letters or digits are matched as canonical run sequences
    (`code_key`); runs may be joined by nothing, a space or `-_./`, and a code followed by more
    runs still matches (`E09-2` names `E09` when only `E09` is known). Chinese aliases match as
    substrings after folding to Simplified. A string shaped like a known code (same letter prefix,
    then digits) that is not known is reported as an unknown code.
    """

    def __init__(
        self, codes: Iterable[str], products: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        # One key, every spelling the KB uses for it ("AL35" on one line, "AL-35" on another).
        self._codes: dict[tuple[str, ...], list[str]] = {}
        for code in codes:
            key = code_key(code)
            if key and code not in self._codes.get(key, []):
                self._codes.setdefault(key, []).append(code)
        # Each spelling with every product it names: "generator" may be an alias of two.
        self._products: dict[tuple[str, ...], set[str]] = {}
        chinese: dict[str, set[str]] = {}
        for product_id, aliases in (products or {}).items():
            for alias in [product_id, *aliases]:
                if has_chinese(alias):
                    chinese.setdefault(normalize(alias).replace(" ", ""), set()).add(product_id)
                elif key := code_key(alias):
                    self._products.setdefault(key, set()).add(product_id)
        self._chinese_aliases = _generic_aliases(chinese)
        self._code_prefixes = {key[0] for key in self._codes if key[0].isalpha() and len(key) > 1}
        self._max_len = max((len(k) for k in [*self._codes, *self._products]), default=0)

    def find(self, text: str) -> Mentions:
        """The codes (every spelling the KB has for them), product ids and unknown codes that
        `text` names. A word that names several products ("发电机", "generator") adds none of
        them when the text also names one of them alone ("gs30发电机" is the GS-30)."""
        mentions = Mentions()
        kinds: list[set[str]] = []  # what the words naming several products name
        folded = fold_width(text)
        runs = _alnum_runs(folded)
        position = 0
        while position < len(runs):
            length = self._longest_match(folded, runs, position)
            if length:
                key = tuple(run.value for run in runs[position : position + length])
                if key in self._products:
                    _named(self._products[key], mentions.products, kinds)
                else:
                    mentions.codes.update(self._codes[key])
                position += length
                continue
            if self._looks_like_code(folded, runs, position):
                value = runs[position].value + runs[position + 1].value
                mentions.unknown_codes.add(value)
                position += 2
                continue
            position += 1
        simplified = normalize(text).replace(" ", "")
        # A Cantonese name of the equipment is its Mandarin one ("粟米機" is the 玉米机).
        mandarin = normalize(to_mandarin(text)).replace(" ", "") if has_chinese(text) else ""
        for alias, product_ids in self._chinese_aliases.items():
            if alias in simplified or alias in mandarin:
                _named(product_ids, mentions.products, kinds)
        for kind in kinds:
            if not kind & mentions.products:
                mentions.products |= kind
        return mentions

    def _longest_match(self, text: str, runs: list[_Run], start: int) -> int:
        """Length in runs of the longest known code/product starting at `runs[start]` that
        ends cleanly, or 0. A shorter one wins when a code after it reaches past the longer:
        with a model alias `VP-100A`, "vp100 a-08" is the VP-100 and A08, and "VP100 A08" is
        still the VP-100 (`VP100 A` is glued to the digits of A08)."""
        lengths = self._clean_lengths(text, runs, start, with_products=True)
        if not lengths:
            return 0
        for shorter in lengths[:-1]:
            if shorter + self._code_length(text, runs, start + shorter) > lengths[-1]:
                return shorter
        return lengths[-1]

    def _code_length(self, text: str, runs: list[_Run], start: int) -> int:
        lengths = self._clean_lengths(text, runs, start, with_products=False)
        return lengths[-1] if lengths else 0

    def _clean_lengths(
        self, text: str, runs: list[_Run], start: int, *, with_products: bool
    ) -> list[int]:
        """The lengths in runs, shortest first, of the known codes (and products) starting at
        `runs[start]` and ending cleanly."""
        if start >= len(runs) or (start > 0 and _joined(text, runs[start - 1], runs[start]) == ""):
            return []  # "XE03": the run is glued to what precedes it
        found = []
        for length in range(1, min(self._max_len, len(runs) - start) + 1):
            if length > 1 and not _connected(
                text, runs[start + length - 2], runs[start + length - 1]
            ):
                break
            key = tuple(run.value for run in runs[start : start + length])
            known = key in self._codes or (with_products and key in self._products)
            if known and _ends_cleanly(text, runs, start + length):
                found.append(length)
        return found

    def _looks_like_code(self, text: str, runs: list[_Run], start: int) -> bool:
        if start + 1 >= len(runs) or runs[start].value not in self._code_prefixes:
            return False
        if start > 0 and _joined(text, runs[start - 1], runs[start]) == "":
            return False
        digits = runs[start + 1]
        if not digits.value.isdigit() or _joined(text, runs[start], digits) not in ("", "-", " "):
            return False
        return _ends_cleanly(text, runs, start + 2)


def _named(products: set[str], alone: set[str], kinds: list[set[str]]) -> None:
    """A word's products: one is named alone, several are a kind (kept for later)."""
    if len(products) == 1:
        alone |= products
    else:
        kinds.append(products)


def _generic_aliases(aliases: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """Each Chinese alias with the products it names: its own, and every product with a longer
    alias containing it. In a KB merged from two makers, one's `螺杆机` (a screw chiller) is also
    the other's `37千瓦螺杆机` (a screw compressor): the word names both, not the first alone."""
    return {
        alias: {
            *own,
            *(other for longer, ids in aliases.items() if alias in longer for other in ids),
        }
        for alias, own in aliases.items()
    }


def _joined(text: str, left: _Run, right: _Run) -> str:
    return text[left.end : right.start]


def _connected(text: str, left: _Run, right: _Run) -> bool:
    return _joined(text, left, right) in _CONNECTORS


def _ends_cleanly(text: str, runs: list[_Run], end: int) -> bool:
    """A letters-only match must not be glued to digits (`BM` is not in `BM2`); other ends are
    clean: `E09-2` (a sub-code after a separator), `BM2s`, `BM2显示`."""
    if end >= len(runs):
        return True
    last, following = runs[end - 1], runs[end]
    glued = _joined(text, last, following) == ""
    return not (glued and last.value.isalpha() and following.value.isdigit())
