"""The JSON frames of the web chat socket, both ways.

Frames from the page: `{"type": "message", "id": "<client id>", "text": "..."}`.
Frames to the page: `session`, `history`, `message` (one line: a customer echo, a notice or an
agent's reply, `"from": "agent"` with the agent's name in `author`),
`reply` (the bot's turn), `ticket` (a status change), `error` (with `code` and `message`).
A button is `{"label", "says"}`: the page sends `says` as the customer's message when pressed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from core.channels import AGENT_ACTION, LoggedLine
from core.messages import MAX_TEXT_CHARS, Button

MAX_FRAME_CHARS = 16_000
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)


class FrameError(ValueError):
    """A frame from the page that is not a message we can take; says what is wrong."""


def read_frame(raw: str | None) -> tuple[str, str]:
    """The client id and text of a message frame."""
    if raw is None:
        raise FrameError("send text frames holding JSON, not binary ones")
    if len(raw) > MAX_FRAME_CHARS:
        raise FrameError(f"frame larger than {MAX_FRAME_CHARS} characters")
    try:
        frame = json.loads(raw)
    except ValueError as exc:
        raise FrameError(f"frame is not JSON: {exc}") from exc
    if not isinstance(frame, dict) or frame.get("type") != "message":
        raise FrameError('expected {"type": "message", "id": ..., "text": ...}')
    client_id, text = frame.get("id"), frame.get("text")
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise FrameError("`id` must be 1-64 letters, digits, '-' or '_'")
    if not isinstance(text, str) or not text.strip():
        raise FrameError("`text` must be a non-empty string")
    if len(text.strip()) > MAX_TEXT_CHARS:
        raise FrameError(f"`text` is longer than {MAX_TEXT_CHARS} characters")
    return client_id, text.strip()


def buttons_json(buttons: Sequence[Button] | None) -> list[dict[str, str]]:
    return [{"label": b.label, "says": b.payload} for b in buttons or ()]


def _from(line: LoggedLine) -> str:
    if line.direction == "in":
        return "customer"
    return "agent" if line.action == AGENT_ACTION else "bot"


def line_json(line: LoggedLine, session_id: str) -> dict[str, Any]:
    """One history line as the page renders it; a customer line keeps the page's own id for
    it (the page sent `<session id>:<client id>` as the message id), an agent's names them."""
    prefix = f"{session_id}:"
    message_id = line.message_id or ""
    return {
        "id": line.id,
        "from": _from(line),
        "author": line.author if line.action == AGENT_ACTION else None,
        "text": line.text,
        "action": line.action,
        "client_id": message_id[len(prefix) :] if message_id.startswith(prefix) else None,
        "at": line.at.isoformat() if line.at else None,
    }


def ticket_summary(ticket: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a ticket (no status token: the socket already follows it)."""
    keys = ("id", "status", "priority", "category", "subject", "sla_due_at")
    return {key: ticket.get(key) for key in keys}
