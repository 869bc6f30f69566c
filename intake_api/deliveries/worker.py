"""The delivery worker: drains the outbox to the backend webhook, in order per ticket.

Each process runs one worker (started by `deliveries_lifespan` when a webhook URL is set). Rows
are leased atomically (`locked_by`/`locked_until`, `FOR UPDATE SKIP LOCKED` on PostgreSQL), so
any number of workers share the outbox without delivering a row twice at the same time, and the
rows of a process killed mid-delivery are taken over once their lease expires. Delivery is at
least once: a backend must de-duplicate by `event_id`.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake_api.deliveries import metrics, service
from intake_api.deliveries.doorbell import Doorbell
from intake_api.deliveries.models import OutboxEvent, utcnow
from intake_api.deliveries.signing import EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, sign
from intake_api.logs import get_logger
from intake_api.settings import Settings
from intake_api.storage.db import unit_of_work

log = get_logger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429})
MAX_CONCURRENT_DELIVERIES = 32
SHUTDOWN_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class DeliveryConfig:
    """Where and how to deliver; built from settings by the composition root."""

    url: str
    secret: str | None
    timeout_seconds: float
    max_attempts: int
    backoff_base_seconds: float
    backoff_cap_seconds: float
    poll_seconds: float
    lease_seconds: float
    concurrency: int = MAX_CONCURRENT_DELIVERIES

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        if not settings.webhook_url:
            raise ValueError("AFTERSALES_WEBHOOK_URL is not set")
        return cls(
            url=settings.webhook_url,
            secret=settings.webhook_secret,
            timeout_seconds=settings.delivery_timeout_seconds,
            max_attempts=max(1, settings.delivery_max_attempts),
            backoff_base_seconds=settings.delivery_backoff_base_seconds,
            backoff_cap_seconds=settings.delivery_backoff_cap_seconds,
            poll_seconds=settings.delivery_poll_seconds,
            # A lease shorter than a request would let a second worker resend a slow delivery.
            lease_seconds=max(
                settings.delivery_lease_seconds, settings.delivery_timeout_seconds + 1
            ),
        )


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """Capped exponential back-off with full jitter for the `attempt`-th failure (1-based)."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: delivered, or failed (retryable or not) with the reason."""

    delivered: bool
    status_code: int | None = None
    error: str = ""
    reason: str = ""
    retryable: bool = True
    retry_after: float | None = None


def classify(response: httpx.Response) -> Outcome:
    """2xx delivers; 5xx, 408, 425 and 429 are retried; any other answer is a rejection."""
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(delivered=True, status_code=code)
    error = f"backend answered {code}: {response.text[:200]}"
    if code >= 500 or code in RETRYABLE_STATUS:
        reason = "http_429" if code == 429 else ("http_5xx" if code >= 500 else "http_4xx")
        return Outcome(
            False, code, error, reason, retryable=True, retry_after=_retry_after_seconds(response)
        )
    return Outcome(False, code, error, "http_4xx", retryable=False)


