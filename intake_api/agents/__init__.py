"""Agents: escalation queue, claims, replies, hand-back, resolution, CSAT, auto-escalation."""
