"""The MQTT subscriber: alarms published to `AFTERSALES_MQTT_TOPIC` on `AFTERSALES_MQTT_URL`.

QoS 1 with a persistent session (MQTT 5: a fixed client id, clean start off, a session that
never expires), so the broker keeps the messages that arrive while the service is down and
sends them when it is back. The client's receive maximum lets the broker have up to one alarm
batch (`flows.BATCH_SIZE`) unacknowledged at once (MQTT 3.1.1 leaves that window to the
broker's configuration: Mosquitto's is 20, which capped a batch at 20 alarms). A message
is acknowledged (PUBACK) only once its alarm is stored: paho's automatic acknowledgement, sent
on receipt, is turned off, so a service killed before the commit gets the message again. A
payload that cannot be read is logged and acknowledged (it would never become readable).
With several workers only the one holding the `mqtt-alarms` job lease subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.logs import get_logger
from intake_api.alarms.flows import BATCH_SIZE
from intake_api.alarms.models import AlarmIn
from intake_api.alarms.payloads import MalformedAlarm, decode_alarm

log = get_logger(__name__)

RECONNECT_SECONDS = 1.0
STORE_ATTEMPTS = 5
# One worker subscribes (the client id is fixed): it renews a lease that lapses when it dies.
LEASE_RENEW_SECONDS = 3.0
LEASE_SECONDS = 10.0
SESSION_NEVER_EXPIRES = 0xFFFFFFFF
Receive = Callable[[AlarmIn, str], Awaitable[object]]
Lease = Callable[[], Awaitable[bool]]


def client_for(url: str, client_id: str) -> aiomqtt.Client:
    """A persistent-session client of `mqtt://[user[:password]@]host[:port]` that leaves the
    acknowledgements to its caller."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"AFTERSALES_MQTT_URL must be mqtt://host[:port], not {url!r}")
    connect = Properties(PacketTypes.CONNECT)
    connect.SessionExpiryInterval = SESSION_NEVER_EXPIRES
    connect.ReceiveMaximum = BATCH_SIZE
    client = aiomqtt.Client(
        parts.hostname,
        parts.port or 1883,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=connect,
    )
    client._client.manual_ack_set(True)  # noqa: SLF001 - aiomqtt does not expose manual acks
    return client


async def _store(receive: Receive, message: aiomqtt.Message) -> None:
    """Store the message's alarm, retrying a failing database; a bad payload is only logged."""
    payload = message.payload if isinstance(message.payload, bytes) else str(message.payload)
    body = payload.encode() if isinstance(payload, str) else payload
    try:
        alarm, form = decode_alarm(body)
    except MalformedAlarm as exc:
        log.warning("mqtt alarm refused", topic=str(message.topic), error=exc.message)
        return
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            await receive(alarm, f"mqtt-{form}")
            return
        except Exception as exc:
            if attempt == STORE_ATTEMPTS:
                raise
            log.warning("mqtt alarm not stored, retrying", error=repr(exc), attempt=attempt)
            await asyncio.sleep(RECONNECT_SECONDS * attempt)


async def _stored_then_acked(
    client: aiomqtt.Client, receive: Receive, message: aiomqtt.Message
) -> None:
    await _store(receive, message)
    client._client.ack(message.mid, message.qos)  # noqa: SLF001 - after the commit


async def _session(url: str, topic: str, client_id: str, receive: Receive) -> None:
    """Every message stored and acknowledged in a task of its own: the broker's unacknowledged
    messages (its in-flight window) reach the alarm desk together and share a commit. A store
    that keeps failing ends the session (the task group), unacknowledged."""
    async with client_for(url, client_id) as client, asyncio.TaskGroup() as stores:
        await client.subscribe(topic, qos=1)
        log.info("mqtt subscribed", topic=topic)
        async for message in client.messages:
            stores.create_task(_stored_then_acked(client, receive, message))


async def _lead(session: Awaitable[None], lease: Lease) -> None:
    """Run `session` while this process keeps the subscriber's lease (renewed every
    `LEASE_RENEW_SECONDS`); another worker's subscriber would take the same client id over."""
    task = asyncio.ensure_future(session)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=LEASE_RENEW_SECONDS)
            if not task.done() and not await lease():
                log.warning("mqtt lease lost: another worker subscribes now")
                return
        task.result()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def subscribe(url: str, topic: str, client_id: str, receive: Receive, lease: Lease) -> None:
    """Take alarms until cancelled, in the one worker holding the lease, reconnecting (same
    session) when the broker goes away."""
    while True:
        try:
            if await lease():
                await _lead(_session(url, topic, client_id, receive), lease)
        except aiomqtt.MqttError as exc:
            log.warning("mqtt connection lost, reconnecting", error=str(exc))
        except Exception as exc:  # a store that keeps failing: reconnect, get it again
            log.warning("mqtt subscriber failed, reconnecting", error=repr(exc))
        await asyncio.sleep(RECONNECT_SECONDS)
