"""One alarm in each of the forms `POST /v1/alarms` takes, as (headers, body bytes)."""

from __future__ import annotations

import json
from typing import Any

from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

FORMS = ("plain", "thingsboard", "cloudevents-structured", "cloudevents-binary")


def plain(serial: str, code: str, **fields: Any) -> dict[str, Any]:
    return {"serial": serial, "code": code, "severity": "major", **fields}


def cloudevent(data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        attributes={
            "type": "com.example.equipment.alarm",
            "source": "/plant/7/gateway",
            "id": f"{data['serial']}-{data['code']}",
            "datacontenttype": "application/json",
        },
        data=data,
    )


def thingsboard(serial: str, code: str, status: str = "ACTIVE_UNACK") -> dict[str, Any]:
    """An alarm as ThingsBoard's "REST API call" rule node posts it."""
    return {
        "id": {"entityType": "ALARM", "id": "784f394c-42b6-435a-983c-b7beff2784f9"},
        "createdTime": 1733472000000,
        "tenantId": {"entityType": "TENANT", "id": "13814000-1dd2-11b2-8080-808080808080"},
        "type": code,
        "originator": {"entityType": "DEVICE", "id": "c1b2c3d4-0000-11ef-8000-000000000001"},
        "originatorName": serial,
        "severity": "MAJOR",
        "status": status,
        "startTs": 1733472000000,
        "details": {"temperature": 118},
    }


def encode(form: str, serial: str, code: str, **fields: Any) -> tuple[dict[str, str], bytes]:
    """The headers and body of one alarm in `form`."""
    if form == "plain":
        return {"content-type": "application/json"}, json.dumps(
            plain(serial, code, **fields)
        ).encode()
    if form == "thingsboard":
        return {"content-type": "application/json"}, json.dumps(thingsboard(serial, code)).encode()
    event = cloudevent(plain(serial, code, **fields))
    message = (
        to_structured_event(event) if form == "cloudevents-structured" else to_binary_event(event)
    )
    return dict(message.headers), message.body
