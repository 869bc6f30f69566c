"""Alarms over MQTT on a real Mosquitto: they open tickets like HTTP ones, and `kill -9` of the
service while alarms are published at QoS 1 loses none once it is back."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from cloudevents.core.formats.json import JSONFormat
from sqlalchemy import func, select

from bot.nlu import load_or_train
from core.database import create_engine, session_factory, unit_of_work
from intake_api.alarms.models import Alarm
from intake_api.assets import service as assets
from intake_api.assets.models import AssetCreate
from tests.intake_api.alarms.forms import cloudevent, plain, thingsboard
from tests.intake_api.assets.support import store_kb, unit
from tests.intake_api.conftest import ADMIN_KEY
from tests.support.mosquitto import running_mosquitto
from tests.support.postgres import free_port

AFTERSALES = Path(sys.executable).with_name("aftersales")
TOPIC = "aftersales/alarms"
START_DEADLINE_SECONDS = 180  # start-up under load (other helpers share the CPU)


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    with running_mosquitto() as url:
        yield url


def publisher(url: str, client_id: str) -> paho.Client:
    """A plain paho publisher (the MQTT gateway of a plant)."""
    port = int(url.rsplit(":", 1)[1])
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish_all(
    client: paho.Client, payloads: list[bytes], topic: str = f"{TOPIC}/plant-7"
) -> None:
    for payload in payloads:
        client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)


def eventually(check: Callable[[], bool], what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_alarms_over_mqtt_open_tickets(
    database_url: str, serve_env: dict[str, str], broker: str, tmp_path: Path
) -> None:
    store_kb(database_url)
    port = free_port()
    service = serve({**serve_env, "AFTERSALES_ADMIN_KEY": ADMIN_KEY}, tmp_path, port)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    try:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, headers=headers, timeout=30) as admin:
            up = partial(answers, admin, service, tmp_path / "service.log")
            eventually(up, "the service", START_DEADLINE_SECONDS)
            for serial in ("SN-1", "SN-2", "SN-3"):
                assert admin.post("/v1/assets", json=unit(serial)).status_code == 201
            structured = JSONFormat().write(cloudevent(plain("SN-3", "A-112")))
            client = publisher(broker, f"gateway-{tmp_path.name}")
            try:
                # The broker keeps QoS 1 messages only for a session that has subscribed: wait
                # until the service's subscription is live (an unknown unit's alarm shows up).
                def probe_arrived() -> bool:
                    publish_all(client, [json.dumps(plain("PROBE-1", "A-112")).encode()])
                    listed = admin.get("/v1/alarms", params={"status": "unmatched"}).json()
                    return any(a["serial"] == "PROBE-1" for a in listed["items"])

                eventually(probe_arrived, "the service's MQTT subscription", within=60)
                publish_all(
                    client,
                    [
                        b"{not json",  # logged and acknowledged: it does not block the others
                        json.dumps(plain("SN-1", "A-112")).encode(),
                        json.dumps(thingsboard("SN-2", "A-112")).encode(),
                        structured,
                    ],
                )
            finally:
                client.loop_stop()
                client.disconnect()

            def alarms() -> list[dict]:
                found = admin.get("/v1/alarms", params={"status": "active"}).json()["items"]
                return [a for a in found if a["serial"] != "PROBE-1"]

            eventually(lambda: len(alarms()) == 3, "three alarms from MQTT")
            for alarm in alarms():
                assert alarm["matched"] and alarm["source"].startswith("mqtt-")
                ticket = admin.get(f"/v1/tickets/{alarm['ticket_id']}").json()
                assert (ticket["product_id"], ticket["fault_id"]) == ("HX-37", "F-HX-A112")
    finally:
        service.terminate()
        service.wait()


def answers(client: httpx.Client, service: subprocess.Popen[bytes], log: Path) -> bool:
    """Whether the service answers yet (a service that exited never will)."""
    if service.poll() is not None:
        tail = (log.read_text(errors="replace") if log.exists() else "")[-2000:]
        raise AssertionError(f"the service exited with {service.returncode}:\n{tail}")
    try:
        return client.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


# --- kill -9 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nlu_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled NLU model trained once, copied into each service's data dir (so a service
    process starts without training it)."""
    folder = tmp_path_factory.mktemp("nlu") / "nlu-model"
    load_or_train(folder)
    return folder


