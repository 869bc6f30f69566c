"""An in-process wake-up for delivery workers, rung when an outbox row is committed.

Workers still poll (rows written by other processes, retries coming due); the doorbell only
removes the poll wait for changes made in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref

_listeners: weakref.WeakSet[Doorbell] = weakref.WeakSet()


class Doorbell:
    """An event a worker waits on; safe to ring from any thread."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        _listeners.add(self)

    def ring(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._event.set()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        """Forget earlier rings; call before looking for work so no later ring is lost."""
        self._event.clear()

    async def wait(self, seconds: float) -> None:
        """Return when rung (since the last `clear`) or after `seconds`, whichever is first.

        `asyncio.timeout`, not `asyncio.wait_for`: before Python 3.12, `wait_for` swallows a
        cancellation that arrives while the awaited event is being set (it returns the result
        instead), so a worker cancelled just as a delivery rang would loop on and `stop()`
        would wait for it forever.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()


def ring() -> None:
    """Wake every delivery worker of this process."""
    for listener in list(_listeners):
        listener.ring()
