"""Alarm routes: intake in every form (202), the alarm list, and fleet incidents."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel

from core.database import unit_of_work
from intake_api.alarms import service
from intake_api.alarms.models import (
    Alarm,
    AlarmAccepted,
    AlarmBatchAccepted,
    AlarmIn,
    AlarmPage,
    AlarmRead,
    CloudEventIn,
    IncidentRead,
    Moment,
    ThingsBoardAlarm,
    Visible,
)
from intake_api.alarms.payloads import (
    CLOUDEVENTS_BATCH_JSON,
    CLOUDEVENTS_JSON,
    JSON,
    MAX_BATCH,
    BinaryEvent,
    MalformedAlarm,
    is_batch,
    read_alarm,
    read_batch,
)
from intake_api.auth.dependencies import request_sessions, require_scopes
from intake_api.auth.models import Principal
from intake_api.auth.responses import AUTHENTICATED, ErrorBody, error_responses
from intake_api.idempotency.dependencies import idempotent
from intake_api.pagination import PageRequest, paging
from intake_api.services import services

router = APIRouter(prefix="/v1/alarms", tags=["alarms"], responses=AUTHENTICATED)
reader = require_scopes("alarms:read")
writer = require_scopes("alarms:write")

_FORMS = (
    "A plain alarm `{serial, code, severity?, status?, occurred_at?, details?}`; "
    "ThingsBoard's alarm JSON (`type`, and `details.serial`, `originatorName` or "
    "`originator.name`); or a CloudEvents 1.0 event: structured (`application/cloudevents+json`, "
    "or JSON with `specversion`) with the plain alarm as `data`, or binary (the `ce-*` headers, "
    "over a JSON body of the other forms); or a batch of structured CloudEvents "
    f"(`{CLOUDEVENTS_BATCH_JSON}`, a JSON array of 1 to {MAX_BATCH}; each event carries its "
    "attributes inline, so `ce-*` headers are not read), answered with every alarm in its order."
)
_CE_REQUIRED = ("specversion", "id", "source", "type")


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    """`schema` with its `#/$defs/...` references replaced by what they name (the OpenAPI
    document has no `$defs` of its own)."""
    if isinstance(schema, list):
        return [_inlined(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _inlined(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    return {key: _inlined(value, defs) for key, value in schema.items() if key != "$defs"}


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return _inlined(schema, schema.get("$defs", {}))


CLOUDEVENT = _schema(CloudEventIn)
REQUEST_BODY = {
    "required": True,
    "description": _FORMS,
    "content": {
        JSON: {"schema": {"oneOf": [_schema(AlarmIn), _schema(ThingsBoardAlarm), CLOUDEVENT]}},
        CLOUDEVENTS_JSON: {"schema": CLOUDEVENT},
        CLOUDEVENTS_BATCH_JSON: {
            "schema": {"type": "array", "items": CLOUDEVENT, "minItems": 1, "maxItems": MAX_BATCH}
        },
    },
}


def _ce(name: str, description: str) -> Any:
    return Header(None, alias=f"ce-{name}", description=f"Binary-mode CloudEvent: {description}")


async def binary_event(
    specversion: Literal["1.0"] | None = _ce("specversion", "the CloudEvents version."),
    id_: Visible | None = _ce("id", "the event id (with ce-specversion, ce-source, ce-type)."),
    source: Visible | None = _ce("source", "a URI reference."),
    type_: Visible | None = _ce("type", "the event type."),
    subject: Visible | None = _ce("subject", "the subject."),
    dataschema: Visible | None = _ce("dataschema", "the data's schema (a URI)."),
    time: Moment | None = _ce("time", "when it happened (the alarm's time unless it has one)."),
) -> BinaryEvent | None:
    """The binary-mode CloudEvent of the `ce-*` headers: none sent, none; any sent, the
    required four (specversion, id, source, type) with them."""
    given = (specversion, id_, source, type_, subject, dataschema, time)
    if all(value is None for value in given):
        return None
    for name, value in zip(_CE_REQUIRED, given, strict=False):
        if value is None:
            raise MalformedAlarm(f"ce-{name}", "a binary-mode CloudEvent needs this header")
    return BinaryEvent(time=time)


@router.post(
    "",
    status_code=202,
    response_model=AlarmAccepted | AlarmBatchAccepted,
    responses=error_responses(413, 415)
    | {422: {"model": ErrorBody, "description": "Malformed; `detail.field` names the field."}},
    openapi_extra={"requestBody": REQUEST_BODY},
)
@idempotent(status_code=202)
async def receive_alarm(
    request: Request,
    _: Principal = Depends(writer),
    binary: BinaryEvent | None = Depends(binary_event),
) -> AlarmAccepted | AlarmBatchAccepted:
    """One alarm (or a batch of CloudEvents, each as if posted alone): stored (a repeat of an
    active alarm counts up), and a new one of a registered unit opens a ticket with the KB's
    diagnosis. With an `Idempotency-Key`, a retried request gets the first answer back and
    counts nothing twice."""
    body, content_type = await request.body(), request.headers.get("content-type")
    desk = services(request.app).alarms
    if not is_batch(content_type):
        alarm, form = read_alarm(content_type, body, binary)
        return AlarmAccepted(alarm=await desk.receive(alarm, source=form))
    return AlarmBatchAccepted(
        alarms=await desk.receive_many(read_batch(body), source="cloudevents")
    )


@router.get("", response_model=AlarmPage)
async def list_alarms(
    request: Request,
    status: Literal["active", "cleared", "unmatched"] | None = Query(None),
    page: PageRequest = Depends(
        paging(
            default="-last_seen_at",
            last_seen_at=Alarm.last_seen_at,
            first_seen_at=Alarm.first_seen_at,
            occurred_at=Alarm.occurred_at,
            serial=Alarm.serial,
            code=Alarm.code,
            count=Alarm.count,
        )
    ),
    _: Principal = Depends(reader),
) -> AlarmPage:
    """Alarms (latest first unless `sort` says otherwise) with their ticket ids; `unmatched`:
    units not in the registry."""
    async with unit_of_work(request_sessions(request)) as session:
        rows, total = await service.get_all(session, status=status, page=page)
        items = [AlarmRead.of(row) for row in rows]
    return AlarmPage.of(items, total, page)


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
    return [IncidentRead.of(incident, children) for incident, children in found]
