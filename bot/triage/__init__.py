"""Triage: category, priority, skill group and SLA due times of a new ticket (pure, no DB)."""

from bot.triage.policy import SlaPolicy, load_policy
from bot.triage.rules import Triage, triage

__all__ = ["SlaPolicy", "Triage", "load_policy", "triage"]
