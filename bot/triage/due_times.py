"""Due times: wall-clock hours, or working hours of a business calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.triage.policy import Calendar

_MAX_DAYS_SEARCHED = 3660  # a calendar whose holidays cover ten years has no working time


def _working_window(day: datetime, calendar: Calendar) -> tuple[datetime, datetime] | None:
    """Start and end of the working hours on `day` (local midnight), or None if off."""
    if day.isoweekday() not in calendar.weekdays or day.date() in calendar.holidays:
        return None
    start = day.replace(hour=calendar.start.hour, minute=calendar.start.minute)
    end = day.replace(hour=calendar.end.hour, minute=calendar.end.minute)
    return (start, end) if end > start else None


def add_working_hours(start: datetime, hours: float, calendar: Calendar) -> datetime:
    """`start` plus `hours` counted only inside the calendar's working hours (result in UTC)."""
    zone = ZoneInfo(calendar.timezone)
    cursor = start.astimezone(zone)
    remaining = timedelta(hours=hours)
    day = cursor.replace(hour=0, minute=0, second=0, microsecond=0)
    for _ in range(_MAX_DAYS_SEARCHED):
        window = _working_window(day, calendar)
        if window is not None:
            begin = max(cursor, window[0])
            if begin < window[1]:
                available = window[1] - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(UTC)
                remaining -= available
        day = day + timedelta(days=1)
        cursor = day
    raise ValueError("the business calendar has no working hours in the next ten years")


def due_at(start: datetime, hours: float, calendar: Calendar, *, business_hours: bool) -> datetime:
    """When a target of `hours` from `start` falls due (UTC)."""
    if business_hours and calendar.enabled:
        return add_working_hours(start, hours, calendar)
    return (start + timedelta(hours=hours)).astimezone(UTC)
