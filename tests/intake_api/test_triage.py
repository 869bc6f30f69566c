"""Triage rules and SLA due times (pure functions, no database)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.triage import load_policy, triage
from bot.triage.policy import EscalationLimits, PolicyError, SlaPolicy

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday


def test_category_from_english_keywords() -> None:
    assert triage(subject="Please install the new unit", now=NOW).category == "installation"
    assert triage(subject="I want to complain about the engineer", now=NOW).category == (
        "complaint"
    )
    assert triage(subject="Need a spare part for the pump", now=NOW).category == "parts"


def test_category_from_chinese_keywords() -> None:
    assert triage(subject="设备报警，显示故障代码", now=NOW).category == "repair"
    assert triage(subject="保修期内可以免费换吗", now=NOW).category == "warranty"
    assert triage(subject="需要定期保养", now=NOW).category == "maintenance"


def test_unmatched_text_gets_the_default_category() -> None:
    result = triage(subject="Hello there", now=NOW)
    assert result.category == "other"
    assert "default" in result.reasons[0]


def test_given_category_and_priority_are_kept() -> None:
    result = triage(subject="Smoke everywhere", category="training", priority="P4", now=NOW)
    assert (result.category, result.priority) == ("training", "P4")


def test_a_named_fault_makes_a_repair() -> None:
    assert triage(subject="see fault", fault_id="F-1", now=NOW).category == "repair"


@pytest.mark.parametrize(
    "subject",
    [
        "Smoke coming out of the compressor",
        "There is a fire near the machine",
        "Gas leak at the boiler",
        "Operator injured by the press",
        "Production stopped since this morning",
        "车间停产了",
        "整条线停线",
        "机器冒烟",
    ],
)
def test_danger_and_stopped_production_are_p1(subject: str) -> None:
    assert triage(subject=subject, now=NOW).priority == "P1"


def test_safety_hazard_and_critical_severity_are_p1() -> None:
    assert triage(subject="odd noise", safety_hazard=True, now=NOW).priority == "P1"
    assert triage(subject="odd noise", severity="critical", now=NOW).priority == "P1"


def test_customer_tier_raises_the_priority_of_faults() -> None:
    fault = "The pump is broken"
    assert triage(subject=fault, tier="strategic", now=NOW).priority == "P1"
    assert triage(subject=fault, tier="key", now=NOW).priority == "P2"
    assert triage(subject=fault, tier="standard", now=NOW).priority == "P3"


def test_high_severity_and_urgency_are_p2() -> None:
    assert triage(subject="pump is broken", severity="high", now=NOW).priority == "P2"
    assert triage(subject="pump broken, urgent", now=NOW).priority == "P2"


def test_questions_and_low_severity_are_p4() -> None:
    assert triage(subject="How to operate the touch panel?", now=NOW).priority == "P4"
    assert triage(subject="pump is broken", severity="low", now=NOW).priority == "P4"


@pytest.mark.parametrize(
    ("priority", "tier", "response_hours", "resolution_hours"),
    [
        ("P1", "standard", 2, 24),
        ("P1", "strategic", 0.5, 8),
        ("P2", "key", 4, 48),
        ("P3", "standard", 24, 168),
        ("P4", "standard", 48, 240),
    ],
)
def test_sla_targets_per_priority_and_tier(
    priority: str, tier: str, response_hours: float, resolution_hours: float
) -> None:
    result = triage(subject="pump broken", priority=priority, tier=tier, now=NOW)
    assert result.response_due_at == NOW + timedelta(hours=response_hours)
    assert result.resolution_due_at == NOW + timedelta(hours=resolution_hours)


def test_complaints_are_closed_within_48_hours_whatever_the_priority() -> None:
    result = triage(subject="I complain", priority="P4", now=NOW)
    assert result.category == "complaint"
    assert result.resolution_due_at == NOW + timedelta(hours=48)


def test_skill_group_follows_product_line_and_category() -> None:
    assert triage(subject="pump broken", product_id="BM-2", now=NOW).skill_group == (
        "field-service.espresso"
    )
    assert triage(subject="pump broken", product_id="ZZ-1", now=NOW).skill_group == (
        "field-service"
    )
    assert triage(subject="spare part", product_id="BM-2", now=NOW).skill_group == "parts-desk"
    line = triage(subject="pump broken", product_id="X9", product_line="Screw compressor", now=NOW)
    assert line.skill_group == "field-service.compressors"


def _policy_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    load_policy.cache_clear()
    return path


def test_business_calendar_counts_only_working_hours(tmp_path: Path) -> None:
    path = _policy_file(
        tmp_path,
        "calendar:\n  enabled: true\n  timezone: UTC\n  start: '09:00'\n  end: '17:00'\n"
        "  weekdays: [1, 2, 3, 4, 5]\n  priorities: [P3]\n",
    )
    friday_4pm = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
    result = triage(subject="broken", priority="P3", now=friday_4pm, policy_file=path)
    # 24 working hours: 1 h on Friday, 8 h Monday, Tuesday, 7 h Wednesday -> Wed 16:00
    assert result.response_due_at == datetime(2026, 3, 11, 16, 0, tzinfo=UTC)
    p1 = triage(subject="broken", priority="P1", now=friday_4pm, policy_file=path)
    assert p1.response_due_at == friday_4pm + timedelta(hours=2)  # P1 runs around the clock


def test_override_file_changes_only_the_keys_it_names(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "targets:\n  P1:\n    standard: {response_hours: 1}\n")
    result = triage(subject="fire", now=NOW, policy_file=path)
    assert result.response_due_at == NOW + timedelta(hours=1)
    assert result.resolution_due_at == NOW + timedelta(hours=24)


def test_a_broken_override_file_names_the_problem(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "calendar:\n  timezone: Mars/Olympus\n")
    with pytest.raises(PolicyError, match="calendar.timezone"):
        load_policy(path)


def test_escalation_limits_default_to_24_and_48_hours(tmp_path: Path) -> None:
    assert load_policy(None).escalation.unresolved_after == timedelta(hours=24)
    assert load_policy(None).escalation.complaint_closed_within == timedelta(hours=48)
    without_section = load_policy(_policy_file(tmp_path, "default_category: other\n"))
    assert without_section.escalation == load_policy(None).escalation
    assert SlaPolicy.model_validate({"targets": load_policy(None).targets}).escalation == (
        EscalationLimits(unresolved_after_hours=24, complaint_closed_within_hours=48)
    )


def test_escalation_limits_come_from_the_policy_file(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, "escalation:\n  unresolved_after_hours: 4.5\n")
    limits = load_policy(path).escalation
    assert limits.unresolved_after == timedelta(hours=4, minutes=30)
    assert limits.complaint_closed_within == timedelta(hours=48)  # not named: the bundled value


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("escalation:\n  unresolved_after_hours: 0\n", "escalation.unresolved_after_hours"),
        (
            "escalation:\n  complaint_closed_within_hours: soon\n",
            "escalation.complaint_closed_within_hours",
        ),
        ("escalation:\n  unresolved_after_hours: .inf\n", "escalation.unresolved_after_hours"),
        ("escalation:\n  unresolved_after_hours: 1000000\n", "escalation.unresolved_after_hours"),
        ("escalation:\n  unresolved_hours: 12\n", "escalation.unresolved_hours"),
        ("escalation:\n  unresolved_after_hours: yes\n", "escalation.unresolved_after_hours"),
        ("escalation: 24\n", "escalation"),
    ],
)
def test_a_malformed_escalation_section_names_the_key(
    tmp_path: Path, section: str, key: str
) -> None:
    with pytest.raises(PolicyError, match=re.escape(key)):
        load_policy(_policy_file(tmp_path, section))
