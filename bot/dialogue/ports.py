"""What the dialogue needs from the rest of the service, as small interfaces.

The composition root (the messages domain, the chat command, the evaluation) passes in the real
NLU interpreter, knowledge service and ticket desk; the dialogue never reads settings itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from knowledge_base.encoders import Encoder


class Interpreter(Protocol):
    """Rasa-style NLU: `{"intent": {"name", "confidence"}, "entities": [{"entity", "value"}]}`."""

    def parse(self, text: str) -> dict[str, Any]: ...

    def sentence_embeddings(self, text: str) -> list[tuple[Encoder, str]]:
        """What parsing `text` embeds: (encoder, string) pairs."""
        ...


class NoInterpreter:
    """No NLU model: every message is `nlu_fallback`, so the dialogue routes by the phrase
    patterns of dialogue.yml and the knowledge base alone (the baseline the NLU must beat)."""

    def parse(self, text: str) -> dict[str, Any]:
        return {"text": text, "intent": {"name": "nlu_fallback", "confidence": 0.0}, "entities": []}

    def sentence_embeddings(self, text: str) -> list[tuple[Encoder, str]]:
        return []


@dataclass(frozen=True)
class Candidate:
    """A knowledge base item a search returned, with the facets a clarifying question uses."""

    id: str
    type: str  # "fault" or "faq"
    score: float
    title: str = ""
    products: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    confidence: float | None = None  # probability it answers the query (KB calibration)
    category: str = ""  # the item's kb-format category (warranty, parts, maintenance, ...)


def lead_of(hits: Sequence[Candidate]) -> float:
    """How far the best hit's search score is ahead of the next one's (all of it when alone)."""
    return hits[0].score - (hits[1].score if len(hits) > 1 else 0.0)


@dataclass(frozen=True)
class Mentions:
    """Known products and alarm codes a text names, and code-like strings the KB does not know."""

    products: frozenset[str] = frozenset()
    codes: frozenset[str] = frozenset()
    unknown_codes: frozenset[str] = frozenset()
    # The products a kind of equipment names ("激光机": every laser cutter), no model named.
    kinds: frozenset[str] = frozenset()


class Knowledge(Protocol):
    """Search and answers over the fault knowledge base."""

    @property
    def threshold(self) -> float:
        """A top score under it: no good answer at all."""
        ...

    @property
    def answer_confidence(self) -> float:
        """An answer needs at least this confidence."""
        ...

    def search(self, text: str, lang: str, k: int) -> list[Candidate]: ...

    def embed_ahead(self, texts: Sequence[tuple[Encoder, str]], queries: Sequence[str]) -> None:
        """Embed what the NLU embeds (`texts`: encoder and string) with the search texts of
        `queries`, in one pass where they share the encoder: `search` then finds them cached."""
        ...

    def answer(self, item_id: str, lang: str) -> str: ...

    def mentions(self, text: str) -> Mentions: ...

    def named_products(self, text: str, among: list[str]) -> frozenset[str]:
        """The one product of `among` the words of its names in `text` point to, if any."""
        ...

    def product_names(self, lang: str) -> dict[str, str]: ...

    def own_words(self) -> list[str]:
        """Every name, alias and product line the knowledge base gives its products."""
        ...

    def part_words(self) -> list[str]:
        """Every name and alias the knowledge base gives its products' components."""
        ...

    def uses_word(self, word: str) -> bool:
        """Whether the knowledge base's own texts use this word (its search vocabulary)."""
        ...

    def faq_services(self, faq_id: str) -> frozenset[str]:
        """The after-sales services an FAQ's questions name (the hotline, the warranty …)."""
        ...


@dataclass
class TicketRequest:
    """A ticket the dialogue asks for; triage fills priority and due times. The request's
    details are written into `description`; a hand-over shows as the conversation's status."""

    subject: str
    description: str
    category: str
    customer: dict[str, Any]
    product_id: str | None = None
    fault_id: str | None = None
    urgency: str | None = None


class TicketDesk(Protocol):
    """Tickets, created in the caller's transaction (`session`)."""

    async def create(self, session: AsyncSession, request: TicketRequest) -> dict[str, Any]: ...

    async def add_details(
        self, session: AsyncSession, ticket_id: str, note: str, urgency: str | None
    ) -> dict[str, Any]:
        """What the customer adds to a ticket just made: a note, and a raised priority when
        they say it is urgent."""
        ...

    async def get(
        self, session: AsyncSession, ticket_id: str, customer: dict[str, Any]
    ) -> dict[str, Any] | None: ...

    async def open_for(
        self, session: AsyncSession, customer: dict[str, Any]
    ) -> list[dict[str, Any]]: ...
