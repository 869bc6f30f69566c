"""The customer's photo in the agent workspace, in headless Chromium against the whole service on
loopback (SQLite and PostgreSQL): a customer on a ticketed conversation sends a photo of an
alarm display through `POST /v1/messages`; the signed-in agent opens the ticket and sees the
thumbnail load from its signed URL, beside the text OCR read off it, in the customer's line; the
voice note and the PDF sent with it are an audio player and a download link."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.channels.test_transcripts import Service, cached_interpreter, serve_ice_maker_service
from tests.intake_api.agents.browser import WAIT_MS, chromium, create_agent, sign_in
from tests.support.postgres import create_database

PHOTO = Path(__file__).parents[3] / "bench" / "data" / "images" / "001-lcd.jpg"  # shows A-112
VOICE = b"#!AMR\n" + bytes(range(256)) * 4  # the AMR magic WeChat voice notes start with
MANUAL = b"%PDF-1.4\n% service report\n"
PASSWORD = "ice maker 2026"
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("attachments")
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{folder / 'attachments.db'}"
    else:
        database_url = create_database(request.getfixturevalue("postgres_admin_url"))
    yield from serve_ice_maker_service(folder, database_url, cached_interpreter(pytestconfig))


def customer_sends(service: Service, sender: str, text: str, **extra: object) -> dict:
    answer = service.admin.post(
        "/v1/messages",
        json={
            "channel": "web",
            "sender_id": sender,
            "message_id": uuid.uuid4().hex,
            "text": text,
            "lang": "en",
            **extra,
        },
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_the_agent_sees_the_photo_and_what_was_read_off_it(service: Service) -> None:
    create_agent(service.admin, PASSWORD)
    sender = f"photo-{uuid.uuid4().hex[:8]}"
    ticket = customer_sends(service, sender, "talk to a person")["ticket"]
    assert ticket, "the handoff made no ticket"
    photo = b64(PHOTO.read_bytes())
    sent = customer_sends(
        service,
        sender,
        "",
        attachments=[
            {"type": "image", "content_type": "image/jpeg", "data_base64": photo},
            {"type": "voice", "data_base64": b64(VOICE)},
            {"type": "file", "name": "report.pdf", "data_base64": b64(MANUAL)},
        ],
    )
    files = service.admin.get(f"/v1/conversations/{sent['conversation_id']}/files").json()
    assert sorted(f["kind"] for f in files) == ["file", "image", "voice"]
    image, voice, report = (
        next(f for f in files if f["kind"] == k) for k in ("image", "voice", "file")
    )
    read = image["text"]
    assert read and "112" in read  # OCR read the display

    with chromium() as browser:
        page = browser.new_context(locale="en-US").new_page()
        sign_in(page, service.url, PASSWORD)
        page.fill("#f-q", ticket["id"])
        page.locator(f"#inbox li[data-id='{ticket['id']}']").click()
        expect(page.locator("#item-title")).to_contain_text(ticket["id"])

        line = page.locator("#transcript .line.customer").last
        shown = line.locator(f"figure[data-file-id='{image['id']}']")
        thumb = shown.locator("img.thumb")
        expect(thumb).to_be_visible()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
        )
        href = shown.locator("a").get_attribute("href") or ""
        assert f"/v1/files/{image['id']}?expires=" in href
        assert shown.locator("a").get_attribute("target") == "_blank"  # opens full size
        expect(shown.locator("figcaption.ocr")).to_have_text(read)
        audio = line.locator(f"figure[data-file-id='{voice['id']}'] audio[controls]")
        assert f"/v1/files/{voice['id']}?expires=" in (audio.get_attribute("src") or "")
        download = line.locator(f"figure[data-file-id='{report['id']}'] a[download]")
        expect(download).to_have_text("report.pdf")
        assert f"/v1/files/{report['id']}?expires=" in (download.get_attribute("href") or "")
        expect(page.locator("#files-box")).to_be_hidden()  # every file sits in its line


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
