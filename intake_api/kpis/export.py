"""The dashboard's downloads: every figure as CSV rows, and a knowledge gap as a draft for the
knowledge base in the interchange format (docs/kb-format.md), for a writer to complete."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from typing import Any

import yaml

from intake_api.kpis.models import KnowledgeGap, Kpis

DRAFT_ANSWER = {
    "zh": "（草稿：请填写答案）",
    "en": "(draft: write the answer)",
}


def _rows(prefix: str, value: Any) -> Iterator[tuple[str, str]]:
    """`metric.path` and value pairs of a nested figure (lists by position)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _rows(f"{prefix}.{key}" if prefix else str(key), item)
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _rows(f"{prefix}.{position}", item)
    else:
        yield prefix, "" if value is None else str(value)


def kpis_csv(figures: Kpis) -> str:
    """One `metric,value` row per figure (e.g. `sla.P1.response.rate,0.5`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["metric", "value"])
    writer.writerows(_rows("", figures.model_dump(mode="json", by_alias=True)))
    return out.getvalue()


def draft_id(label: str) -> str:
    """A KB id for a gap's draft FAQ: readable where the label is, unique by a short hash."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")[:40]
    digest = hashlib.sha1(label.encode()).hexdigest()[:6]
    return f"GAP-{slug}-{digest}" if slug else f"GAP-{digest}"


def kb_draft(gap: KnowledgeGap) -> str:
    """A KB file (YAML, `version: 1`) with one FAQ holding the group's questions and a
    placeholder answer; it imports as is, and a writer replaces the answer."""
    lang = "en" if gap.lang == "en" else "zh"
    document = {
        "version": 1,
        "faqs": [
            {
                "id": draft_id(gap.label),
                "questions": {lang: gap.examples},
                "answer": {lang: DRAFT_ANSWER[lang]},
                "tags": ["knowledge-gap", "draft"],
            }
        ],
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
