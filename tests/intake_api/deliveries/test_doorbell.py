"""The doorbell a delivery worker idles on: a stop that meets a ring still stops the worker."""

from __future__ import annotations

import asyncio

from intake_api.deliveries.doorbell import Doorbell


async def test_a_cancel_in_the_same_turn_as_a_ring_is_not_lost() -> None:
    """Python 3.11's `wait_for` returned the event instead of raising the cancellation here, and
    the worker's loop went on forever while `stop()` waited for it (the CI hang)."""
    bell = Doorbell()

    async def idle_loop() -> None:
        while True:
            bell.clear()
            await bell.wait(0.05)

    task = asyncio.create_task(idle_loop())
    await asyncio.sleep(0.01)  # the loop is inside bell.wait()
    bell.ring()  # a delivery finishes ...
    task.cancel()  # ... as the worker is stopped
    done, _ = await asyncio.wait({task}, timeout=2)
    if not done:  # leave no loop running in the session's event loop
        task.cancel()
    assert done and task.cancelled()


async def test_a_ring_wakes_the_waiter_before_its_timeout() -> None:
    bell = Doorbell()
    waiter = asyncio.create_task(bell.wait(30))
    await asyncio.sleep(0)
    bell.ring()
    await asyncio.wait_for(waiter, timeout=2)
    assert waiter.done() and not waiter.cancelled()
