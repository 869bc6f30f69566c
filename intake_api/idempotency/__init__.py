"""`Idempotency-Key` for creates and actions, in Stripe's style (see `dependencies`)."""
