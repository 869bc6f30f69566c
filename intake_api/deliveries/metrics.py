"""Prometheus metrics of deliveries, on the default registry that `/metrics` exposes."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DELIVERED = Counter(
    "aftersales_deliveries_delivered", "Deliveries the backend accepted with a 2xx answer."
)
FAILED_ATTEMPTS = Counter(
    "aftersales_delivery_attempts_failed",
    "Delivery attempts that failed, by reason (network, http_5xx, http_429, http_4xx).",
    ["reason"],
)
DEAD = Counter(
    "aftersales_deliveries_dead", "Deliveries dead-lettered (attempts exhausted or rejected)."
)
LAG = Histogram(
    "aftersales_delivery_lag_seconds",
    "Seconds from enqueue to the backend's 2xx answer.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
