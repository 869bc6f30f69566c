"""The delivery worker: drains the outbox to the backend webhook, in order per ticket.

Each process runs one worker (started by `deliveries_lifespan` when a webhook URL is set). Rows
are leased atomically (`locked_by`/`locked_until`, `FOR UPDATE SKIP LOCKED` on PostgreSQL), so
any number of workers share the outbox without delivering a row twice at the same time, and the
rows of a process killed mid-delivery are taken over once their lease expires. Delivery is at
least once: a backend must de-duplicate by `event_id`.
"""

from __future__ import annotations

import asyncio
import functools
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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import unit_of_work
from core.logs import get_logger
from core.settings import Settings
from intake_api.deliveries import metrics, service
from intake_api.deliveries.doorbell import Doorbell
from intake_api.deliveries.models import OutboxEvent, utcnow
from intake_api.deliveries.signing import EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, sign
from intake_api.services import services

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
    """Claims due outbox rows and POSTs them, several tickets at once, one event per ticket.

    One loop does all database work: each round records the outcomes of finished deliveries
    and claims new rows in a single transaction, so a delivery costs a fraction of a transaction
    and a ticket's next event is claimed in the round that records its predecessor.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], config: DeliveryConfig) -> None:
        self.sessions = sessions
        self.config = config
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._finished: list[tuple[OutboxEvent, Outcome]] = []
        self._loop_task: asyncio.Task[None] | None = None
        self._bell: Doorbell | None = None
        self._client: httpx.AsyncClient | None = None
        self._stopping = False

    async def start(self) -> None:
        """Begin draining the outbox in the background."""
        self._bell = Doorbell()
        self._client = httpx.AsyncClient(timeout=self.config.timeout_seconds)
        self._loop_task = asyncio.create_task(self._run(), name="deliveries-worker")
        log.info("delivery worker started", worker=self.worker_id, url=self.config.url)

    async def stop(self) -> None:
        """Stop claiming; let in-flight deliveries finish briefly; record them; free the rest."""
        self._stopping = True  # ends the loop even if a library swallows the cancellation
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._inflight:
            _, unfinished = await asyncio.wait(
                list(self._inflight.values()), timeout=SHUTDOWN_GRACE_SECONDS
            )
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        try:
            finished, self._finished = self._finished, []
            async with unit_of_work(self.sessions) as session:
                await self._record(session, finished)
                await service.release_leases(session, worker_id=self.worker_id)
            self._observe(finished)
        except Exception as exc:  # the leases then simply expire and the rows are retried
            log.warning("could not record the last deliveries", error=str(exc))
        if self._client is not None:
            await self._client.aclose()
        log.info("delivery worker stopped", worker=self.worker_id)

    async def _run(self) -> None:
        assert self._bell is not None
        while not self._stopping:
            self._bell.clear()
            finished, self._finished = self._finished, []
            try:
                claimed = await self._round(finished)
            except asyncio.CancelledError:
                self._finished[:0] = finished  # recorded by stop() (recording is idempotent)
                raise
            except Exception as exc:  # database briefly unavailable: keep outcomes, try again
                self._finished[:0] = finished
                log.warning("delivery round failed", error=str(exc))
                await asyncio.sleep(self.config.poll_seconds)
                continue
            self._observe(finished)
            for row in claimed:
                if row.id not in self._inflight:
                    task = asyncio.create_task(self._deliver(row))
                    self._inflight[row.id] = task
                    task.add_done_callback(functools.partial(self._forget, row.id))
            if not claimed and not finished:
                await self._bell.wait(self.config.poll_seconds)

    def _forget(self, row_id: int, _task: asyncio.Task[None]) -> None:
        """A delivery task ended (delivered, failed or cancelled): free its place."""
        self._inflight.pop(row_id)

    async def _round(self, finished: list[tuple[OutboxEvent, Outcome]]) -> list[OutboxEvent]:
        """Record `finished` outcomes and claim what is due now, in one transaction."""
        async with unit_of_work(self.sessions) as session:
            await self._record(session, finished)
            free = self.config.concurrency - len(self._inflight)
            if free <= 0:
                return []
            now = utcnow()
            return await service.claim_due(
                session,
                worker_id=self.worker_id,
                now=now,
                lease_until=now + timedelta(seconds=self.config.lease_seconds),
                limit=free,
            )

    async def _deliver(self, row: OutboxEvent) -> None:
        try:
            outcome = await self._post(row)
        except Exception as exc:  # one bad row must not stop the worker: retry it later
            outcome = Outcome(False, None, f"{type(exc).__name__}: {exc}", "error")
        self._finished.append((row, outcome))
        assert self._bell is not None
        self._bell.ring()  # record it (and claim the ticket's next event) at once

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

    async def _record(
        self, session: AsyncSession, finished: list[tuple[OutboxEvent, Outcome]]
    ) -> None:
        now = utcnow()
        delivered: dict[int, list[int]] = {}
        for row, outcome in finished:
            if outcome.delivered:
                assert outcome.status_code is not None
                delivered.setdefault(outcome.status_code, []).append(row.id)
                continue
            await service.mark_failed(
                session,
                row_id=row.id,
                worker_id=self.worker_id,
                error=outcome.error,
                status_code=outcome.status_code,
                retry_at=self._retry_at(row, outcome, now),
            )
        for status_code, row_ids in delivered.items():
            await service.mark_delivered(session, row_ids=row_ids, status_code=status_code, now=now)

    def _retry_at(self, row: OutboxEvent, outcome: Outcome, now: datetime) -> datetime | None:
        """When to try again, or None to dead-letter (rejected, or attempts exhausted)."""
        if not self._retryable(row, outcome):
            return None
        delay = backoff_seconds(
            row.attempts + 1,
            base=self.config.backoff_base_seconds,
            cap=self.config.backoff_cap_seconds,
        )
        if outcome.retry_after is not None:
            delay = max(delay, min(outcome.retry_after, self.config.backoff_cap_seconds))
        return now + timedelta(seconds=delay)

    def _retryable(self, row: OutboxEvent, outcome: Outcome) -> bool:
        return outcome.retryable and row.attempts + 1 < self.config.max_attempts

    def _observe(self, finished: list[tuple[OutboxEvent, Outcome]]) -> None:
        """Metrics and logs of recorded outcomes."""
        now = utcnow()
        for row, outcome in finished:
            if outcome.delivered:
                metrics.DELIVERED.inc()
                metrics.LAG.observe((now - row.created_at).total_seconds())
                continue
            metrics.FAILED_ATTEMPTS.labels(reason=outcome.reason).inc()
            if not self._retryable(row, outcome):
                metrics.DEAD.inc()
                log.warning("delivery dead-lettered", event_id=row.event_id, error=outcome.error)


@asynccontextmanager
async def deliveries_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run a delivery worker while the app serves, when a webhook URL is configured."""
    settings: Settings = services(app).settings
    if not settings.webhook_url:
        log.info("no AFTERSALES_WEBHOOK_URL: ticket events stay in the outbox")
        yield
        return
    if not settings.webhook_secret:
        log.warning("AFTERSALES_WEBHOOK_SECRET is not set: deliveries go out unsigned")
    worker = DeliveryWorker(services(app).sessions, DeliveryConfig.from_settings(settings))
    await worker.start()
    try:
        yield
    finally:
        await worker.stop()
