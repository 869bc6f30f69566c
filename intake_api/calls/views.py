"""`POST /v1/transcripts`: a phone call's transcript as JSON segments, plain text, WebVTT or
SRT; answers with the ticket or the conversation the call made."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from channels.phone.inbound import READ_ERRORS, REQUEST_BODY, read_transcript
from intake_api.auth.dependencies import require_scopes
from intake_api.auth.models import Principal
from intake_api.calls.flows import CallDesk
from intake_api.calls.models import TranscriptOut
from intake_api.services import services

router = APIRouter(prefix="/v1/transcripts", tags=["phone"])
writer = require_scopes("messages:write")

ERRORS = {
    **READ_ERRORS,
    503: {"description": "The database is busy; sending the same call again is safe."},
}


@router.post("", response_model=TranscriptOut, openapi_extra=REQUEST_BODY, responses=ERRORS)
async def post_transcript(
    request: Request,
    call_id: str | None = Query(
        None, max_length=200, description="For text, WebVTT and SRT bodies (else in the body)."
    ),
    caller: str | None = Query(None, max_length=200, description="The caller's number."),
    _: Principal = Depends(writer),
) -> TranscriptOut:
    """Understand the customer's turns together; make a ticket for a request the call left
    open, or keep the answered conversation. The same `call_id` again returns the first answer
    (`duplicate: true`). A text body without a `call_id` is identified by its content."""
    transcript = read_transcript(
        await request.body(), request.headers.get("content-type", ""), call_id, caller
    )
    desk = CallDesk(services(request.app).messages)
    return TranscriptOut.model_validate(await desk.receive(transcript))
