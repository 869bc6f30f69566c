"""`POST /v1/transcripts`: a phone call's transcript as JSON segments, plain text, WebVTT or
SRT; answers with the ticket or the conversation the call made."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from channels.phone.flows import CallDesk
from channels.phone.models import TranscriptOut
from channels.phone.transcripts import parse
from intake_api.auth.dependencies import require_scopes
from intake_api.auth.models import Principal

router = APIRouter(prefix="/v1/transcripts", tags=["phone"])
writer = require_scopes("messages:write")

_TEXT_EXAMPLE = "call_id: 8812\nCustomer: My HX-37 compressor shows E05\nAgent: Which site?\n"
_SECONDS = {"type": "number", "minimum": 0, "description": "Seconds from the call's start."}
TRANSCRIPT_SCHEMA = {
    "type": "object",
    "required": ["call_id", "segments"],
    "properties": {
        "call_id": {"type": "string", "minLength": 1, "maxLength": 200},
        "caller": {"type": "string", "maxLength": 200, "description": "The caller's number."},
        "segments": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["speaker", "text"],
                "properties": {
                    "speaker": {"type": "string", "enum": ["customer", "agent"]},
                    "text": {"type": "string"},
                    "start": _SECONDS,
                    "end": _SECONDS,
                },
            },
        },
    },
}
REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": TRANSCRIPT_SCHEMA},
            "text/plain": {"schema": {"type": "string"}, "example": _TEXT_EXAMPLE},
            "text/vtt": {"schema": {"type": "string"}},
            "application/x-subrip": {"schema": {"type": "string"}},
        },
    }
}
ERRORS = {
    415: {"description": "Not JSON, plain text, WebVTT or SRT."},
    422: {"description": "A transcript that cannot be read; `message` names where and what."},
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
    transcript = parse(
        await request.body(), request.headers.get("content-type", ""), call_id, caller
    )
    return TranscriptOut.model_validate(await CallDesk(request.app).receive(transcript))
