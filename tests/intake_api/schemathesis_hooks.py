"""Schemathesis hooks: valid requests sent as a correct client sends them, where a rule spans
more than one value and so cannot be stated in the schema. Loaded by `schemathesis.toml`.

- `Idempotency-Key`: a client sends a new key for each new request. Reusing a key for another
  body is refused with 422 by design (tests/intake_api/idempotency covers it), so valid cases
  get a fresh key each; invalid ones keep theirs.
- `from`/`to`: a window does not end before it starts (`from` after `to` is 422 by design), so
  valid cases that give both get them in order.
- `ce-*` headers of `POST /v1/alarms`: a binary-mode CloudEvent has all four required
  attributes (`ce-specversion`, `ce-id`, `ce-source`, `ce-type`; fewer is 422 by design), so
  valid cases that send some get the others.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import schemathesis


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _ordered_window(query: dict[str, Any]) -> None:
    start, end = _moment(query.get("from")), _moment(query.get("to"))
    if start is None or end is None:
        return
    try:
        backwards = start > end
    except TypeError:  # one with a zone, one without: the service reads both as UTC
        backwards = start.replace(tzinfo=None) > end.replace(tzinfo=None)
    if backwards:
        query["from"], query["to"] = query["to"], query["from"]


# The required attributes of a binary-mode CloudEvent, as a sender that sends any sends them all.
_CLOUDEVENT_REQUIRED = {
    "ce-specversion": "1.0",
    "ce-id": "schemathesis-1",
    "ce-source": "/schemathesis",
    "ce-type": "com.example.equipment.alarm",
}


def _whole_cloudevent(headers: dict[str, Any]) -> None:
    sent = {name.lower() for name in headers}
    if any(
        name in sent for name in ("ce-time", "ce-subject", "ce-dataschema", *_CLOUDEVENT_REQUIRED)
    ):
        for name, value in _CLOUDEVENT_REQUIRED.items():
            if name not in sent:
                headers[name] = value


@schemathesis.hook
def before_call(context: Any, case: schemathesis.Case, **kwargs: Any) -> None:
    """Fresh idempotency keys, ordered windows and whole CloudEvents in valid cases."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if case.headers:
        if "Idempotency-Key" in case.headers:
            case.headers["Idempotency-Key"] = uuid.uuid4().hex
        _whole_cloudevent(case.headers)
    if case.query:
        _ordered_window(case.query)
