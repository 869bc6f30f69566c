"""API keys a worker verified, kept for a few seconds so a request with a known key skips the
database read (`AFTERSALES_API_KEY_CACHE_SECONDS`); one per app, `services(app).key_cache`.

Only keys that were found valid are kept, so a new key works at once. A key revoked through this
worker is dropped at once; a lookup that was already under way when it was revoked does not put
it back (the generation check). Other workers, and revocations from the CLI, are seen when the
entry expires.
"""

from __future__ import annotations

import hashlib
import time

from intake_api.auth.models import Principal


class KeyCache:
    """Principals by a hash of their key, each until its expiry (monotonic seconds)."""

    max_entries = 10_000

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[bytes, tuple[Principal, float]] = {}
        # Bumped by every revocation: a lookup that began before it must not store its answer.
        self.generation = 0

    @staticmethod
    def _digest(key: str) -> bytes:
        # The key itself is not kept in memory longer than its request.
        return hashlib.sha256(key.encode()).digest()

    def get(self, key: str) -> Principal | None:
        """The principal of `key` while its entry is fresh, else None."""
        entry = self._entries.get(self._digest(key))
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def put(self, key: str, principal: Principal, *, generation: int) -> None:
        """Keep `principal` unless a key was revoked since the lookup began (`generation`)."""
        if self.ttl_seconds <= 0 or generation != self.generation:
            return
        now = time.monotonic()
        if len(self._entries) >= self.max_entries:
            self._entries = {d: e for d, e in self._entries.items() if e[1] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[self._digest(key)] = (principal, now + self.ttl_seconds)

    def forget(self, key_id: int) -> None:
        """Drop key `key_id` (revoked): refused from the next request on."""
        self.generation += 1
        self._entries = {d: e for d, e in self._entries.items() if e[0].key_id != key_id}
