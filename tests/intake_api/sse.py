"""Reading Server-Sent Events from an httpx streaming response, for tests."""

from __future__ import annotations

import json
from typing import Any

import httpx


class SseReader:
    """Reads one stream event by event; `take` may be called again for the next ones."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next_event(self) -> tuple[str | None, Any]:
        """`(id, decoded JSON data)` of the next event; comments (keep-alives) are skipped."""
        event_id: str | None = None
        data: list[str] = []
        async for line in self._lines:
            if line.startswith(":"):
                continue
            if line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                return event_id, json.loads("\n".join(data))
        raise EOFError("the event stream ended")

    async def take(self, count: int) -> list[tuple[str | None, Any]]:
        """The next `count` events."""
        return [await self.next_event() for _ in range(count)]
