"""Audit log: who changed what and when, for every change made through the intake API."""
