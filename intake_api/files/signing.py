"""Signed, expiring file URLs: what the agent workspace and the customer's own chat link to.

`GET /v1/files/{id}?expires=<unix>&sig=<hex>` with `sig` the HMAC-SHA256 of `"{id}:{expires}"`
under the service's file key (`AFTERSALES_FILE_SIGNING_KEY`, else a random key kept in the data
dir, the same for every worker). Anyone holding the URL may fetch the file until it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path

from core.errors import Forbidden, Unauthorized

KEY_FILE = "file-signing.key"


def signing_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, else the data dir's own (made on first use)."""
    if configured:
        return configured.encode()
    path = data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("x", encoding="ascii") as file:  # another worker may win the race
                file.write(secrets.token_hex(32))
            path.chmod(0o600)
        except FileExistsError:
            pass
    return path.read_text(encoding="ascii").strip().encode()


class UrlSigner:
    """Signs and checks file URLs."""

    def __init__(self, key: bytes, lifetime_seconds: int) -> None:
        self.key = key
        self.lifetime = lifetime_seconds

    def _signature(self, file_id: str, expires: int) -> str:
        return hmac.new(self.key, f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, file_id: str, *, base: str = "", now: float | None = None) -> tuple[str, int]:
        """The signed path (under `base`) of a file, and when it expires (unix seconds)."""
        expires = int((now or time.time()) + self.lifetime)
        sig = self._signature(file_id, expires)
        return f"{base}/v1/files/{file_id}?expires={expires}&sig={sig}", expires

    def verify(self, file_id: str, expires: int | None, sig: str | None) -> None:
        """401 without a signature, 403 with a wrong or expired one."""
        if expires is None or not sig:
            raise Unauthorized(
                "a file needs a signed URL (expires, sig): agents get one from "
                "GET /v1/conversations/{id}/files"
            )
        if not hmac.compare_digest(sig.encode(), self._signature(file_id, expires).encode()):
            raise Forbidden("the file URL's signature is not valid")
        if expires < time.time():
            raise Forbidden("the file URL has expired; ask for a new one")