class DeliveryWorker:
    """Claims due outbox rows and POSTs them, several tickets at once, one event per ticket."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], config: DeliveryConfig) -> None:
        self.sessions = sessions
        self.config = config
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._bell: Doorbell | None = None
        self._client: httpx.AsyncClient | None = None
        # SQLite takes one writer at a time; queueing our own writes here instead of in its
        # busy handler (which sleeps) keeps claims and outcomes quick and leases honest.
        bind = sessions.kw.get("bind")
        self._sqlite = bind is not None and bind.dialect.name == "sqlite"
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work, queued behind this worker's other writes on SQLite."""
        if not self._sqlite:
            async with unit_of_work(self.sessions) as session:
                yield session
            return
        async with self._write_lock, unit_of_work(self.sessions) as session:
            yield session

    async def start(self) -> None:
        """Begin draining the outbox in the background."""
        self._bell = Doorbell()
        self._client = httpx.AsyncClient(timeout=self.config.timeout_seconds)
        self._loop_task = asyncio.create_task(self._run(), name="deliveries-worker")
        log.info("delivery worker started", worker=self.worker_id, url=self.config.url)

    async def stop(self) -> None:
        """Stop claiming, let in-flight deliveries finish briefly, give back the rest."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        pending = list(self._inflight.values())
        if pending:
            _, unfinished = await asyncio.wait(pending, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        try:
            async with self._transaction() as session:
                await service.release_leases(session, worker_id=self.worker_id)
        except SQLAlchemyError as exc:  # the leases then simply expire
            log.warning("could not release delivery leases", error=str(exc))
        if self._client is not None:
            await self._client.aclose()
        log.info("delivery worker stopped", worker=self.worker_id)

    async def _run(self) -> None:
        assert self._bell is not None
        while True:
            self._bell.clear()
            claimed = await self._claim()
            for row in claimed:
                if row.id not in self._inflight:
                    task = asyncio.create_task(self._deliver(row))
                    self._inflight[row.id] = task
                    task.add_done_callback(lambda _t, row_id=row.id: self._finished(row_id))
            if not claimed or len(self._inflight) >= self.config.concurrency:
                await self._bell.wait(self.config.poll_seconds)

    def _finished(self, row_id: int) -> None:
        self._inflight.pop(row_id, None)
        if self._bell is not None:
            self._bell.ring()  # the ticket's next event may be due now

    async def _claim(self) -> list[OutboxEvent]:
        free = self.config.concurrency - len(self._inflight)
        if free <= 0:
            return []
        now = utcnow()
        try:
            async with self._transaction() as session:
                return await service.claim_due(
                    session,
                    worker_id=self.worker_id,
                    now=now,
                    lease_until=now + timedelta(seconds=self.config.lease_seconds),
                    limit=free,
                )
        except SQLAlchemyError as exc:  # database briefly unavailable: try again next poll
            log.warning("claiming deliveries failed", error=str(exc))
            return []

    async def _deliver(self, row: OutboxEvent) -> None:
        try:
            outcome = await self._post(row)
            await self._record(row, outcome)
        except Exception as exc:  # one bad row must not stop the worker
            log.error(
                "delivery crashed; its lease will expire", event_id=row.event_id, error=str(exc)
            )

    async def _post(self, row: OutboxEvent) -> Outcome:
        assert self._client is not None
        body = row.body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: row.event_id,
            EVENT_HEADER: row.event,
        }
        if self.config.secret:
            headers[SIGNATURE_HEADER] = sign(body, self.config.secret)
        try:
            response = await self._client.post(self.config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}", "network")
        return classify(response)

    async def _record(self, row: OutboxEvent, outcome: Outcome) -> None:
        now = utcnow()
        if outcome.delivered:
            assert outcome.status_code is not None
            async with self._transaction() as session:
                await service.mark_delivered(
                    session, row_id=row.id, status_code=outcome.status_code, now=now
                )
            metrics.DELIVERED.inc()
            metrics.LAG.observe((now - row.created_at).total_seconds())
            return
        retry_at = self._retry_at(row, outcome, now)
        async with self._transaction() as session:
            await service.mark_failed(
                session,
                row_id=row.id,
                worker_id=self.worker_id,
                error=outcome.error,
                status_code=outcome.status_code,
                retry_at=retry_at,
            )
        metrics.FAILED_ATTEMPTS.labels(reason=outcome.reason).inc()
        if retry_at is None:
            metrics.DEAD.inc()
            log.warning("delivery dead-lettered", event_id=row.event_id, error=outcome.error)

    def _retry_at(self, row: OutboxEvent, outcome: Outcome, now: datetime) -> datetime | None:
        """When to try again, or None to dead-letter (rejected, or attempts exhausted)."""
        attempt = row.attempts + 1
        if not outcome.retryable or attempt >= self.config.max_attempts:
            return None
        delay = backoff_seconds(
            attempt, base=self.config.backoff_base_seconds, cap=self.config.backoff_cap_seconds
        )
        if outcome.retry_after is not None:
            delay = max(delay, min(outcome.retry_after, self.config.backoff_cap_seconds))
        return now + timedelta(seconds=delay)


@asynccontextmanager
async def deliveries_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run a delivery worker while the app serves, when a webhook URL is configured."""
    settings: Settings = app.state.settings
    if not settings.webhook_url:
        log.info("no AFTERSALES_WEBHOOK_URL: ticket events stay in the outbox")
        yield
        return
    if not settings.webhook_secret:
        log.warning("AFTERSALES_WEBHOOK_SECRET is not set: deliveries go out unsigned")
    worker = DeliveryWorker(app.state.sessions, DeliveryConfig.from_settings(settings))
    await worker.start()
    app.state.delivery_worker = worker
    try:
        yield
    finally:
        await worker.stop()
