"""How closely a customer's question matches an FAQ's own questions, word for word.

The answer confidence (`knowledge_base.calibration`) weighs the search's channels over the whole
item: for an FAQ that is its questions, tags and answer together. A short service question
("部署AGV要準備什麼", "how do I get the latest AGV firmware") can lead every other item clearly
and still stay under the answer bar, because the model's length term holds short questions down.
What the model does not see is whether the customer asks what one of the FAQ's questions asks:
the share of the question's words, weighted by how rare they are in the knowledge base (BM25's
idf over the lexical index), that one of the FAQ's questions also uses. Words only the answer
shares (a product's name, "-20 °C") do not count, so an FAQ whose answer mentions the model the
customer asks about does not match for that alone.

It also says what kind of question a text is where the kind rules items out: a question asking
for a size, a weight or how high something lifts asks for a specification, which a fault's
repair steps never give; and which of an item's components (a mast, a controller) a text names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import lru_cache

from knowledge_base.index import KnowledgeIndex
from knowledge_base.text import has_chinese, normalize, query_tokens, to_mandarin

_LATIN = re.compile(r"[a-z0-9]+")
# A specification asked for, in the Mandarin form of the text (Cantonese 幾大 / 幾重 read as
# 多大 / 多重): the size, dimensions or weight of something, or how high it lifts. 多高 alone is
# not one ("温度多高会报警" asks about a fault), nor 多重 before a noun ("多重报警"); in English
# only questions ("the part dimensions are off" reports a fault).
_SPECIFICATION = re.compile(
    r"(尺寸|外形|规格|大小|重量|体积)[^，。？?,.!！]{0,4}(多少|多大|几)"
    r"|(举|升|提)得?多高|多重(?=[？?吗呢啊]|$)"
    r"|\bwhat size\b|\bhow (big|heavy|tall|wide)\b|\bwhat (are )?the dimensions\b|\bweighs?\b"
    r"|(噪音|噪声|声音)[^，。？?,.!！]{0,4}(多少|多大|几)|(多少|几多|几)分贝"
    r"|(功率|耗电量?|用电量)[^，。？?,.!！]{0,4}(多少|多大|几)"
    r"|\bwhat('?s| is) the (noise|sound) level\b|\bhow (loud|noisy) is\b|\bhow many (decibels|db)\b"
    r"|\bwhat('?s| is) the power (consumption|rating|draw)\b"
    r"|\bhow (much|many) (power|electricity|kw)\b"
)

# The customer says the equipment shows no alarm or code ("没有报警", "冇報警", "no alarm at
# all", "no error code"), not a question about one ("没有报警代码吗").
_NO_ALARM = re.compile(
    r"(没有?|无|不|并没有?|也没有?)(任何)?(报警|报错|故障码|代码|错误码)(?!(代码)?[吗呢?？])"
    r"|\bno (alarm|error|fault|code|error code|alarm code)s?\b(?! (means|mean)\b)"
    r"|\bwithout (an?|any) (alarm|error|code)\b"
)


def word_weights(index: KnowledgeIndex, tokens: Iterable[str]) -> dict[str, float]:
    """BM25's idf of each token in the index's lexical documents; a token no item uses weighs
    as much as the rarest word (it is what the question is about, and no item says it)."""
    lexical = index.lexical
    distinct = set(tokens)
    if lexical is None:
        return dict.fromkeys(distinct, 1.0)
    vocab = lexical.vocab_dict
    indptr = lexical.scores["indptr"]
    documents = max(int(lexical.scores["num_docs"]), 1)
    weights = {}
    for token in distinct:
        number = vocab.get(token)
        df = int(indptr[number + 1] - indptr[number]) if number is not None else 0
        weights[token] = math.log(1 + (documents - df + 0.5) / (df + 0.5))
    return weights


def uses_word(index: KnowledgeIndex, word: str) -> bool:
    """Whether the index's lexical documents use every token of `word` (without a lexical
    channel nothing can be told apart, and every word counts as used)."""
    if index.lexical is None:
        return True
    vocab = index.lexical.vocab_dict
    tokens = query_tokens(word)
    return bool(tokens) and all(token in vocab for token in tokens)


def question_match(index: KnowledgeIndex, query: str, questions: Iterable[str]) -> float:
    """The largest share (0..1) of the query's weighted words that one of `questions` uses."""
    words = set(query_tokens(query))
    if not words:
        return 0.0
    weights = word_weights(index, words)
    total = sum(weights.values())
    best = 0.0
    for question in questions:
        shared = words & set(query_tokens(question))
        best = max(best, sum(weights[word] for word in shared) / total)
    return best


def asks_for_specification(text: str) -> bool:
    """Whether the text asks for a size, dimensions, a weight, a lifting height, a noise level
    or a power rating: a specification, which no fault's repair steps give."""
    return bool(_SPECIFICATION.search(_mandarin(text)))


def says_no_alarm(text: str) -> bool:
    """Whether the customer says no alarm or code shows: of two close faults, the one that
    comes with an alarm code is then the less likely."""
    return bool(_NO_ALARM.search(_mandarin(text)))


def names_any(text: str, names: Iterable[str]) -> bool:
    """Whether the text names one of `names` (a component's name or aliases): a Chinese name of
    two characters or more as a substring of the text's Mandarin form, another as whole words."""
    folded = _mandarin(text)
    words = f" {' '.join(_LATIN.findall(folded))} "
    for name in names:
        form = _mandarin(name)
        if has_chinese(form):
            if len(form) >= 2 and form in folded:
                return True
        elif (latin := " ".join(_LATIN.findall(form))) and f" {latin} " in words:
            return True
    return False


# Memoised: a message's text is read by several rules, and component names recur every message;
# the dialect table's one large pattern costs about half a millisecond a text.
@lru_cache(maxsize=8192)
def _mandarin(text: str) -> str:
    """The text's comparable Mandarin form: normalized, Cantonese read as Mandarin."""
    return to_mandarin(normalize(text))
