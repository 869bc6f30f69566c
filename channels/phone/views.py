"""`POST /v1/transcripts`: a phone call's transcript as JSON segments, plain text, WebVTT or
SRT; answers with the ticket or the conversation the call made."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from channels.phone.flows import CallDesk
from channels.phone.models import TranscriptIn, TranscriptOut
from channels.phone.transcripts import parse
from intake_api.auth.dependencies import require_scopes
from intake_api.auth.models import Principal

router = APIRouter(prefix="/v1/transcripts", tags=["phone"])
writer = require_scopes("messages:write")

_TEXT_EXAMPLE = "call_id: 8812\nCustomer: My HX-37 compressor shows E05\nAgent: Which site?\n"
REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": TranscriptIn.model_json_schema()},
            "text/plain": {"schema": {"type": "string"}, "example": _TEXT_EXAMPLE},
            "text/vtt": {"schema": {"type": "string"}},
            "application/x-subrip": {"schema": {"type": "string"}},
        },
    }
}


@router.post("", response_model=TranscriptOut, openapi_extra=REQUEST_BODY)
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
    transcript = parse(
        await request.body(), request.headers.get("content-type", ""), call_id, caller
    )
    return TranscriptOut.model_validate(await CallDesk(request.app).receive(transcript))
