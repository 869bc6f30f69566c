"""The knowledge base interchange format, version 1 (see shared `kb-format.md`), as typed models.

These models validate one item at a time; `knowledge_base.loader` reads files, merges them,
checks ids and references across files, and reports errors with file, item and key.
Extra keys are accepted and kept (the format allows more, never less).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
ItemId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]

# A text: a plain string (language detected) or {language code: text}.
LocalizedText = str | dict[str, str]
# A list of texts: a list of strings, or {language code: [texts]}.
LocalizedList = list[str] | dict[str, list[str]]

Category = Literal[
    "installation",
    "maintenance",
    "repair",
    "upgrade",
    "consulting",
    "training",
    "complaint",
    "parts",
    "warranty",
    "recycling",
    "other",
]
Severity = Literal["low", "medium", "high", "critical"]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def detect_lang(text: str) -> str:
    """`zh` when the text has Chinese characters, else `en`."""
    return "zh" if _CJK.search(text) else "en"


def texts_by_lang(value: LocalizedText | None) -> dict[str, str]:
    """A localized text as {lang: text}; a plain string goes under its detected language."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {detect_lang(value): value}
    return dict(value)


def lists_by_lang(value: LocalizedList | None) -> dict[str, list[str]]:
    """A localized list as {lang: [texts]}; plain strings are grouped by detected language."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {lang: list(items) for lang, items in value.items()}
    grouped: dict[str, list[str]] = {}
    for text in value:
        grouped.setdefault(detect_lang(text), []).append(text)
    return grouped


class _Item(BaseModel):
    model_config = ConfigDict(extra="allow", strict=False)
    id: ItemId


class Product(_Item):
    name: LocalizedText
    aliases: list[str] = Field(default_factory=list)
    line: str | None = None
    description: LocalizedText | None = None


class Component(_Item):
    name: LocalizedText
    products: list[ItemId] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)


class Part(_Item):
    name: LocalizedText
    sku: str | None = None
    components: list[ItemId] = Field(default_factory=list)
    stock_hint: str | None = None


class Solution(_Item):
    title: LocalizedText
    steps: LocalizedList
    parts: list[ItemId] = Field(default_factory=list)
    requires_engineer: StrictBool = False
    est_minutes: int | None = Field(default=None, ge=0)
    safety: LocalizedText | None = None


class Cause(_Item):
    text: LocalizedText
    solutions: list[ItemId] = Field(default_factory=list)
    likelihood: float | None = Field(default=None, ge=0.0, le=1.0)


class Fault(_Item):
    title: LocalizedText
    symptoms: LocalizedList
    products: list[ItemId] = Field(default_factory=list)
    components: list[ItemId] = Field(default_factory=list)
    codes: list[str] = Field(default_factory=list)
    questions: LocalizedList | None = None
    causes: list[ItemId] = Field(default_factory=list)
    solutions: list[ItemId] = Field(default_factory=list)
    severity: Severity = "medium"
    safety_hazard: StrictBool = False
    category: Category = "repair"
    related: list[ItemId] = Field(default_factory=list)


class Faq(_Item):
    questions: LocalizedList
    answer: LocalizedText
    products: list[ItemId] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    category: Category = "consulting"


# The node lists in the order they are written, with the model of each.
NODE_LISTS: dict[str, type[_Item]] = {
    "products": Product,
    "components": Component,
    "parts": Part,
    "solutions": Solution,
    "causes": Cause,
    "faults": Fault,
    "faqs": Faq,
}

# Which keys of which list reference which other list: the graph's edges.
REFERENCES: dict[str, dict[str, str]] = {
    "components": {"products": "products"},
    "parts": {"components": "components"},
    "solutions": {"parts": "parts"},
    "causes": {"solutions": "solutions"},
    "faults": {
        "products": "products",
        "components": "components",
        "causes": "causes",
        "solutions": "solutions",
        "related": "faults",
    },
    "faqs": {"products": "products"},
}

# Edge names per (list, key), as the format's "Edges" section names them.
EDGE_NAMES: dict[tuple[str, str], str] = {
    ("components", "products"): "part_of",
    ("parts", "components"): "fits",
    ("solutions", "parts"): "needs",
    ("causes", "solutions"): "resolved_by",
    ("faults", "products"): "affects",
    ("faults", "components"): "affects",
    ("faults", "causes"): "caused_by",
    ("faults", "solutions"): "resolved_by",
    ("faults", "related"): "related",
    ("faqs", "products"): "about",
}


class KnowledgeBase(BaseModel):
    """A whole knowledge base: every node list, merged from one or more files."""

    model_config = ConfigDict(extra="ignore")
    version: Literal[1] = 1
    products: list[Product] = Field(default_factory=list)
    components: list[Component] = Field(default_factory=list)
    parts: list[Part] = Field(default_factory=list)
    solutions: list[Solution] = Field(default_factory=list)
    causes: list[Cause] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)
    faqs: list[Faq] = Field(default_factory=list)
