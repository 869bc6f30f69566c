"""The SLA policy and triage rules, read from YAML (bundled default, optional override file)."""

from __future__ import annotations

from datetime import date, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import ServiceError
from knowledge_base.format import Category

BUNDLED_POLICY = Path(__file__).with_name("sla_policy.yaml")

Priority = Literal["P1", "P2", "P3", "P4"]
Tier = Literal["strategic", "key", "standard"]
PRIORITIES: tuple[str, ...] = get_args(Priority)
TIERS: tuple[str, ...] = get_args(Tier)


class PolicyError(ServiceError):
    """The SLA policy file cannot be used; the message names the file and the key."""


class Target(BaseModel):
    response_hours: float = Field(gt=0)
    resolution_hours: float = Field(gt=0)


class Cap(BaseModel):
    response_hours: float | None = Field(default=None, gt=0)
    resolution_hours: float | None = Field(default=None, gt=0)


_CALENDAR_PRIORITIES: tuple[Priority, ...] = ("P2", "P3", "P4")
_FAULT_CATEGORIES: tuple[Category, ...] = ("repair",)


class Calendar(BaseModel):
    """Working hours; due times of `priorities` count only these when `enabled`."""

    enabled: bool = False
    timezone: str = "UTC"
    start: time = time(9, 0)
    end: time = time(18, 0)
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    holidays: list[date] = Field(default_factory=list)
    priorities: list[Priority] = Field(default_factory=lambda: list(_CALENDAR_PRIORITIES))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("weekdays")
    @classmethod
    def _iso_weekdays(cls, value: list[int]) -> list[int]:
        if not value or any(day not in range(1, 8) for day in value):
            raise ValueError("weekdays are ISO numbers 1 (Monday) .. 7 (Sunday), at least one")
        return value


# At most ten years, so `now - limit` stays a valid date.
MAX_ESCALATION_HOURS = 10 * 365 * 24


class EscalationLimits(BaseModel):
    """When the auto-escalation job (`intake_api.agents.rules`) escalates a ticket, besides the
    ticket's own due times. Hours as YAML numbers; unknown keys are errors, so a misspelt limit
    does not go unnoticed."""

    model_config = ConfigDict(extra="forbid")

    unresolved_after_hours: float = Field(
        default=24, gt=0, le=MAX_ESCALATION_HOURS, allow_inf_nan=False, strict=True
    )
    complaint_closed_within_hours: float = Field(
        default=48, gt=0, le=MAX_ESCALATION_HOURS, allow_inf_nan=False, strict=True
    )

    @property
    def unresolved_after(self) -> timedelta:
        """A ticket not resolved this long after creation is escalated (`unresolved`)."""
        return timedelta(hours=self.unresolved_after_hours)

    @property
    def complaint_closed_within(self) -> timedelta:
        """A complaint not closed this long after creation is escalated (`complaint_open`)."""
        return timedelta(hours=self.complaint_closed_within_hours)


class Keywords(BaseModel):
    en: list[str] = Field(default_factory=list)
    zh: list[str] = Field(default_factory=list)


class PriorityRules(BaseModel):
    p1_keywords: Keywords = Field(default_factory=Keywords)
    p2_keywords: Keywords = Field(default_factory=Keywords)
    fault_categories: list[Category] = Field(default_factory=lambda: list(_FAULT_CATEGORIES))
    low_categories: list[Category] = Field(default_factory=list)


class ProductLine(BaseModel):
    line: str
    match: list[str]


class SkillGroups(BaseModel):
    default: str = "helpdesk"
    categories: dict[Category, str] = Field(default_factory=dict)
    per_line: list[Category] = Field(default_factory=list)
    product_lines: list[ProductLine] = Field(default_factory=list)


AlarmSeverity = Literal["critical", "major", "minor", "warning", "indeterminate"]


class AlarmRules(BaseModel):
    """The priority of a ticket a machine alarm opens, per alarm severity and customer tier
    (the SLA then follows from priority x tier like any ticket's)."""

    priority: dict[AlarmSeverity, dict[Tier, Priority]] = Field(default_factory=dict)

    def priority_of(self, severity: str, tier: str) -> Priority | None:
        """None when the policy names no priority for them (triage decides)."""
        return self.priority.get(severity, {}).get(tier)  # type: ignore[call-overload]


class SlaPolicy(BaseModel):
    """Targets per priority x tier, category caps, calendar, keywords, skill groups and the
    escalation limits."""

    targets: dict[Priority, dict[Tier, Target]]
    category_caps: dict[Category, Cap] = Field(default_factory=dict)
    calendar: Calendar = Field(default_factory=Calendar)
    categories: dict[Category, Keywords] = Field(default_factory=dict)
    default_category: Category = "other"
    fault_category: Category = "repair"
    priority: PriorityRules = Field(default_factory=PriorityRules)
    skill_groups: SkillGroups = Field(default_factory=SkillGroups)
    escalation: EscalationLimits = Field(default_factory=EscalationLimits)
    alarms: AlarmRules = Field(default_factory=AlarmRules)

    @field_validator("targets")
    @classmethod
    def _complete_matrix(cls, value: dict[str, dict[str, Target]]) -> dict[str, dict[str, Target]]:
        missing = [f"{p}.{t}" for p in PRIORITIES for t in TIERS if t not in value.get(p, {})]
        if missing:
            raise ValueError(f"targets missing for {', '.join(missing)}")
        return value


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"cannot read SLA policy {path}: {exc}", file=str(path)) from exc
    if not isinstance(data, dict):
        raise PolicyError(f"SLA policy {path} must be a mapping", file=str(path))
    return data


@lru_cache(maxsize=8)
def load_policy(override_file: Path | None = None) -> SlaPolicy:
    """The bundled policy, with `override_file` (if any) merged over it key by key."""
    data = _read_yaml(BUNDLED_POLICY)
    if override_file is not None:
        data = _deep_merge(data, _read_yaml(Path(override_file)))
    try:
        return SlaPolicy.model_validate(data)
    except ValidationError as exc:
        where = override_file or BUNDLED_POLICY
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"invalid SLA policy {where}: {problems}", file=str(where)) from exc
