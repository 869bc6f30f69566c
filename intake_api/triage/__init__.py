"""Triage: category, priority, skill group and SLA due times of a new ticket (pure, no DB)."""

from intake_api.triage.policy import SlaPolicy, load_policy
from intake_api.triage.rules import Triage, triage

__all__ = ["SlaPolicy", "Triage", "load_policy", "triage"]
