"""What the knowledge base knows about a ticket's product and fault, as input to triage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge_base.format import Category, Severity
from knowledge_base.models import Node


@dataclass(frozen=True)
class KbFacts:
    product_line: str | None = None
    severity: Severity | None = None
    safety_hazard: bool = False
    category: Category | None = None


def _plain_text(value: Any) -> str | None:
    """A KB text may be a string or {lang: string}; any language will do for matching."""
    if isinstance(value, dict):
        return " ".join(str(text) for text in value.values()) or None
    return str(value) if value else None


async def _node(session: AsyncSession, kind: str, node_id: str | None) -> dict[str, Any]:
    if not node_id:
        return {}
    data = await session.scalar(select(Node.data).where(Node.kind == kind, Node.id == node_id))
    return data or {}


async def kb_facts(
    session: AsyncSession, *, product_id: str | None, fault_id: str | None
) -> KbFacts:
    """Product line, fault severity, safety hazard and category from the stored KB, if known
    (stored faults were validated against the KB format on import)."""
    product = await _node(session, "products", product_id)
    fault = await _node(session, "faults", fault_id)
    return KbFacts(
        product_line=_plain_text(product.get("line")),
        severity=fault.get("severity"),
        safety_hazard=bool(fault.get("safety_hazard", False)),
        category=fault.get("category"),
    )
