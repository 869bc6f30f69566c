"""`GET /v1/kb/search`: ranked knowledge base items for a customer's text.

Public: product knowledge (fault titles and FAQ questions) is what the chat and the bot show any
customer, so this route needs no API key.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from intake_api.services import services
from knowledge_base.search import MAX_QUERY_CHARS, is_searchable
from knowledge_base.service import KnowledgeService

router = APIRouter(prefix="/v1/kb", tags=["knowledge base"])

MAX_K = 50
# The languages a search takes (in any letter case), as a pattern the OpenAPI schema states.
LANG_PATTERN = r"^([Ee][Nn]|[Zz][Hh](-([Hh][Aa][Nn][SsTt]|[Cc][Nn]|[Tt][Ww]|[Hh][Kk]))?)$"


class SearchHit(BaseModel):
    id: str
    type: str
    score: float
    title: str


@router.get("/search", response_model=list[SearchHit])
def search(
    request: Request,
    q: str = Query(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        pattern=r"\S",
        description=f"The customer's text, 1 to {MAX_QUERY_CHARS} characters, not only spaces.",
    ),
    lang: str | None = Query(
        None,
        pattern=LANG_PATTERN,
        description="zh or en (zh-Hans, zh-Hant, zh-CN, zh-TW, zh-HK too); detected if absent.",
    ),
    k: int = Query(5, ge=1, le=MAX_K, description=f"How many hits, 1 to {MAX_K}."),
) -> list[SearchHit]:
    """Best items first, each `{id, type, score, title}`; no API key needed (public knowledge).

    A top `score` below the service's no-answer threshold means no good answer. Text with
    nothing searchable in it (only punctuation or control characters) gives an empty list.
    """
    if not is_searchable(q):
        return []
    kb: KnowledgeService = services(request.app).kb
    return [SearchHit(**hit.as_dict()) for hit in kb.search(q, lang=lang, k=k)]
