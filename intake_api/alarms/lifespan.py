"""Start-up of the alarms domain: the alarm desk, the customer notices, the MQTT subscriber.

Entered after the channels (notices go through their outbound registry) and the messages
domain (the dialogue gets the `AlarmFollowUp` that takes the customers' answers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from core.logs import get_logger
from intake_api.alarms.flows import AlarmDesk
from intake_api.alarms.models import AlarmIn, AlarmRead
from intake_api.alarms.mqtt import subscribe
from intake_api.alarms.notices import AlarmNotices, AlarmReplies
from intake_api.services import public_base_url, services

log = get_logger(__name__)


@asynccontextmanager
async def alarms_lifespan(app: FastAPI) -> AsyncIterator[None]:
    shared = services(app)
    notices = AlarmNotices(
        sessions=shared.sessions,
        registry=shared.outbound,
        graph=lambda: shared.kb.graph,
        base_url=partial(public_base_url, app),
    )
    desk = AlarmDesk(app, notices.enqueue)
    shared.alarms = desk
    shared.messages.dialogue.alarm_follow_up = AlarmReplies()
    tasks = [asyncio.create_task(notices.run(), name="alarm-notices")]
    settings = shared.settings
    if settings.mqtt_url:

        async def receive(alarm: AlarmIn, source: str) -> AlarmRead:
            return await desk.receive(alarm, source=source)

        subscriber = subscribe(
            settings.mqtt_url, settings.mqtt_topic, settings.mqtt_client_id, receive
        )
        tasks.append(asyncio.create_task(subscriber, name="mqtt-alarms"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
