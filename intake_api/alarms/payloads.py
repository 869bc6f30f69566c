"""The alarm bodies the service accepts, read into one `AlarmIn`.

- plain JSON: `{"serial", "code", "severity"?, "status"?, "occurred_at"?, "details"?}`;
- ThingsBoard's alarm JSON, as its "REST API call" rule node posts it (`originatorName`,
  `originator` or `details.serial` as serial, `type` as code, `ACTIVE_*`/`CLEARED_*` status);
- CloudEvents 1.0, structured (`application/cloudevents+json`) or binary (`ce-*` headers), read
  by the `cloudevents` SDK, with the plain body as `data`.

A body that cannot be read is a `MalformedAlarm` (422) naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from cloudevents.core.exceptions import BaseCloudEventException, CloudEventValidationError
from pydantic import ValidationError

from core.errors import ServiceError
from intake_api.alarms.models import SEVERITIES, AlarmIn

CLOUDEVENTS_JSON = "application/cloudevents+json"


class MalformedAlarm(ServiceError):
    """The alarm body cannot be used; `field` names what is wrong."""

    status_code = 422
    code = "malformed_alarm"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}", field=field)


def plain_alarm(data: Any, *, where: str = "") -> AlarmIn:
    """The plain body; errors name the field (prefixed with `where`, e.g. `data.`)."""
    if not isinstance(data, dict):
        raise MalformedAlarm(where.rstrip(".") or "body", "expected a JSON object")
    try:
        return AlarmIn.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "body"
        raise MalformedAlarm(f"{where}{field}", error["msg"]) from None


def _millis(value: Any) -> datetime | None:
    """A ThingsBoard timestamp (ms since the epoch); None when it is not a usable one."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _thingsboard_serial(data: dict[str, Any]) -> Any:
    details = data.get("details")
    if isinstance(details, dict) and details.get("serial"):
        return details["serial"]
    originator = data.get("originator")
    if isinstance(originator, dict):
        originator = originator.get("name")
    return data.get("originatorName") or originator


TB_STATUSES = ("ACTIVE_UNACK", "ACTIVE_ACK", "CLEARED_UNACK", "CLEARED_ACK")
TB_TIME_LIMIT_MS = 32503680000000  # year 3000


def _check_thingsboard(data: dict[str, Any]) -> None:
    """The keys ThingsBoard's alarm JSON gives, of the types it gives them."""
    for key in ("status", "severity", "type", "originatorName"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise MalformedAlarm(key, "expected a string")
    if str(data.get("status") or "ACTIVE_UNACK").upper() not in TB_STATUSES:
        raise MalformedAlarm("status", f"expected one of {', '.join(TB_STATUSES)}")
    if str(data.get("severity") or "MAJOR").lower() not in SEVERITIES:
        raise MalformedAlarm("severity", f"expected one of {', '.join(SEVERITIES)} (any case)")
    for key, kind in (("details", dict), ("originator", dict)):
        if data.get(key) is not None and not isinstance(data[key], kind):
            raise MalformedAlarm(key, "expected an object")
    for key in ("startTs", "createdTime"):
        value = data.get(key)
        valid = isinstance(value, int) and not isinstance(value, bool)
        if value is not None and not (valid and 0 <= value <= TB_TIME_LIMIT_MS):
            raise MalformedAlarm(key, "expected milliseconds since 1970 (an integer)")


def thingsboard_alarm(data: dict[str, Any]) -> AlarmIn:
    """ThingsBoard's alarm JSON in the plain shape."""
    _check_thingsboard(data)
    status = str(data.get("status") or "ACTIVE_UNACK").upper()
    plain = {
        "serial": _thingsboard_serial(data),
        "code": data.get("type"),
        "severity": str(data.get("severity") or "MAJOR").lower(),
        "status": "cleared" if status.startswith("CLEARED") else "active",
        "occurred_at": _millis(data.get("startTs") or data.get("createdTime")),
        "details": data.get("details") or {},
    }
    if not isinstance(plain["serial"], str) or not plain["serial"]:
        raise MalformedAlarm("originator", "no unit name (originatorName) or details.serial")
    if not isinstance(plain["code"], str):
        raise MalformedAlarm("type", "the alarm type (the code) is missing")
    return plain_alarm(plain)


def is_thingsboard(data: Any) -> bool:
    """ThingsBoard alarms name their originator, which the plain alarm never has."""
    return isinstance(data, dict) and ("originatorName" in data or "originator" in data)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def is_cloudevent(headers: Mapping[str, str]) -> bool:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == CLOUDEVENTS_JSON or "ce-specversion" in headers


def cloudevent_alarm(headers: Mapping[str, str], body: bytes) -> AlarmIn:
    """A CloudEvents 1.0 event (structured or binary) whose `data` is the plain body."""
    wanted = {k: v for k, v in headers.items() if k.startswith("ce-") or k == "content-type"}
    if "ce-specversion" not in wanted and not isinstance(_json_or_none(body), dict):
        raise MalformedAlarm("body", "a structured CloudEvent is a JSON object")
    try:
        event = from_http_event(HTTPMessage(headers=wanted, body=body))
    except CloudEventValidationError as exc:
        field = next(iter(exc.errors), "event")
        raise MalformedAlarm(field, str(exc)) from None
    except (BaseCloudEventException, ValueError, TypeError, KeyError, AttributeError) as exc:
        field = getattr(exc, "attribute_name", "event")
        raise MalformedAlarm(field, str(exc) or "not a CloudEvents 1.0 event") from None
    data = event.get_data()
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError:
            raise MalformedAlarm("data", "expected the alarm as a JSON object") from None
    alarm = plain_alarm(data, where="data.")
    if alarm.occurred_at is None and event.get_time() is not None:
        alarm.occurred_at = event.get_time()
    return alarm


def read_alarm(headers: Mapping[str, str], body: bytes) -> tuple[AlarmIn, str]:
    """The alarm in an HTTP body (`headers` with lower-case names) and its form's name."""
    if is_cloudevent(headers):
        return cloudevent_alarm(headers, body), "cloudevents"
    return decode_alarm(body)


def decode_alarm(body: bytes) -> tuple[AlarmIn, str]:
    """A JSON body (HTTP, or an MQTT payload): a structured CloudEvent (it has `specversion`),
    ThingsBoard's alarm or the plain one, and which form it was."""
    try:
        data = json.loads(body)
    except ValueError:
        raise MalformedAlarm("body", "not JSON") from None
    if isinstance(data, dict) and "specversion" in data:
        return cloudevent_alarm({"content-type": CLOUDEVENTS_JSON}, body), "cloudevents"
    if is_thingsboard(data):
        return thingsboard_alarm(data), "thingsboard"
    return plain_alarm(data), "plain"
