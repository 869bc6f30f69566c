"""Photos in the web chat, in a real headless Chromium against the whole service: picked with
the photo button, shrunk in the page, uploaded with a progress bar to `POST /chat/upload`, read
and answered from the knowledge base; refusals (not an image, a type the bytes do not have, no
session) are clear, in the page and over HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from core.settings import Settings
from intake_api.app import create_app
from intake_api.services import services
from tests.channels.test_transcripts import (
    ADMIN_KEY,
    Service,
    _prepare_database,
    cached_interpreter,
    run_apart,
)
from tests.channels.test_webchat import browser, context, open_chat  # noqa: F401 (fixtures)
from tests.support.server import running_server

IMAGES = Path(__file__).resolve().parents[2] / "bench" / "data" / "images"
SAMPLE_KB = Path(__file__).resolve().parents[2] / "bench" / "data" / "sample" / "kb-sample.yaml"


@pytest.fixture(scope="module")
def photo_service(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Service]:
    """The whole service on the sample KB (codes E01..E09)."""
    folder = tmp_path_factory.mktemp("webchat-photos")
    (folder / "kb").mkdir()
    shutil.copy(SAMPLE_KB, folder / "kb" / "sample.yaml")
    database_url = f"sqlite+aiosqlite:///{folder / 'chat.db'}"
    run_apart(_prepare_database(database_url, folder / "kb"))
    settings = Settings(
        _env_file=None,
        data_dir=folder / "data",
        database_url=database_url,
        admin_key=ADMIN_KEY,
        load_demo_kb=False,
    )
    app = create_app(settings)
    services(app).nlu = cached_interpreter(pytestconfig)
    with running_server(app) as url, httpx.Client(base_url=url, timeout=60) as admin:
        yield Service(url=url, app=app, database_url=database_url, admin=admin)


def test_picked_photo_is_uploaded_read_and_answered(
    context: BrowserContext,  # noqa: F811
    photo_service: Service,
) -> None:
    page: Page = open_chat(context, photo_service)
    page.locator("#file").set_input_files(str(IMAGES / "036-lcd.jpg"))
    mine = page.locator(".msg-customer").last
    expect(mine.locator("img.photo")).to_be_visible()
    expect(
        page.locator(".msg-bot .bubble", has_text="I can see E05 on the display.")
    ).to_be_visible()
    expect(mine.locator("progress")).to_have_count(0)  # the upload finished
    expect(mine).not_to_have_class("failed")
    # what was read, then the KB's answer for E05
    expect(page.locator(".msg-bot .bubble").filter(has_text="E05")).to_have_count(2)


def test_a_file_that_is_not_a_picture_is_refused_in_the_page(
    context: BrowserContext,  # noqa: F811
    photo_service: Service,
    tmp_path: Path,
) -> None:
    page: Page = open_chat(context, photo_service)
    notes = tmp_path / "notes.txt"
    notes.write_text("E05")
    page.locator("#file").set_input_files(str(notes))
    expect(page.locator(".msg-system .bubble", has_text="Only pictures")).to_be_visible()


def test_upload_route_refuses_clearly(photo_service: Service) -> None:
    client = photo_service.admin
    token = client.post("/chat/session", json={}).json()["token"]
    photo = (IMAGES / "036-lcd.jpg").read_bytes()
    as_png = client.post(
        "/chat/upload",
        params={"token": token, "id": "p-1"},
        content=photo,
        headers={"Content-Type": "image/png"},
    )
    assert as_png.status_code == 415
    assert "declared image/png" in as_png.json()["message"]
    corrupt = client.post(
        "/chat/upload",
        params={"token": token, "id": "p-2"},
        content=photo[:400],
        headers={"Content-Type": "image/jpeg"},
    )
    assert corrupt.status_code == 422 and "decoded" in corrupt.json()["message"]
    stranger = client.post(
        "/chat/upload",
        params={"token": "forged.token", "id": "p-3"},
        content=photo,
        headers={"Content-Type": "image/jpeg"},
    )
    assert stranger.status_code == 401
    ok = client.post(
        "/chat/upload",
        params={"token": token, "id": "p-4", "lang": "en"},
        content=photo,
        headers={"Content-Type": "image/jpeg"},
    )
    assert ok.status_code == 200 and ok.json()["replies"][0] == "I can see E05 on the display."
