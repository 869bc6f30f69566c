"""Deliveries to the backend: a transactional outbox drained by signed, retried webhook POSTs.

How it behaves (the contract's "Deliveries to the backend", in detail):

- Enqueue: `outbox.enqueue(session, ticket_id=, event=, ticket=)` adds a row to the caller's
  transaction, so a ticket change and its delivery commit (or roll back) together. The body is
  serialized once: `{"event_id", "event", "ticket", "occurred_at"}`.
- Delivery: each `aftersales serve` process runs a `worker.DeliveryWorker` when
  `AFTERSALES_WEBHOOK_URL` is set. It POSTs the body with `Content-Type: application/json`,
  `X-Aftersales-Event-Id`, `X-Aftersales-Event` and, when `AFTERSALES_WEBHOOK_SECRET` is set,
  `X-Aftersales-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (see `signing`).
- At least once: a row is done only after a 2xx answer is recorded, so a crash between the
  backend's answer and that record sends the event again. Backends de-duplicate by `event_id`.
- In order per ticket: a row is due only when every earlier row of its ticket is delivered, so
  one ticket's events go out one at a time, in enqueue order; different tickets go in parallel
  (up to 32 in flight per worker).
- Retries: network errors, timeouts, 5xx, 408, 425 and 429 are retried after capped exponential
  back-off with full jitter (`delivery_backoff_base_seconds`, `delivery_backoff_cap_seconds`;
  a `Retry-After` in seconds is honoured up to the cap). Any other answer (e.g. 400, 401, 404,
  a redirect) is a rejection and dead-letters the row at once.
- Dead letters: after `delivery_max_attempts` attempts (or a rejection) a row becomes `dead`.
  The ticket's later events are then held back (they stay `pending`; `deliveries stats` counts
  them as `held`) so that order is never broken; other tickets are unaffected.
  `aftersales deliveries replay --dead` (or `--event-id ID`) requeues them; the held events
  follow in order once the replayed one is delivered.
- Several workers and processes: rows are claimed with a lease (`locked_by`, `locked_until`)
  in one atomic statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's single writer
  otherwise), so no row is delivered by two workers at once. A process killed with -9 leaves
  its leased rows, which another (or the restarted) process takes over once the lease
  (`delivery_lease_seconds`, at least the request timeout + 1 s) expires. Leases use the
  clocks of the processes: keep hosts NTP-synchronized.
- Ordering across concurrent transactions relies on enqueue order: change the ticket row
  before enqueueing (its row lock orders concurrent changes of one ticket).
- Retention: delivered rows stay for inspection until
  `aftersales deliveries purge --older-than-days N` deletes them.
- Metrics (`metrics`): `aftersales_deliveries_delivered_total`,
  `aftersales_delivery_attempts_failed_total{reason}`, `aftersales_deliveries_dead_total`,
  `aftersales_delivery_lag_seconds` (enqueue to 2xx), on the default Prometheus registry.
"""
