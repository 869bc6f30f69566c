"""Photos, voice notes and files from the channels reach the bot as attachments with their
bytes: WeChat's media API by MediaId, Telegram's getFile (both local stand-ins), and get an
answer from the knowledge base that says what was read; a file the service refuses gets a
clear reply, not a failed webhook."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import unit_of_work
from core.settings import Settings
from intake_api.files.models import StoredFile
from knowledge_base.loader import read_knowledge_base
from knowledge_base.store import import_knowledge_base
from tests.channels.conftest import WECHAT_APP_ID, WECHAT_TOKEN, Service, serve
from tests.channels.standins import BotApiStandIn, WeChatApiStandIn
from tests.channels.test_telegram import post, user
from tests.channels.test_wechat import new_msg_id
from tests.channels.wechat_platform import WeChatServers, message_xml

IMAGES = Path(__file__).resolve().parents[2] / "bench" / "data" / "images"
DISPLAY_E05 = (IMAGES / "036-lcd.jpg").read_bytes()  # "Er05" on a BM-2 controller
AMR = b"#!AMR\n" + bytes(range(256)) * 4  # the AMR magic WeChat voice notes start with

# Where the files are recorded matters: every test on both databases.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
async def kb_settings(
    channel_settings: Settings, sessions: async_sessionmaker[AsyncSession], sample_kb: Path
) -> Settings:
    """The channels on the sample KB (codes E01..E09), a 100 kB attachment limit."""
    async with unit_of_work(sessions) as session:
        await import_knowledge_base(session, read_knowledge_base(sample_kb))
    return channel_settings.model_copy(update={"max_attachment_bytes": 100_000})


@pytest.fixture
def kb_service(kb_settings: Settings) -> Iterator[Service]:
    yield from serve(kb_settings)


@pytest.fixture
def wechat(kb_service: Service, aes_key: str) -> WeChatServers:
    return WeChatServers(kb_service.client, WECHAT_TOKEN, WECHAT_APP_ID, aes_key)


async def stored_files(sessions: async_sessionmaker[AsyncSession]) -> list[StoredFile]:
    async with sessions() as session:
        return list((await session.execute(select(StoredFile))).scalars())


async def test_wechat_photo_is_fetched_read_and_answered_from_the_kb(
    wechat: WeChatServers,
    wechat_api: tuple[str, WeChatApiStandIn],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    wechat_api[1].media["m-photo"] = (DISPLAY_E05, "image/jpeg")
    image = message_xml(
        "o-photo", "image", new_msg_id(), PicUrl="http://mmbiz.example/p.jpg", MediaId="m-photo"
    )
    reply = wechat.reply(wechat.post(image, safe=True), safe=True)["Content"]
    assert reply.startswith("我在照片上看到显示屏上的代码 E05。")
    assert "E05" in reply.split("。", 1)[1]  # the KB's answer follows
    assert wechat_api[1].recorder.of("media_get") == [{"media_id": "m-photo"}]
    [file] = await stored_files(sessions)
    assert (file.channel, file.kind, file.content_type) == ("wechat", "image", "image/jpeg")
    assert "Er05" in (file.text or "")


async def test_wechat_voice_uses_recognition_and_keeps_the_note(
    wechat: WeChatServers,
    wechat_api: tuple[str, WeChatApiStandIn],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    wechat_api[1].media["m-voice"] = (AMR, "audio/amr")
    voice = message_xml(
        "o-voice", "voice", new_msg_id(), MediaId="m-voice", Format="amr", Recognition="报警E05"
    )
    reply = wechat.reply(wechat.post(voice))["Content"]
    assert "E05" in reply and "照片" not in reply
    [file] = await stored_files(sessions)
    assert (file.kind, file.content_type) == ("voice", "audio/amr")


def test_wechat_file_over_the_limit_gets_a_clear_reply(
    wechat: WeChatServers, wechat_api: tuple[str, WeChatApiStandIn]
) -> None:
    wechat_api[1].media["m-big"] = (b"%PDF-1.4\n" + b"0" * 200_000, "application/pdf")
    document = message_xml("o-big", "file", new_msg_id(), MediaId="m-big", Title="manual.pdf")
    response = wechat.post(document)
    assert response.status_code == 200
    assert "请用文字描述" in wechat.reply(response)["Content"]


def photo_update(chat_id: int, file_id: str, caption: str | None = None) -> dict[str, Any]:
    """A photo message as the Bot API sends it: several sizes, the largest last."""
    sizes = [
        {"file_id": f"{file_id}-small", "file_unique_id": "s", "width": 90, "height": 40},
        {"file_id": file_id, "file_unique_id": "l", "width": 420, "height": 170},
    ]
    message: dict[str, Any] = {
        "message_id": int(time.time() * 1000) % 1_000_000,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
        "from": user(chat_id, "en"),
        "photo": sizes,
    }
    if caption:
        message["caption"] = caption
    return {"update_id": int(time.time() * 1000), "message": message}


async def test_telegram_photo_is_fetched_with_getfile_and_answered(
    kb_service: Service,
    bot_api: tuple[str, BotApiStandIn],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bot_api[1].files["ph-1"] = DISPLAY_E05
    assert post(kb_service, photo_update(5151, "ph-1")).status_code == 200
    texts = bot_api[1].texts_to(5151)
    assert texts[0] == "I can see E05 on the display."
    assert len(texts) >= 2 and "E05" in texts[1]
    assert bot_api[1].recorder.of("getFile") == [{"file_id": "ph-1"}]
    [file] = await stored_files(sessions)
    assert (file.channel, file.content_type) == ("telegram", "image/jpeg")


def test_telegram_photo_that_is_not_an_image_gets_a_clear_reply(
    kb_service: Service, bot_api: tuple[str, BotApiStandIn]
) -> None:
    bot_api[1].files["ph-2"] = b"%PDF-1.4\nnot a photo"
    assert post(kb_service, photo_update(5252, "ph-2")).status_code == 200
    assert "Please type your question" in bot_api[1].texts_to(5252)[0]
