"""Alarm routes: intake in every form (202), the alarm list, and fleet incidents."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from core.database import unit_of_work
from intake_api.alarms import service
from intake_api.alarms.models import (
    SEVERITIES,
    AlarmAccepted,
    AlarmIn,
    AlarmPage,
    AlarmRead,
    IncidentRead,
)
from intake_api.alarms.payloads import TB_STATUSES, TB_TIME_LIMIT_MS, read_alarm
from intake_api.auth.dependencies import request_sessions, require_scopes
from intake_api.auth.models import Principal
from intake_api.auth.responses import AUTHENTICATED, ErrorBody, error_responses
from intake_api.idempotency.dependencies import idempotent
from intake_api.limits.text import NO_NUL
from intake_api.services import services
from intake_api.tickets.models import format_ticket_id

router = APIRouter(prefix="/v1/alarms", tags=["alarms"], responses=AUTHENTICATED)
reader = require_scopes("alarms:read")
writer = require_scopes("alarms:write")

_FORMS = (
    "A plain alarm `{serial, code, severity?, status?, occurred_at?, details?}`; "
    "ThingsBoard's alarm JSON (`originatorName`/`originator` or "
    "`details.serial`, `type`, `severity`, `status`); or a CloudEvents 1.0 event, structured "
    "(`application/cloudevents+json`) or binary (`ce-*` headers), with the plain alarm as `data`."
)


def _text(max_length: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NO_NUL}


_MILLIS = {
    "anyOf": [{"type": "integer", "minimum": 0, "maximum": TB_TIME_LIMIT_MS}, {"type": "null"}]
}
# The request bodies for the OpenAPI schema (the route reads the raw body: three forms).
PLAIN = AlarmIn.model_json_schema()
THINGSBOARD = {
    "title": "ThingsBoard alarm",
    "type": "object",
    "required": ["type", "originatorName"],
    "properties": {
        "type": _text(100),
        "originatorName": _text(100),
        "originator": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        "severity": {"enum": [*SEVERITIES, *(s.upper() for s in SEVERITIES), None]},
        "status": {"enum": [*TB_STATUSES, None]},
        "startTs": _MILLIS,
        "createdTime": _MILLIS,
        "details": {
            "anyOf": [{"type": "object"}, {"type": "null"}],
            "description": "`serial` here names the unit.",
        },
    },
    "additionalProperties": True,  # ThingsBoard sends more (id, tenantId, createdTime, ...)
}
CLOUDEVENT = {
    "title": "CloudEvent (structured)",
    "type": "object",
    "required": ["specversion", "id", "source", "type", "data"],
    "properties": {
        "specversion": {"enum": ["1.0"]},
        "id": _text(200),
        "source": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
        "type": _text(200),
        "datacontenttype": {"type": "string", "minLength": 1},  # CloudEvents: non-empty if set
        "data": PLAIN,
    },
    "additionalProperties": True,  # optional attributes and extensions
}


@router.post(
    "",
    status_code=202,
    response_model=AlarmAccepted,
    responses=error_responses(413)
    | {422: {"model": ErrorBody, "description": "Malformed; `detail.field` names the field."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": _FORMS,
            "content": {
                "application/json": {"schema": {"oneOf": [PLAIN, THINGSBOARD]}},
                "application/cloudevents+json": {"schema": CLOUDEVENT},
            },
        }
    },
)
@idempotent(status_code=202)
async def receive_alarm(request: Request, _: Principal = Depends(writer)) -> AlarmAccepted:
    """One alarm: stored (a repeat of an active alarm counts up), and a new one of a
    registered unit opens a ticket with the KB's diagnosis. With an `Idempotency-Key`, a
    retried request gets the first answer back and counts nothing twice."""
    headers = {key.lower(): value for key, value in request.headers.items()}
    alarm, form = read_alarm(headers, await request.body())
    return AlarmAccepted(alarm=await services(request.app).alarms.receive(alarm, source=form))


@router.get("", response_model=AlarmPage)
async def list_alarms(
    request: Request,
    status: Literal["active", "cleared", "unmatched"] | None = Query(None),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
    _: Principal = Depends(reader),
) -> AlarmPage:
    """Alarms, latest first, with their ticket ids; `unmatched`: units not in the registry."""
    async with unit_of_work(request_sessions(request)) as session:
        rows, total = await service.get_all(session, status=status, limit=limit, offset=offset)
        items = [AlarmRead.of(row) for row in rows]
    return AlarmPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/incidents", response_model=list[IncidentRead])
async def list_incidents(
    request: Request,
    status: Literal["open", "closed"] | None = Query(None),
    limit: int = Query(50, ge=1, le=500),
    _: Principal = Depends(reader),
) -> list[IncidentRead]:
    """Fleet incidents: one code on many units within the window, over their tickets."""
    async with unit_of_work(request_sessions(request)) as session:
        found = await service.incidents(session, status=status, limit=limit)
    return [
        IncidentRead(
            id=incident.id,
            code=incident.code,
            status=incident.status,
            opened_at=incident.opened_at,
            last_at=incident.last_at,
            ticket_ids=[format_ticket_id(ticket_id) for ticket_id, _ in children],
            serials=[serial for _, serial in children],
        )
        for incident, children in found
    ]
