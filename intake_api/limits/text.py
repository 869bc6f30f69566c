"""Text the API accepts: bounded length and no NUL characters (PostgreSQL cannot store them).

The constraint is part of the OpenAPI schema, so clients learn it before they send.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

NO_NUL = r"^[^\x00]*$"


def text(max_length: int, *, min_length: int = 0, strip: bool = False) -> type[str]:
    """A string type of at most `max_length` characters without NUL."""
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(
            strip_whitespace=strip, min_length=min_length, max_length=max_length, pattern=NO_NUL
        ),
    ]
