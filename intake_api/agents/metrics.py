"""Prometheus counters of what agents and the auto-escalation job do (default registry)."""

from __future__ import annotations

from prometheus_client import Counter

ESCALATIONS = Counter(
    "aftersales_escalations", "Tickets escalated automatically, by the rule that fired.", ["rule"]
)
AGENT_REPLIES = Counter(
    "aftersales_agent_replies",
    "Agent replies to customers, by channel and whether the channel took them.",
    ["channel", "delivered"],
)
CSAT_ANSWERS = Counter("aftersales_csat_answers", "CSAT answers stored, by score.", ["score"])
