"""The customer hears of their machine's alarm on their own channel (the WeChat and Telegram
stand-ins), in their language, with the status link, and their answer moves the ticket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.dialogue.models import Conversation
from core.database import create_engine, session_factory, unit_of_work
from core.settings import Settings
from intake_api.alarms.models import Alarm
from tests.channels.conftest import WECHAT_APP_ID, WECHAT_TOKEN, Service, serve
from tests.channels.standins import BotApiStandIn, WeChatApiStandIn
from tests.channels.test_telegram import post, text_update
from tests.channels.wechat_platform import WeChatServers
from tests.intake_api.alarms.forms import plain
from tests.intake_api.assets.support import register, store_kb


@pytest.fixture
def service(channel_settings: Settings) -> Iterator[Service]:
    """WeChat and Telegram configured against their stand-ins, on a database with the test KB."""
    store_kb(channel_settings.resolved_database_url)
    yield from serve(channel_settings)


def forget_notice(database_url: str, alarm_id: str) -> None:
    async def run() -> None:
        engine = create_engine(database_url)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                await session.execute(
                    update(Alarm).where(Alarm.id == alarm_id).values(notified_at=None)
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


def eventually(found: Callable[[], list[str]], what: str, within: float = 30) -> list[str]:
    deadline = time.monotonic() + within
    while not (texts := found()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return texts


def raise_alarm(service: Service, serial: str) -> dict[str, Any]:
    response = service.admin.post("/v1/alarms", json=plain(serial, "A-112"))
    assert response.status_code == 202, response.text
    return response.json()["alarm"]


def test_telegram_contact_is_told_in_english_and_books_a_visit(
    service: Service, bot_api: tuple[str, BotApiStandIn]
) -> None:
    bot = bot_api[1]
    contacts = [{"channel": "telegram", "sender_id": "9001"}]
    register(service.admin, "SN-7", contacts=contacts, lang="en")
    alarm = raise_alarm(service, "SN-7")
    ticket = service.admin.get(f"/v1/tickets/{alarm['ticket_id']}").json()
    notice = eventually(lambda: bot.texts_to(9001), "the alarm notice on Telegram")[0]
    assert "A-112" in notice and "SN-7" in notice and ticket["id"] in notice
    assert f"/v1/tickets/{ticket['id']}/events?token={ticket['status_token']}" in notice
    assert f"{service.url}/v1/tickets/" in notice  # a full link, never a bare path
    assert "High discharge temperature" in notice  # in the customer's language

    assert post(service, text_update(9001, "Please send an engineer")).status_code == 200
    answer = eventually(lambda: bot.texts_to(9001)[1:], "the answer to the reply")[0]
    assert ticket["id"] in answer and "engineer visit is booked" in answer
    moved = service.admin.get(f"/v1/tickets/{ticket['id']}").json()
    assert moved["status"] == "in_progress"


def test_wechat_contact_is_told_in_chinese_and_fixed_asks_an_agent_to_verify(
    service: Service, wechat_api: tuple[str, WeChatApiStandIn], aes_key: str
) -> None:
    standin = wechat_api[1]
    wechat = WeChatServers(service.client, WECHAT_TOKEN, WECHAT_APP_ID, aes_key)
    register(service.admin, "SN-8", contacts=[{"channel": "wechat", "sender_id": "o-wx-8"}])
    alarm = raise_alarm(service, "SN-8")
    notice = eventually(lambda: standin.texts_to("o-wx-8"), "the alarm notice on WeChat")[0]
    assert "【设备报警】" in notice and "排气温度过高" in notice and alarm["ticket_id"] in notice

    reply = wechat.say("o-wx-8", "已经处理好了", msg_id=880001)
    assert "已请客服确认" in reply and alarm["ticket_id"] in reply
    ticket = service.admin.get(f"/v1/tickets/{alarm['ticket_id']}").json()
    assert ticket["status"] == "triaged"
    audit = service.admin.get("/v1/audit", params={"entity_id": alarm["ticket_id"]}).text
    assert "Please verify" in audit and "已经处理好了" in audit


def test_need_a_visit_in_chinese_books_it(
    service: Service, wechat_api: tuple[str, WeChatApiStandIn], aes_key: str
) -> None:
    standin = wechat_api[1]
    wechat = WeChatServers(service.client, WECHAT_TOKEN, WECHAT_APP_ID, aes_key)
    register(service.admin, "SN-9", contacts=[{"channel": "wechat", "sender_id": "o-wx-9"}])
    alarm = raise_alarm(service, "SN-9")
    eventually(lambda: standin.texts_to("o-wx-9"), "the alarm notice on WeChat")
    reply = wechat.say("o-wx-9", "需要上门", msg_id=880002)
    assert "安排工程师上门" in reply and "苏州工业园区星湖街 1 号" in reply
    ticket = service.admin.get(f"/v1/tickets/{alarm['ticket_id']}").json()
    assert ticket["status"] == "in_progress"


def test_a_notice_not_written_before_a_restart_is_sent_after_it(
    channel_settings: Settings, bot_api: tuple[str, BotApiStandIn]
) -> None:
    bot = bot_api[1]
    store_kb(channel_settings.resolved_database_url)
    contacts = [{"channel": "telegram", "sender_id": "9100"}]
    for service in serve(channel_settings):
        register(service.admin, "SN-10", contacts=contacts, lang="en")
        alarm = raise_alarm(service, "SN-10")
        eventually(lambda: bot.texts_to(9100), "the first notice")
    # As if the service had stopped between the alarm's commit and its notice.
    forget_notice(channel_settings.resolved_database_url, alarm["id"])
    for _service in serve(channel_settings):
        notices = eventually(lambda: bot.texts_to(9100)[1:], "the notice after the restart")
        assert alarm["ticket_id"] in notices[0]


def live_conversations(database_url: str, sender_id: str) -> int:
    async def run() -> int:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                found = await session.scalar(
                    select(func.count())
                    .select_from(Conversation)
                    .where(Conversation.sender_id == sender_id, Conversation.live_key.is_not(None))
                )
                return int(found or 0)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_two_notices_to_one_contact_in_one_batch_go_out_on_one_conversation(
    channel_settings: Settings, bot_api: tuple[str, BotApiStandIn]
) -> None:
    """Two units of one contact: their notices, written in one transaction (the batch queued
    after a restart), both reach the contact, on one live conversation."""
    bot = bot_api[1]
    database_url = channel_settings.resolved_database_url
    store_kb(database_url)
    contacts = [{"channel": "telegram", "sender_id": "9200"}]
    for service in serve(channel_settings):
        alarms = []
        for serial in ("SN-11", "SN-12"):
            register(service.admin, serial, contacts=contacts, lang="en")
            alarms.append(raise_alarm(service, serial))
        eventually(lambda: bot.texts_to(9200)[1:], "the first two notices")
    for alarm in alarms:
        forget_notice(database_url, alarm["id"])
    for _service in serve(channel_settings):
        notices = eventually(lambda: bot.texts_to(9200)[3:], "both notices after the restart")
        again = bot.texts_to(9200)[2:]
        assert all(any(a["ticket_id"] in text for text in again) for a in alarms), notices
    assert live_conversations(database_url, "9200") == 1
