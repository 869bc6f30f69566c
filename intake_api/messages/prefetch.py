"""Embedding the texts of messages that arrive together in one batch, before each is read.

Reading a message (NLU and KB search, `DialogueEngine.read`) embeds its text with the sentence
encoder, one message at a time. A matrix product over several short texts costs far less per
text than one text alone, so the desk first hands each new text to a `QueryBatcher`: texts that
come in while an embedding runs are embedded together in the next one, and the reading then
finds its text in the encoder's cache. A lone message is embedded at once, without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from core.logs import get_logger

log = get_logger(__name__)

# More texts than this wait for the next embedding (a bound on the slowest message's wait).
MAX_BATCH = 32


class QueryBatcher:
    """Runs `embed` (blocking, in a thread) over the texts gathered while the previous call ran.

    `embed` only fills a cache: if it fails, the reading embeds the text itself."""

    def __init__(self, embed: Callable[[list[str]], None], max_batch: int = MAX_BATCH) -> None:
        self._embed = embed
        self._max_batch = max_batch
        self._waiting: list[tuple[str, asyncio.Future[None]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def embed(self, text: str) -> None:
        """Return once `text` is embedded (with the texts that arrived beside it)."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((text, done))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        await asyncio.shield(done)  # a cancelled request leaves the others' batch alone

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # the texts of this turn of the event loop go in one batch
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                await asyncio.to_thread(self._embed, [text for text, _ in batch])
            except Exception as exc:  # noqa: BLE001 - an optimisation: the reading embeds anyway
                log.warning("batched embedding failed", error=repr(exc), texts=len(batch))
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
