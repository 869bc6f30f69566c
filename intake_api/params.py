"""Query parameter types shared by routes, validated as strictly as the schema states them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator

# RFC 3339 date-time (what the schema's `format: date-time` promises); the offset may be left
# out (UTC), and so may the time (midnight). Numbers (Unix times, which pydantic would take)
# are refused.
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?)?$"
)


def _iso_only(value: object) -> object:
    if isinstance(value, str) and not _DATE_TIME.match(value.strip()):
        raise ValueError("expected an ISO 8601 date-time, e.g. 2026-05-01T08:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
"""A date-time given as ISO 8601 text (never a bare number)."""
