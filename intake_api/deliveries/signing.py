"""Webhook signatures: `sha256=<hex HMAC-SHA256 of the raw body>` keyed with the shared secret.

Backends verify with `verify_signature` (or its three lines) before trusting a delivery.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Aftersales-Signature"
EVENT_ID_HEADER = "X-Aftersales-Event-Id"
EVENT_HEADER = "X-Aftersales-Event"


def sign(body: bytes, secret: str) -> str:
    """The signature header value for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(body: bytes, secret: str, header_value: str | None) -> bool:
    """Whether `header_value` is the signature of `body` (constant-time comparison)."""
    return header_value is not None and hmac.compare_digest(sign(body, secret), header_value)
