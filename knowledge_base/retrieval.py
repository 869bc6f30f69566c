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
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from knowledge_base.index import KnowledgeIndex
from knowledge_base.text import tokenize


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


def question_match(index: KnowledgeIndex, query: str, questions: Iterable[str]) -> float:
    """The largest share (0..1) of the query's weighted words that one of `questions` uses."""
    words = set(tokenize(query))
    if not words:
        return 0.0
    weights = word_weights(index, words)
    total = sum(weights.values())
    best = 0.0
    for question in questions:
        shared = words & set(tokenize(question))
        best = max(best, sum(weights[word] for word in shared) / total)
    return best
