"""The desk embeds the texts of messages that arrive together in one batch before each is read:
one call to the encoder for them, the same vectors as one at a time, bounded batches, and a
failed batch only leaves the embedding to the reading."""

from __future__ import annotations

import asyncio

import numpy as np

from intake_api.messages.prefetch import QueryBatcher
from knowledge_base.encoders import QUERY_TEXTS, CachedEncoder
from tests.knowledge_base.test_encoders import Counting

TEXTS = ["HX-37 面板显示A-141", "compressor trips with code A112", "部機成日跳停", "转人工", "1"]


async def test_messages_arriving_together_share_one_embedding_with_the_same_vectors() -> None:
    inner = Counting()
    cached = CachedEncoder(inner)
    batcher = QueryBatcher(cached.prefetch)
    await asyncio.gather(*(batcher.embed(text) for text in TEXTS))
    assert inner.calls == [TEXTS]
    inner.calls.clear()
    for text in TEXTS:  # the reading finds each text cached, as embedded on its own
        np.testing.assert_allclose(
            cached.encode([text])[0], inner.encode([text])[0], rtol=0, atol=1e-5
        )
    assert inner.calls == [[text] for text in TEXTS]  # only the reference embeddings above


async def test_batches_are_bounded_and_a_later_arrival_waits_for_the_next() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> None:
        calls.append(texts)

    batcher = QueryBatcher(embed, max_batch=2)
    await asyncio.gather(*(batcher.embed(text) for text in TEXTS))
    await batcher.embed("谢谢")  # alone: embedded at once, in a call of its own
    assert calls == [TEXTS[:2], TEXTS[2:4], TEXTS[4:], ["谢谢"]]


def test_prefetch_keeps_the_encoders_one_thread_group_size() -> None:
    inner = Counting()
    cached = CachedEncoder(inner)
    texts = [f"报警代码 A-{n}" for n in range(QUERY_TEXTS * 2 + 1)]
    cached.prefetch([*texts, texts[0]])  # a repeat is embedded once
    assert [len(call) for call in inner.calls] == [QUERY_TEXTS, QUERY_TEXTS, 1]
    cached.prefetch(texts)
    assert len(inner.calls) == 3  # all cached


async def test_a_failed_batch_leaves_the_embedding_to_the_reading() -> None:
    def broken(texts: list[str]) -> None:
        raise RuntimeError("encoder unavailable")

    batcher = QueryBatcher(broken)
    await asyncio.wait_for(asyncio.gather(*(batcher.embed(text) for text in TEXTS)), 10)
