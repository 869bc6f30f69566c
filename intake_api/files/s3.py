"""Attachment blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph...), chosen with
`AFTERSALES_FILES_STORE=s3`.

Keys are the local store's (`ab/cd/<sha256>`, under an optional prefix), so a folder of local
blobs copies into the bucket as it is. Every failure of the bucket (missing, credentials
refused, endpoint down) is logged and raised as `FileStoreUnavailable`, a 503 that names it.
"""

from __future__ import annotations

from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from core.errors import ServiceError
from core.logs import get_logger
from core.settings import Settings
from intake_api.files.store import blob_path

log = get_logger(__name__)

# Fail fast when the endpoint is down: a customer's message waits on this.
CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"}
)
MISSING = {"404", "NoSuchKey", "NotFound"}


class FileStoreUnavailable(ServiceError):
    """The file store cannot be used right now; nothing was stored."""

    status_code = 503
    code = "file_store_unavailable"


class S3BlobStore:
    """Blobs as objects `<prefix>ab/cd/<key>` in one bucket (calls block: run them in a thread)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        """The store the `s3_*` settings describe (credentials: boto3's chain when unset)."""
        if not settings.s3_bucket:
            raise ValueError("AFTERSALES_FILES_STORE=s3 needs AFTERSALES_S3_BUCKET")
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=CLIENT_CONFIG,
        )
        return cls(client, settings.s3_bucket, settings.s3_prefix)

    def object_key(self, key: str) -> str:
        return self.prefix + blob_path(key)

    def put(self, key: str, data: bytes) -> None:
        if self._exists(key):
            return  # the same bytes are there already
        self._call("store the file", key, "put_object", Body=data)

    def get(self, key: str) -> bytes | None:
        try:
            answer = self._call("read the file", key, "get_object", missing_ok=True)
        except _Missing:
            return None
        return bytes(answer["Body"].read())

    def delete(self, key: str) -> None:
        self._call("delete the file", key, "delete_object")

    def check(self) -> None:
        """Raise `FileStoreUnavailable` unless the bucket answers (checked at start-up)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("reach the bucket", exc) from exc

    def _exists(self, key: str) -> bool:
        try:
            self._call("store the file", key, "head_object", missing_ok=True)
        except _Missing:
            return False
        return True

    def _call(
        self, doing: str, key: str, method: str, missing_ok: bool = False, **args: Any
    ) -> Any:
        """`client.<method>` on the key's object, its failures typed (`_Missing` when allowed)."""
        try:
            return getattr(self.client, method)(
                Bucket=self.bucket, Key=self.object_key(key), **args
            )
        except ClientError as exc:
            if missing_ok and exc.response.get("Error", {}).get("Code") in MISSING:
                raise _Missing from exc
            raise self._unavailable(doing, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(doing, exc) from exc

    def _unavailable(self, doing: str, exc: Exception) -> FileStoreUnavailable:
        reason = _reason(exc)
        log.error("file store failed", doing=doing, bucket=self.bucket, reason=reason)
        return FileStoreUnavailable(
            f"the file store could not {doing}: {reason}", bucket=self.bucket
        )


class _Missing(Exception):
    """The object (not the bucket) is not there."""


def _reason(exc: Exception) -> str:
    """What went wrong, in words an operator can act on."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "?")
        if code in {"NoSuchBucket", "404"}:
            return "the bucket does not exist"
        if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"}:
            return f"the credentials were refused ({code})"
        return f"{code}: {error.get('Message', '')}".strip()
    return f"the endpoint could not be used ({exc})"
