"""The S3-compatible file store against moto's S3 server on loopback: blobs put, read and
deleted under content keys (one object for the same bytes), a photo sent through the real
service stored in the bucket and served by its signed URL, and a wrong bucket or a dead endpoint
refused with a clear 503 while the service keeps answering."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from intake_api.app import create_app
from intake_api.files.s3 import FileStoreUnavailable, S3BlobStore
from intake_api.files.store import content_key
from intake_api.messages.lifespan import load_interpreter
from intake_api.messages.models import StoredMessage
from tests.intake_api.files.test_attachments_api import (  # noqa: F401 (a fixture)
    AUTH,
    files_settings,
    message,
    photo,
)
from tests.support.postgres import free_port
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY, running_s3, s3_client
from tests.support.server import running_server

PREFIX = "tenant-a"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with running_s3() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A new, empty bucket for the test."""
    name = f"files-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


def objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    client = s3_client(endpoint)
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def s3_settings(settings: Settings, endpoint: str, bucket: str) -> Settings:
    return settings.model_copy(
        update={
            "files_store": "s3",
            "s3_endpoint_url": endpoint,
            "s3_bucket": bucket,
            "s3_region": REGION,
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key": SECRET_KEY,
            "s3_prefix": PREFIX,
        }
    )


def store_of(endpoint: str, bucket: str, tmp_path: Any) -> S3BlobStore:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    return S3BlobStore.from_settings(s3_settings(settings, endpoint, bucket))


def test_put_read_delete_round_trip(s3_endpoint: str, bucket: str, tmp_path: Any) -> None:
    store = store_of(s3_endpoint, bucket, tmp_path)
    data = b"\x89PNG a photo's bytes"
    key = content_key(data)
    assert store.get(key) is None
    store.put(key, data)
    assert store.get(key) == data
    assert objects(s3_endpoint, bucket) == {f"{PREFIX}/{key[:2]}/{key[2:4]}/{key}": data}
    store.delete(key)
    assert store.get(key) is None and objects(s3_endpoint, bucket) == {}
    store.delete(key)  # deleting what is gone is no error


def test_the_same_bytes_twice_are_one_object(s3_endpoint: str, bucket: str, tmp_path: Any) -> None:
    store = store_of(s3_endpoint, bucket, tmp_path)
    for data in (b"same", b"same", b"other"):
        store.put(content_key(data), data)
    assert sorted(objects(s3_endpoint, bucket).values()) == [b"other", b"same"]


@pytest.mark.parametrize(
    ("where", "reason"),
    [("bucket", "the bucket does not exist"), ("endpoint", "the endpoint could not be used")],
)
def test_a_wrong_bucket_or_endpoint_is_a_typed_error(
    s3_endpoint: str, tmp_path: Any, where: str, reason: str
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}" if where == "endpoint" else s3_endpoint
    store = store_of(endpoint, "no-such-bucket", tmp_path)
    for call in (store.check, lambda: store.put(content_key(b"x"), b"x")):
        with pytest.raises(FileStoreUnavailable, match=reason) as raised:
            call()
        assert raised.value.status_code == 503


def served(settings: Settings) -> AbstractContextManager[str]:
    """The service on loopback, as the attachment tests start it."""
    app = create_app(settings)
    app.state.services.nlu = load_interpreter(settings.data_dir / "nlu-model")
    return running_server(app)


async def test_a_photo_is_stored_in_the_bucket_and_served_by_its_signed_url(
    files_settings: Settings,  # noqa: F811
    s3_endpoint: str,
    bucket: str,
) -> None:
    settings = s3_settings(files_settings, s3_endpoint, bucket)
    with served(settings) as base:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as api:
            sent = await api.post("/v1/messages", json=message("s3", [photo("036-lcd.jpg")]))
            assert sent.status_code == 200, sent.text
            assert sent.json()["kb_hits"][0]["id"] == "F-BM-E05"
            conversation = sent.json()["conversation_id"]
            [file] = (await api.get(f"/v1/conversations/{conversation}/files")).json()
            async with httpx.AsyncClient() as anonymous:
                served_file = await anonymous.get(file["url"])
    [(key, stored)] = objects(s3_endpoint, bucket).items()
    assert key.startswith(f"{PREFIX}/") and key.endswith(content_key(stored))
    assert served_file.status_code == 200 and served_file.content == stored
    assert not (settings.data_dir / "files").exists()  # nothing went to the local store


@pytest.mark.parametrize("where", ["bucket", "endpoint"])
async def test_a_store_that_fails_refuses_the_message_with_a_503_and_the_service_goes_on(
    files_settings: Settings,  # noqa: F811
    sessions: async_sessionmaker[AsyncSession],
    s3_endpoint: str,
    where: str,
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}" if where == "endpoint" else s3_endpoint
    settings = s3_settings(files_settings, endpoint, "no-such-bucket")
    with served(settings) as base:  # starts although the bucket does not answer
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as api:
            refused = await api.post("/v1/messages", json=message("x", [photo("036-lcd.jpg")]))
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"] == "file_store_unavailable"
            assert "could not store the file" in refused.json()["message"]
            text = await api.post("/v1/messages", json=message("y", [], text="E05 on BM-3"))
            assert text.status_code == 200, text.text
    async with sessions() as session:
        assert await session.scalar(select(func.count(StoredMessage.id))) == 1