def register_units(database_url: str, serials: list[str]) -> None:
    async def run() -> None:
        engine = create_engine(database_url)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                rows = [AssetCreate.model_validate(unit(serial)) for serial in serials]
                await assets.store_all(session, rows)
        finally:
            await engine.dispose()

    asyncio.run(run())


def stored_alarms(database_url: str) -> tuple[int, int]:
    """How many alarms are stored, and how many of them have a ticket."""

    async def run() -> tuple[int, int]:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                alarms = await session.scalar(select(func.count(Alarm.id)))
                ticketed = await session.scalar(
                    select(func.count(Alarm.id)).where(Alarm.ticket_id.is_not(None))
                )
                return int(alarms or 0), int(ticketed or 0)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def serve_env(database_url: str, tmp_path: Path, broker: str, nlu_model: Path) -> dict[str, str]:
    data_dir = tmp_path / "data"
    shutil.copytree(nlu_model, data_dir / "nlu-model")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    env.update(
        AFTERSALES_DATABASE_URL=database_url,
        AFTERSALES_DATA_DIR=str(data_dir),
        AFTERSALES_LOAD_DEMO_KB="false",
        AFTERSALES_MQTT_URL=broker,
        AFTERSALES_MQTT_CLIENT_ID=f"kill9-{tmp_path.name}",
        AFTERSALES_LOG_LEVEL="WARNING",
    )
    return env


def serve(env: dict[str, str], cwd: Path, port: int | None = None) -> subprocess.Popen[bytes]:
    """`aftersales serve` as a user runs it: a process of its own (MQTT clients, event loops and
    module state are not shared with other tests' apps in this process); its log goes to
    `cwd/service.log`."""
    with (cwd / "service.log").open("ab") as log:
        return subprocess.Popen(
            [str(AFTERSALES), "serve", "--port", str(port or free_port())],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def open_session(url: str, client_id: str) -> None:
    """The service's persistent session, subscribed as a service that ran before would have it
    (the broker keeps QoS 1 messages only for sessions it knows)."""
    port = int(url.rsplit(":", 1)[1])
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(f"{TOPIC}/#", qos=1)[1]
    time.sleep(0.5)
    client.loop_stop()
    client.disconnect()


def test_kill_9_while_alarms_are_published_loses_none(
    database_url: str, serve_env: dict[str, str], broker: str, tmp_path: Path
) -> None:
    serials = [f"SN-{n:03d}" for n in range(60)]
    store_kb(database_url)
    register_units(database_url, serials)
    payloads = [json.dumps(plain(serial, "A-112")).encode() for serial in serials]
    open_session(broker, serve_env["AFTERSALES_MQTT_CLIENT_ID"])
    client = publisher(broker, f"gateway-{tmp_path.name}")
    first = serve(serve_env, tmp_path)
    try:
        publish_all(client, payloads[:20])
        eventually(
            lambda: stored_alarms(database_url)[0] >= 5,
            "the first alarms stored",
            within=START_DEADLINE_SECONDS,
        )
        publish_all(client, payloads[20:40])  # some of these arrive while it is killed
        first.send_signal(signal.SIGKILL)
        first.wait()
        publish_all(client, payloads[40:])  # published while the service is down
        second = serve(serve_env, tmp_path)
        try:
            eventually(
                lambda: stored_alarms(database_url) == (60, 60),
                "all 60 alarms",
                within=START_DEADLINE_SECONDS,
            )
        finally:
            second.kill()
            second.wait()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        client.loop_stop()
        client.disconnect()
    assert stored_alarms(database_url) == (60, 60)
