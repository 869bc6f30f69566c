"""What a call system sends to `POST /v1/transcripts`: a request body read by its content type
(JSON segments, plain text, WebVTT or SRT) into a `Transcript`, and the OpenAPI description of
the bodies accepted. The service's calls domain owns the route and what a call makes."""

from __future__ import annotations

from typing import Any

from channels.phone.transcripts import (
    Transcript,
    TranscriptError,
    looks_like_srt,
    parse_json,
    parse_srt,
    parse_text,
    parse_vtt,
)
from core.errors import ServiceError

JSON_TYPES = ("application/json",)
VTT_TYPES = ("text/vtt",)
SRT_TYPES = ("application/x-subrip", "application/srt", "text/srt", "text/x-srt")
TEXT_TYPES = ("text/plain",)
SUPPORTED = "application/json, text/plain, text/vtt (WebVTT) or application/x-subrip (SRT)"


class UnsupportedTranscript(ServiceError):
    """A body in none of the transcript formats (415)."""

    status_code = 415
    code = "unsupported_media_type"


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TranscriptError(f"the transcript is not UTF-8 text: {exc}") from exc


def read_transcript(
    body: bytes, content_type: str, call_id: str | None = None, caller: str | None = None
) -> Transcript:
    """The transcript in `body`, read by its content type (plain text that is WebVTT or SRT is
    recognised as such); `call_id` and `caller` are for the text formats, whose body may lack
    them."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not body.strip():
        raise TranscriptError("the request body is empty")
    if media in JSON_TYPES or media.endswith("+json"):
        return parse_json(body)
    if media not in VTT_TYPES + SRT_TYPES + TEXT_TYPES:
        raise UnsupportedTranscript(
            f"unsupported content type {media or '(none)'!r}; send {SUPPORTED}",
            content_type=media,
        )
    text = _decode(body)
    if media in VTT_TYPES or text.lstrip("\ufeff").startswith("WEBVTT"):
        return parse_vtt(text, call_id, caller)
    if media in SRT_TYPES or looks_like_srt(text):
        return parse_srt(text, call_id, caller)
    return parse_text(text, call_id, caller)


# --- the accepted bodies, for the route's OpenAPI description ----------------------------------

_TEXT_EXAMPLE = "call_id: 8812\nCustomer: My HX-37 compressor shows E05\nAgent: Which site?\n"
_SECONDS = {"type": "number", "minimum": 0, "description": "Seconds from the call's start."}
TRANSCRIPT_SCHEMA: dict[str, Any] = {
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
REQUEST_BODY: dict[str, Any] = {
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
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    415: {"description": "Not JSON, plain text, WebVTT or SRT."},
    422: {"description": "A transcript that cannot be read; `message` names where and what."},
}
