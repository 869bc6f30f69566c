"""One way to page and sort every list route (tickets, audit, deliveries, assets, alarms, agents).

A list takes `limit` (1-500, default 50), `offset` and `sort` (a field name, `-` in front for
descending, from the fields the route names) and answers the envelope
`{"items": [...], "total": <every match>, "limit", "offset"}`; filters are plain query
parameters of each route. A route declares its sortable columns once:

    page: PageRequest = Depends(paging(created_at=Ticket.created_at, default="-created_at"))
    rows, total = await page.fetch(session, select(Ticket).where(...), tiebreak=Ticket.id)
    return TicketPage.of(rows_as_models, total, page)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

MAX_LIMIT = 500
MAX_OFFSET = 10_000_000
Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """One page of a list: its items, how many match in all, and the page asked for."""

    items: list[Item]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, items: Sequence[Item], total: int, page: PageRequest) -> Self:
        return cls(items=list(items), total=total, limit=page.limit, offset=page.offset)


@dataclass(frozen=True)
class PageRequest:
    """The page a caller asked for, with the column its `sort` names."""

    limit: int
    offset: int
    column: InstrumentedAttribute[Any]
    descending: bool

    async def fetch(
        self, session: AsyncSession, query: Select[Any], *, tiebreak: InstrumentedAttribute[Any]
    ) -> tuple[list[Any], int]:
        """The page's rows of `query` (filters applied already) and how many match in all;
        `tiebreak` (a unique column) keeps the order stable between pages."""
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        order = [self.column, tiebreak]
        rows = await session.scalars(
            query.order_by(*(c.desc() if self.descending else c.asc() for c in order))
            .limit(self.limit)
            .offset(self.offset)
        )
        return list(rows), int(total or 0)


def paging(*, default: str, **columns: InstrumentedAttribute[Any]) -> Callable[..., PageRequest]:
    """The `limit`/`offset`/`sort` query parameters of a list sortable by `columns`."""
    names = "|".join(re.escape(name) for name in columns)
    described = ", ".join(columns)

    def dependency(
        limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Items per page."),
        offset: int = Query(0, ge=0, le=MAX_OFFSET, description="Items to skip."),
        sort: str = Query(
            default,
            pattern=f"^-?({names})$",
            description=f"Sort by one of {described}; `-` in front for descending.",
        ),
    ) -> PageRequest:
        name = sort.removeprefix("-")
        return PageRequest(limit, offset, columns[name], descending=sort.startswith("-"))

    return dependency
