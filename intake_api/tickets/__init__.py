"""Tickets: structured after-sales requests, triaged, with an SLA, moved through a lifecycle."""
