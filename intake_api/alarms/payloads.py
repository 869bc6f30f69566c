"""The alarm bodies the service accepts, read into one `AlarmIn`.

- plain JSON: `{"serial", "code", "severity"?, "status"?, "occurred_at"?, "details"?}`;
- ThingsBoard's alarm JSON, as its "REST API call" rule node posts it (`details.serial`,
  `originatorName` or `originator.name` as serial, `type` as code, `ACTIVE_*`/`CLEARED_*`
  status);
- a CloudEvents 1.0 event, structured (`application/cloudevents+json`, or JSON with
  `specversion`) with the plain body as `data`, or binary: `ce-*` headers (`BinaryEvent`) over
  any of the JSON forms;
- a batch of structured CloudEvents (`application/cloudevents-batch+json`, the HTTP binding's
  batched content mode: a JSON array), for gateways that forward many alarms at once.

Each form is validated by its model in `intake_api.alarms.models`, whose JSON Schema is the
OpenAPI request body: the schema and the reader cannot disagree. A body that cannot be read is
a `MalformedAlarm` (422) naming the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import ServiceError, UnsupportedMediaType
from intake_api.alarms.models import (
    EXTENSION_NAME,
    AlarmIn,
    CloudEventIn,
    ThingsBoardAlarm,
)

JSON = "application/json"
CLOUDEVENTS_JSON = "application/cloudevents+json"
CLOUDEVENTS_BATCH_JSON = "application/cloudevents-batch+json"
MAX_BATCH = 1000  # events in one batched request
Model = TypeVar("Model", bound=BaseModel)


class MalformedAlarm(ServiceError):
    """The alarm body cannot be used; `field` names what is wrong."""

    status_code = 422
    code = "malformed_alarm"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}", field=field)


@dataclass(frozen=True)
class BinaryEvent:
    """The attributes of a binary-mode CloudEvent (its `ce-*` headers) the service uses."""

    time: datetime | None


def _field(data: Any, loc: tuple[int | str, ...]) -> str:
    """The path of an error's location within `data` (a location goes on past the value with
    the names of the types it tried, e.g. `ext.bool`, which are not fields)."""
    parts, node = [], data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
        parts.append(str(part))
    return ".".join(parts)


def _validated(model: type[Model], data: Any, *, where: str = "") -> Model:
    """`data` as `model`; the first error names its field (prefixed with `where`)."""
    if not isinstance(data, dict):
        raise MalformedAlarm(where.rstrip(".") or "body", "expected a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = _field(data, error["loc"])
        raise MalformedAlarm(f"{where}{field}".rstrip(".") or "body", error["msg"]) from None


def plain_alarm(data: Any, *, where: str = "") -> AlarmIn:
    """The plain body."""
    return _validated(AlarmIn, data, where=where)


def _millis(value: int | None) -> datetime | None:
    """A ThingsBoard timestamp (ms since the epoch, up to the year 3000)."""
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def thingsboard_alarm(data: Any, *, where: str = "") -> AlarmIn:
    """ThingsBoard's alarm JSON in the plain shape."""
    alarm = _validated(ThingsBoardAlarm, data, where=where)
    serial = alarm.serial()
    if serial is None:
        raise MalformedAlarm(
            f"{where}originator", "no unit name (originatorName) or details.serial"
        )
    status = (alarm.status or "ACTIVE_UNACK").upper()
    return AlarmIn(
        serial=serial,
        code=alarm.type,
        severity=(alarm.severity or "major").lower(),
        status="cleared" if status.startswith("CLEARED") else "active",
        occurred_at=_millis(alarm.start_ts or alarm.created_time),
        details=alarm.details.model_dump(exclude_unset=True) if alarm.details else {},
    )


def cloudevent_alarm(data: Any, *, where: str = "") -> AlarmIn:
    """A structured CloudEvent whose `data` is the plain body; the event's `time` is the
    alarm's when the data has none."""
    event = _validated(CloudEventIn, data, where=where)
    for name in event.model_extra or {}:
        if not re.fullmatch(EXTENSION_NAME, name):
            raise MalformedAlarm(
                f"{where}{name}", "an extension attribute is lower-case letters and digits"
            )
    alarm = event.data
    if alarm.occurred_at is None:
        alarm.occurred_at = event.time
    return alarm


def _json(body: bytes, *, where: str = "") -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise MalformedAlarm(where.rstrip(".") or "body", "not JSON") from None


def decode_alarm(body: bytes, *, where: str = "") -> tuple[AlarmIn, str]:
    """A JSON body (HTTP, or an MQTT payload) and which form it was: a structured CloudEvent
    (it has `specversion`), ThingsBoard's alarm (it has `type`) or the plain one. Errors name
    the field prefixed with `where` (`data.` for a binary CloudEvent's body)."""
    data = _json(body, where=where)
    if isinstance(data, dict) and "specversion" in data:
        return cloudevent_alarm(data, where=where), "cloudevents"
    if isinstance(data, dict) and "type" in data:
        return thingsboard_alarm(data, where=where), "thingsboard"
    return plain_alarm(data, where=where), "plain"


def is_batch(content_type: str | None) -> bool:
    return _media_type(content_type) == CLOUDEVENTS_BATCH_JSON


def read_batch(body: bytes) -> list[AlarmIn]:
    """The alarms of a batched CloudEvents body, all read before any is stored (an error names
    the event by its position, e.g. `[2].data.serial`)."""
    events = _json(body)
    if not isinstance(events, list):
        raise MalformedAlarm("body", "a batch is a JSON array of structured CloudEvents")
    if not 1 <= len(events) <= MAX_BATCH:
        raise MalformedAlarm("body", f"a batch holds 1 to {MAX_BATCH} events")
    return [cloudevent_alarm(event, where=f"[{n}].") for n, event in enumerate(events)]


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def read_alarm(
    content_type: str | None, body: bytes, binary: BinaryEvent | None
) -> tuple[AlarmIn, str]:
    """The alarm in an HTTP body of `content_type`, with the `ce-*` headers' attributes
    (binary mode) if sent, and its form's name."""
    media = _media_type(content_type)
    if media == CLOUDEVENTS_JSON:
        alarm, form = cloudevent_alarm(_json(body)), "cloudevents"
    elif media == JSON:
        alarm, form = decode_alarm(body, where="" if binary is None else "data.")
    else:
        raise UnsupportedMediaType(
            f"send the alarm as {JSON} or {CLOUDEVENTS_JSON} (a batch as {CLOUDEVENTS_BATCH_JSON})",
            content_type=content_type,
        )
    if binary is None:
        return alarm, form
    if alarm.occurred_at is None:
        alarm.occurred_at = binary.time
    return alarm, "cloudevents"
