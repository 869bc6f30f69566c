"""File routes: the bytes behind a signed URL, and a conversation's files for the agent
workspace (each with a fresh signed URL and what was read off it)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from core.errors import error_responses
from intake_api.auth.dependencies import require_scopes
from intake_api.auth.models import Principal
from intake_api.files.models import FileRead
from intake_api.services import public_base_url, services

router = APIRouter(tags=["files"])
agent = require_scopes("agents")


@router.get(
    "/v1/files/{file_id}",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        **error_responses(401, 403, 404),
    },
)
async def get_file(
    file_id: str,
    request: Request,
    expires: int | None = Query(default=None),
    sig: str | None = Query(default=None),
) -> Response:
    """A stored file; only with a signed URL that has not expired (401 without, 403 wrong)."""
    desk = services(request.app).files
    desk.signer.verify(file_id, expires, sig)
    row, data = await desk.content(file_id)
    inline = row.content_type.startswith(("image/", "audio/"))
    return Response(
        content=data,
        media_type=row.content_type,
        headers={
            "Cache-Control": "private, max-age=300",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline" if inline else "attachment",
        },
    )


@router.get(
    "/v1/conversations/{conversation_id}/files",
    response_model=list[FileRead],
    responses=error_responses(401, 403),
)
async def conversation_files(
    conversation_id: str, request: Request, _: Principal = Depends(agent)
) -> list[FileRead]:
    """The files the customer sent in a conversation, oldest first, with signed URLs."""
    base = (public_base_url(request.app) or "").rstrip("/")
    return await services(request.app).files.of_conversation(conversation_id, base)
