"""Deliveries to the backend: a transactional outbox drained by signed, retried webhook POSTs."""
