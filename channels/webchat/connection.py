"""One browser socket of a web chat session, end to end.

On connect the page gets its session, the conversation so far (from the stored conversation
messages) and the status of the session's tickets; then each customer message goes through
the same store-first, idempotent path as `POST /v1/messages`, and the replies, the quick-reply
buttons and any ticket the bot made come back. Ticket status changes are pushed as they
happen, from the event bus (so a change made on another worker arrives too).

Frames from the page: `{"type": "message", "id": "<client id>", "text": "..."}`.
Frames to the page: `session`, `history`, `message` (one line: a customer echo or a notice),
`reply` (the bot's turn), `ticket` (a status change), `error` (with `code` and `message`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from fastapi import FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect

from bot.dialogue.models import Conversation
from bot.dialogue.state import DialogueState
from channels.base import answer
from channels.webchat import service
from channels.webchat.outbound import ChatHub, buttons_json
from channels.webchat.quick_replies import QuickReplies
from channels.webchat.service import CHANNEL, NOTICE_ACTION
from channels.webchat.sessions import ChatSession
from core.errors import ServiceError
from core.logs import get_logger
from core.messages import MAX_TEXT_CHARS, Answer, Button, InboundMessage
from intake_api.events.stream import ticket_events

log = get_logger(__name__)

MAX_FRAME_CHARS = 16_000
UNAVAILABLE = "unavailable"  # the page retries such a message with the same id
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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


class ChatConnection:
    """Serves one socket; the `ChatHub` finds it to push to the session's every tab."""

    def __init__(self, app: FastAPI, socket: WebSocket, chat: ChatSession) -> None:
        self.app = app
        self.socket = socket
        self.chat = chat
        self.quick: QuickReplies = app.state.webchat.quick
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._send_lock = asyncio.Lock()

    @property
    def hub(self) -> ChatHub:
        return self.app.state.webchat.hub

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.socket.send_json(frame)

    async def run(self) -> None:
        """Greet, then take messages until the page goes away."""
        self.hub.add(self.chat.session_id, self)
        try:
            await self.send(
                {"type": "session", "session_id": self.chat.session_id, "token": self.chat.token}
            )
            await self._send_history()
            while True:
                message = await self.socket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await self._take(message.get("text"))
        except WebSocketDisconnect:
            pass
        finally:
            self.hub.remove(self.chat.session_id, self)
            await self._stop_watching()

    async def _send_history(self) -> None:
        async with self.app.state.sessions() as session:
            conversation, lines = await service.history(session, sender_id=self.chat.session_id)
            tickets = await service.ticket_ids(session, sender_id=self.chat.session_id)
        buttons = self._resume_buttons(conversation, lines)
        await self.send({"type": "history", "messages": lines, "buttons": buttons_json(buttons)})
        for ticket_id in reversed(tickets):
            self.watch(ticket_id)

    def _resume_buttons(
        self, conversation: Conversation | None, lines: list[dict[str, Any]]
    ) -> list[Button]:
        """The buttons under the last reply, when the conversation still waits on them."""
        if conversation is None or conversation.live_key is None or not lines:
            return []
        last = lines[-1]
        if last["from"] != "bot" or last["action"] == NOTICE_ACTION:
            return []
        state = DialogueState.from_json(conversation.state)
        return self.quick.after(str(last["action"] or ""), state, conversation.lang)

    async def _take(self, raw: str | None) -> None:
        wait = await self._rate_wait()  # every frame counts: a flood of bad ones is cut too
        try:
            client_id, text = read_frame(raw)
        except FrameError as exc:
            await self.send({"type": "error", "code": "bad_frame", "message": str(exc)})
            return
        if wait is not None:
            await self.send(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "message": f"too many messages; retry after {wait} s",
                    "retry_after": wait,
                    "id": client_id,
                }
            )
            return
        sid = self.chat.session_id
        inbound = InboundMessage(
            channel=CHANNEL, sender_id=sid, message_id=f"{sid}:{client_id}", text=text
        )
        try:
            result = await answer(self.app, inbound)
        except ServiceError as exc:  # e.g. the same message still being answered elsewhere
            await self.send(
                {"type": "error", "code": exc.code, "message": exc.message, "id": client_id}
            )
            return
        except Exception as exc:  # the database busy or down: the page sends it again later
            log.warning("web chat message not taken", session_id=sid, error=repr(exc))
            await self.send(
                {
                    "type": "error",
                    "code": UNAVAILABLE,
                    "message": "the service is busy; the message will be sent again",
                    "id": client_id,
                }
            )
            return
        if result.duplicate:
            return  # sent again after a reconnect: the history this page got already holds it
        echo = {"type": "message", "from": "customer", "text": text, "client_id": client_id}
        await self.hub.push(sid, echo)  # the session's other tabs
        await self._reply(result, client_id)

    async def _rate_wait(self) -> int | None:
        """Seconds to wait when this session is over its message rate, else None (the same
        per-sender budget as `POST /v1/messages`)."""
        per_minute = self.app.state.settings.rate_limit_per_sender_per_minute
        if per_minute <= 0:
            return None
        key = f"sender:{CHANNEL}:{self.chat.session_id}"
        wait = await self.app.state.rate_limiter.acquire(key, per_minute=per_minute)
        return None if wait is None else max(1, round(wait + 0.5))

    async def _reply(self, result: Answer, client_id: str) -> None:
        response = result.model_dump(mode="json")
        async with self.app.state.sessions() as session:
            conversation = await session.get(Conversation, str(response["conversation_id"]))
        state = DialogueState.from_json(conversation.state if conversation else None)
        buttons = self.quick.after(result.action, state, str(response.get("lang") or ""))
        ticket = response.get("ticket")
        frame = {
            "type": "reply",
            "client_id": client_id,
            "conversation_id": response["conversation_id"],
            "action": result.action,
            "replies": result.texts,
            "buttons": buttons_json(buttons),
            "ticket": _ticket_summary(ticket) if ticket else None,
        }
        await self.hub.push(self.chat.session_id, frame)
        if ticket:
            self.hub.watch(self.chat.session_id, str(ticket["id"]))

    # --- live ticket status -----------------------------------------------------------------

    def watch(self, ticket_id: str) -> None:
        """Push the ticket's status changes to this socket from now on (idempotent)."""
        if ticket_id not in self._watchers:
            task = asyncio.create_task(self._follow(ticket_id), name=f"webchat-{ticket_id}")
            self._watchers[ticket_id] = task

    async def _follow(self, ticket_id: str) -> None:
        try:
            async for payload in ticket_events(
                sessions=self.app.state.sessions,
                bus=self.app.state.event_bus,
                ticket_id=ticket_id,
            ):
                if payload is not None:
                    await self.send({"type": "ticket", **payload})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket closed; the page resubscribes when it reconnects
            log.info("web chat stopped following a ticket", ticket_id=ticket_id, error=repr(exc))

    async def _stop_watching(self) -> None:
        for task in self._watchers.values():
            task.cancel()
        for task in self._watchers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watchers.clear()


def _ticket_summary(ticket: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a ticket (no status token: the socket already follows it)."""
    keys = ("id", "status", "priority", "category", "subject", "sla_due_at")
    return {key: ticket.get(key) for key in keys}
