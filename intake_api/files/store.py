"""Where file bytes live: content-addressed blobs (the SHA-256 of the bytes names them).

`BlobStore` is the interface; `LocalBlobStore` keeps blobs under a folder (the data dir's
`files/` by default); `s3.S3BlobStore` keeps them in an S3-compatible bucket under the same keys.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol


def content_key(data: bytes) -> str:
    """The blob's name: the hex SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def blob_path(key: str) -> str:
    """Where a blob lives under a store's root: `ab/cd/<key>` (a ValueError if not a key)."""
    if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
        raise ValueError(f"not a content key: {key!r}")
    return f"{key[:2]}/{key[2:4]}/{key}"


class BlobStore(Protocol):
    """Put, get and delete blobs by content key (calls block: run them in a thread)."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def delete(self, key: str) -> None: ...


class LocalBlobStore:
    """Blobs as files `ab/cd/<key>` under `root`, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / blob_path(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            return  # the same bytes are there already
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as part:
            part.write(data)
        os.replace(part.name, path)

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.exists() else None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
