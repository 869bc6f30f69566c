"""Auto-escalation rules: which rules a ticket breaks at `now`. Pure, so tests pass explicit times
and limits (the SLA policy's `escalation` section, `EscalationLimits`).

- `unresolved`: not resolved `unresolved_after_hours` (default 24) after creation, or past its
  resolution due time;
- `complaint_open`: a complaint not closed `complaint_closed_within_hours` (default 48) after
  creation;
- `first_response_overdue`: no person has answered and the response due time has passed.
Each rule fires once per ticket; a run that fires any raises the priority one level.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from bot.triage.policy import PRIORITIES, EscalationLimits
from intake_api.tickets.models import FINAL_STATUSES, FINISHED_STATUSES

UNRESOLVED = "unresolved"
COMPLAINT_OPEN = "complaint_open"
FIRST_RESPONSE_OVERDUE = "first_response_overdue"


@dataclass(frozen=True)
class TicketClock:
    """What the rules look at of one ticket."""

    status: str
    category: str
    priority: str
    created_at: datetime
    sla_due_at: datetime
    resolution_due_at: datetime
    first_response_at: datetime | None


def broken_rules(ticket: TicketClock, now: datetime, limits: EscalationLimits) -> list[str]:
    """Every rule `ticket` breaks at `now`: first response, unresolved, complaint open."""
    broken = []
    is_open = ticket.status not in FINISHED_STATUSES
    if is_open and ticket.first_response_at is None and now > ticket.sla_due_at:
        broken.append(FIRST_RESPONSE_OVERDUE)
    unresolved_for_long = now >= ticket.created_at + limits.unresolved_after
    if is_open and (unresolved_for_long or now > ticket.resolution_due_at):
        broken.append(UNRESOLVED)
    if (
        ticket.category == "complaint"
        and ticket.status not in FINAL_STATUSES
        and now >= ticket.created_at + limits.complaint_closed_within
    ):
        broken.append(COMPLAINT_OPEN)
    return broken


def new_escalations(
    ticket: TicketClock, now: datetime, fired: Collection[str], limits: EscalationLimits
) -> list[str]:
    """The rules that fire now: broken and not fired before for this ticket."""
    return [rule for rule in broken_rules(ticket, now, limits) if rule not in fired]


def rule_note(rule: str, limits: EscalationLimits) -> str:
    """Why a rule fired, for the ticket's history."""
    notes = {
        FIRST_RESPONSE_OVERDUE: "no first response within the SLA",
        UNRESOLVED: f"unresolved {limits.unresolved_after_hours:g} h after creation"
        " or past the resolution due time",
        COMPLAINT_OPEN: f"complaint not closed within {limits.complaint_closed_within_hours:g} h",
    }
    return notes[rule]


def raised(priority: str) -> str:
    """One level more urgent (P1 stays P1)."""
    index = PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES) - 1
    return PRIORITIES[max(index - 1, 0)]
