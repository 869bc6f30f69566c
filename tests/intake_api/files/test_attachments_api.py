"""Attachments through `POST /v1/messages` over real HTTP: a display photo answered from the KB
with what was read, refusals (too large, declared type not the bytes', corrupt image), images
stored without EXIF, files served only by signed URL, and deletion with the conversation."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.models import Conversation
from core.database import unit_of_work
from core.settings import Settings
from intake_api.app import create_app
from intake_api.files.flows import FileDesk, FileLimits
from intake_api.files.models import StoredFile
from intake_api.files.signing import UrlSigner
from intake_api.files.store import LocalBlobStore
from intake_api.messages.lifespan import load_interpreter
from intake_api.messages.models import StoredMessage
from knowledge_base.loader import read_knowledge_base
from knowledge_base.store import import_knowledge_base
from tests.support.server import running_server

IMAGES = Path(__file__).resolve().parents[3] / "bench" / "data" / "images"
KEY = "files-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
SIGNING_KEY = "files-test-signing-key"


@pytest.fixture
async def files_settings(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], sample_kb: Path
) -> Settings:
    """The sample KB (codes E01..E09, models BM-2/BM-3) imported, an admin key, a small
    attachment limit."""
    async with unit_of_work(sessions) as session:
        await import_knowledge_base(session, read_knowledge_base(sample_kb))
    return settings.model_copy(
        update={
            "admin_key": KEY,
            "rate_limit_per_sender_per_minute": 10_000,
            "max_attachment_bytes": 200_000,
            "file_signing_key": SIGNING_KEY,
        }
    )


@pytest.fixture
async def api(files_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(files_settings)
    app.state.services.nlu = load_interpreter(files_settings.data_dir / "nlu-model")
    with running_server(app) as base:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
            yield client


def photo(name: str, **extra: Any) -> dict[str, Any]:
    data = base64.b64encode((IMAGES / name).read_bytes()).decode()
    return {"type": "image", "content_type": "image/jpeg", "data_base64": data, **extra}


def message(message_id: str, attachments: list[dict[str, Any]], text: str = "") -> dict:
    return {"channel": "test", "sender_id": f"s-{message_id}", "message_id": message_id,
            "text": text, "lang": "en", "attachments": attachments}  # fmt: skip


def jpeg_with_exif() -> bytes:
    image = Image.open(IMAGES / "036-lcd.jpg")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Maker"  # Make
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0)}  # GPS: latitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def test_display_photo_is_answered_from_the_kb_saying_what_was_read(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post("/v1/messages", json=message("p1", [photo("036-lcd.jpg")]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] == "answer" and body["kb_hits"][0]["id"] == "F-BM-E05"
    assert body["replies"][0]["text"] == "I can see E05 on the display."
    assert {"type": "alarm_code", "value": "E05", "source": "image"} in body["entities"]


async def test_illegible_photo_asks_for_the_code(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/messages", json=message("p2", [photo("080-illegible.jpg")]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] != "answer" and not body["kb_hits"]
    assert "type the code" in body["replies"][0]["text"]


@pytest.mark.parametrize(
    ("attachment", "status", "words"),
    [
        (photo("036-lcd.jpg", content_type="image/png"), 415, "declared image/png"),
        (
            {"type": "image", "data_base64": base64.b64encode(b"%PDF-1.4\n%...").decode()},
            415,
            "application/pdf",
        ),
        (
            {
                "type": "image",
                "data_base64": base64.b64encode(
                    (IMAGES / "036-lcd.jpg").read_bytes()[:300] + b"\0" * 200
                ).decode(),
            },
            422,
            "decoded",
        ),
        (
            {
                "type": "image",
                "data_base64": base64.b64encode(b"\xff\xd8\xff" + b"7" * 300_000).decode(),
            },
            413,
            "limit",
        ),
        ({"type": "image", "data_base64": "not base64!"}, 422, "data_base64"),
    ],  # fmt: skip
    ids=["declared-type", "pdf-as-image", "corrupt", "oversized", "bad-base64"],
)
async def test_bad_attachments_are_refused_and_nothing_is_stored(
    api: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    attachment: dict[str, Any],
    status: int,
    words: str,
) -> None:
    response = await api.post("/v1/messages", json=message("bad", [attachment]))
    assert response.status_code == status, response.text
    assert words in response.json()["message"]
    async with sessions() as session:
        assert await session.scalar(select(func.count(StoredMessage.id))) == 0
    ok = await api.post("/v1/messages", json=message("after", [photo("036-lcd.jpg")]))
    assert ok.status_code == 200 and ok.json()["action"] == "answer"


async def test_stored_image_has_no_exif_and_is_served_only_signed(
    api: httpx.AsyncClient, files_settings: Settings
) -> None:
    sent = base64.b64encode(jpeg_with_exif()).decode()
    assert Image.open(io.BytesIO(base64.b64decode(sent))).getexif()  # the photo had EXIF
    response = await api.post(
        "/v1/messages", json=message("exif", [{"type": "image", "data_base64": sent}])
    )
    assert response.status_code == 200, response.text
    conversation = response.json()["conversation_id"]
    listed = await api.get(f"/v1/conversations/{conversation}/files")
    assert listed.status_code == 200, listed.text
    [file] = listed.json()
    assert file["content_type"] == "image/jpeg" and "Er05" in file["text"]
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        served = await anonymous.get(file["url"])
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        stored = Image.open(io.BytesIO(served.content))
        assert not stored.getexif() and b"SpyCam" not in served.content
        bare = await anonymous.get(f"/v1/files/{file['id']}")
        assert bare.status_code == 401
        forged = await anonymous.get(file["url"].replace("sig=", "sig=0"))
        assert forged.status_code == 403
        expired = UrlSigner(SIGNING_KEY.encode(), 1).url(file["id"], now=1_000_000)[0]
        assert (await anonymous.get(expired)).status_code == 403
        assert (await anonymous.get(f"/v1/conversations/{conversation}/files")).status_code == 401
    blobs = list((files_settings.data_dir / "files").rglob("*"))
    assert any(p.is_file() and b"SpyCam" not in p.read_bytes() for p in blobs)


async def test_deleting_a_conversation_deletes_its_files(
    api: httpx.AsyncClient, files_settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await api.post("/v1/messages", json=message("gone", [photo("034-lcd.jpg")]))
    conversation = response.json()["conversation_id"]
    root = files_settings.data_dir / "files"
    assert [p for p in root.rglob("*") if p.is_file()]
    async with unit_of_work(sessions) as session:
        await session.execute(delete(Conversation).where(Conversation.id == conversation))
    desk = FileDesk(
        sessions=sessions,
        store=LocalBlobStore(root),
        signer=UrlSigner(SIGNING_KEY.encode(), 60),
        limits=FileLimits(max_bytes=1, allowed_types=[], retention_days=30),
    )
    assert await desk.purge() == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count(StoredFile.id))) == 0
    assert not [p for p in root.rglob("*") if p.is_file()]


def serial_plate(serial: str) -> str:
    """A nameplate strip showing only a serial (Pillow's bundled font), as base64 JPEG."""
    image = Image.new("RGB", (520, 120), (225, 215, 170))
    ImageDraw.Draw(image).text(
        (20, 20), f"S/N  {serial}", font=ImageFont.load_default(size=30), fill=(10, 10, 10)
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return base64.b64encode(out.getvalue()).decode()


async def test_a_registered_serial_names_the_units_model(api: httpx.AsyncClient) -> None:
    unit = {"serial": "BM3-202103-7559", "product_id": "BM-3", "customer": {"name": "Ann"}}
    assert (await api.post("/v1/assets", json=unit)).status_code == 201
    plate = {"type": "image", "data_base64": serial_plate("BM3-202103-7559")}
    response = await api.post("/v1/messages", json=message("plate", [plate]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["replies"][0]["text"] == (
        "I can see the nameplate: model BM-3, serial BM3-202103-7559."
    )
    assert {"type": "serial", "value": "BM3-202103-7559", "source": "image"} in body["entities"]
    assert {"type": "product", "value": "BM-3", "source": "image"} in body["entities"]
