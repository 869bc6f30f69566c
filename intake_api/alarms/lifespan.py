"""Start-up of the alarms domain: the alarm desk, the customer notices, the MQTT subscriber.

Entered after the channels (notices go through their outbound registry) and the messages
domain (the dialogue gets the `AlarmFollowUp` that takes the customers' answers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

from fastapi import FastAPI

from core.columns import utcnow
from core.database import Sessions, unit_of_work
from intake_api.agents.scheduled import take_lease, worker_name
from intake_api.alarms.flows import AlarmDesk
from intake_api.alarms.models import AlarmIn, AlarmRead
from intake_api.alarms.mqtt import LEASE_SECONDS, subscribe
from intake_api.alarms.notices import NOTICE_WORKERS, AlarmNotices, AlarmReplies
from intake_api.events.stream import publish_committed
from intake_api.services import public_base_url, services

MQTT_JOB = "mqtt-alarms"


async def _receive(desk: AlarmDesk, alarm: AlarmIn, source: str) -> AlarmRead:
    return await desk.receive(alarm, source=source)


async def _hold_lease(sessions: Sessions, holder: str) -> bool:
    """Take or renew the MQTT subscriber's lease (the agents' job leases)."""
    ttl = timedelta(seconds=LEASE_SECONDS)
    async with unit_of_work(sessions) as session:
        return await take_lease(session, job=MQTT_JOB, holder=holder, now=utcnow(), ttl=ttl)


@asynccontextmanager
async def alarms_lifespan(app: FastAPI) -> AsyncIterator[None]:
    shared = services(app)
    notices = AlarmNotices(
        sessions=shared.sessions,
        registry=shared.outbound,
        graph=lambda: shared.kb.graph,
        base_url=partial(public_base_url, app),
        write_lock=shared.ticket_write_lock,
    )
    await notices.resume()
    desk = AlarmDesk(
        sessions=shared.sessions,
        settings=shared.settings,
        policy=shared.sla_policy,
        graph=lambda: shared.kb.graph,
        write_lock=shared.ticket_write_lock,
        publish=partial(publish_committed, app),
        notify=notices.enqueue,
    )
    shared.alarms = desk
    shared.messages.dialogue.alarm_follow_up = AlarmReplies()
    tasks = [
        asyncio.create_task(notices.run(), name=f"alarm-notices-{n}") for n in range(NOTICE_WORKERS)
    ]
    tasks.append(asyncio.create_task(desk.run(), name="alarm-writer"))
    settings = shared.settings
    if settings.mqtt_url:
        subscriber = subscribe(
            settings.mqtt_url,
            settings.mqtt_topic,
            settings.mqtt_client_id,
            partial(_receive, desk),
            partial(_hold_lease, shared.sessions, worker_name()),
        )
        tasks.append(asyncio.create_task(subscriber, name="mqtt-alarms"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
