"""`triage()`: what a new ticket is about, how urgent it is, who handles it and by when.

Pure (no database, no I/O besides the cached policy file), so the bot reuses it as is.
Explicit values win; otherwise the rules of the SLA policy decide, and `reasons` says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path

from bot.triage.due_times import due_at
from bot.triage.policy import Category, Keywords, Priority, SlaPolicy, Tier, load_policy
from knowledge_base.format import Severity


@dataclass(frozen=True)
class Triage:
    """The outcome of triage; due times are timezone-aware UTC."""

    category: Category
    priority: Priority
    skill_group: str
    response_due_at: datetime
    resolution_due_at: datetime
    reasons: tuple[str, ...] = ()


@lru_cache(maxsize=256)
def _pattern(english: tuple[str, ...], chinese: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation: English keywords at word starts, Chinese ones anywhere."""
    parts = [r"(?<![a-z0-9])" + re.escape(word.lower()) for word in english]
    parts += [re.escape(word) for word in chinese]
    return re.compile("|".join(parts)) if parts else None


def keyword_hits(text: str, keywords: Keywords) -> set[str]:
    """The distinct keywords of `keywords` found in `text` (case-insensitive)."""
    pattern = _pattern(tuple(keywords.en), tuple(keywords.zh))
    return set(pattern.findall(text.lower())) if pattern else set()


def detect_category(text: str, policy: SlaPolicy) -> tuple[Category, str]:
    """The category with most keyword hits (ties: first listed) and why."""
    best: Category = policy.default_category
    best_hits: set[str] = set()
    for category, keywords in policy.categories.items():
        hits = keyword_hits(text, keywords)
        if len(hits) > len(best_hits):
            best, best_hits = category, hits
    if not best_hits:
        return best, f"category {best}: no keyword matched (default)"
    return best, f"category {best}: keywords {', '.join(sorted(best_hits))}"


def decide_priority(
    *,
    text: str,
    category: Category,
    tier: Tier,
    severity: Severity | None,
    safety_hazard: bool,
    policy: SlaPolicy,
) -> tuple[Priority, str]:
    """The first priority rule that applies, and its reason."""
    rules = policy.priority
    is_fault = category in rules.fault_categories
    if safety_hazard:
        return "P1", "P1: the fault is a safety hazard"
    if severity == "critical":
        return "P1", "P1: critical severity"
    if hits := keyword_hits(text, rules.p1_keywords):
        return "P1", f"P1: keywords {', '.join(sorted(hits))}"
    if tier == "strategic" and is_fault:
        return "P1", "P1: fault of a strategic customer"
    if severity == "high":
        return "P2", "P2: high severity"
    if hits := keyword_hits(text, rules.p2_keywords):
        return "P2", f"P2: keywords {', '.join(sorted(hits))}"
    if tier == "key" and is_fault:
        return "P2", "P2: fault of a key customer"
    if severity == "low" or category in rules.low_categories:
        return "P4", "P4: low severity or a non-urgent category"
    return "P3", "P3: default"


def product_line_of(product_id: str | None, line: str | None, policy: SlaPolicy) -> str | None:
    """The configured product line whose patterns match the product id or its line name."""
    names = [name.lower() for name in (product_id, line) if name]
    for product_line in policy.skill_groups.product_lines:
        if any(fnmatch(name, pattern.lower()) for name in names for pattern in product_line.match):
            return product_line.line
    return None


def skill_group_for(category: Category, line: str | None, policy: SlaPolicy) -> str:
    """The category's desk, split per product line for the categories listed in `per_line`."""
    groups = policy.skill_groups
    desk = groups.categories.get(category, groups.default)
    if line and category in groups.per_line:
        return f"{desk}.{line}"
    return desk


def triage(
    *,
    subject: str,
    description: str | None = None,
    category: Category | None = None,
    priority: Priority | None = None,
    tier: Tier | None = None,
    product_id: str | None = None,
    product_line: str | None = None,
    fault_id: str | None = None,
    severity: Severity | None = None,
    safety_hazard: bool = False,
    now: datetime | None = None,
    policy: SlaPolicy | None = None,
    policy_file: Path | None = None,
) -> Triage:
    """Triage a request: explicit category/priority are kept, the rest follows the policy.

    `tier` defaults to standard; `severity`/`safety_hazard` come from the knowledge-base fault
    when known; `now` (default: the current time) is when the SLA clocks start.
    """
    policy = policy or load_policy(policy_file)
    tier = tier or "standard"
    now = (now or datetime.now(UTC)).astimezone(UTC)
    text = f"{subject}\n{description or ''}"
    reasons: list[str] = []

    if category:
        reasons.append(f"category {category}: given")
    elif fault_id:
        category = policy.fault_category
        reasons.append(f"category {category}: a knowledge-base fault is named")
    else:
        category, why = detect_category(text, policy)
        reasons.append(why)

    if priority:
        reasons.append(f"{priority}: given")
    else:
        priority, why = decide_priority(
            text=text,
            category=category,
            tier=tier,
            severity=severity,
            safety_hazard=safety_hazard,
            policy=policy,
        )
        reasons.append(why)

    target = policy.targets[priority][tier]
    response_hours, resolution_hours = target.response_hours, target.resolution_hours
    if cap := policy.category_caps.get(category):
        response_hours = min(response_hours, cap.response_hours or response_hours)
        resolution_hours = min(resolution_hours, cap.resolution_hours or resolution_hours)
    business = priority in policy.calendar.priorities
    line = product_line_of(product_id, product_line, policy)
    return Triage(
        category=category,
        priority=priority,
        skill_group=skill_group_for(category, line, policy),
        response_due_at=due_at(now, response_hours, policy.calendar, business_hours=business),
        resolution_due_at=due_at(now, resolution_hours, policy.calendar, business_hours=business),
        reasons=tuple(reasons),
    )
