"""Text the API accepts: bounded length and no NUL characters (PostgreSQL cannot store them).

The constraint is part of the OpenAPI schema, so clients learn it before they send.
"""

from __future__ import annotations

from pydantic import StringConstraints

NO_NUL = r"^[^\x00]*$"


def limit(max_length: int, *, min_length: int = 0, strip: bool = False) -> StringConstraints:
    """At most `max_length` characters and no NUL, for a field of type
    `Annotated[str, limit(...)]`."""
    return StringConstraints(
        strip_whitespace=strip, min_length=min_length, max_length=max_length, pattern=NO_NUL
    )
