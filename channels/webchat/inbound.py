"""One browser socket of a web chat session, end to end.

On connect the page gets its session, the conversation so far with the buttons it still waits
on (the service's `ConversationLog`) and the status of the session's tickets; then each
customer message goes to the messages desk (the same store-first, idempotent path as
`POST /v1/messages`), and the replies, the bot's buttons and any ticket the bot made come back.
Ticket status changes are pushed as they happen (the service's `TicketEvents`, so a change made
on another worker arrives too).

The frames are described in `channels.webchat.frames`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from channels.ports import ChannelPorts
from channels.webchat.frames import (
    FrameError,
    buttons_json,
    line_json,
    read_frame,
    ticket_summary,
)
from channels.webchat.lifespan import WebChat
from channels.webchat.outbound import CHANNEL, ChatHub
from channels.webchat.sessions import ChatSession
from core.errors import ServiceError
from core.logs import get_logger
from core.messages import Answer, InboundMessage

log = get_logger(__name__)

UNAVAILABLE = "unavailable"  # the page retries such a message with the same id


async def rate_wait(ports: ChannelPorts, session_id: str) -> int | None:
    """Seconds to wait when a session is over its message rate, else None (the same per-sender
    budget as `POST /v1/messages`; socket messages and uploads share it)."""
    per_minute = ports.settings.rate_limit_per_sender_per_minute
    if per_minute <= 0:
        return None
    key = f"sender:{CHANNEL}:{session_id}"
    wait = await ports.rate_limiter.acquire(key, per_minute=per_minute)
    return None if wait is None else max(1, round(wait + 0.5))


async def push_reply(hub: ChatHub, session_id: str, result: Answer, client_id: str) -> None:
    """The bot's turn to every open page of the session; its ticket followed from now on."""
    ticket = result.model_dump(mode="json")["ticket"]
    frame = {
        "type": "reply",
        "client_id": client_id,
        "conversation_id": result.conversation_id,
        "action": result.action,
        "replies": result.texts,
        "buttons": buttons_json(result.buttons),
        "ticket": ticket_summary(ticket) if ticket else None,
    }
    await hub.push(session_id, frame)
    if ticket:
        hub.watch(session_id, str(ticket["id"]))


class ChatConnection:
    """Serves one socket; the `ChatHub` finds it to push to the session's every tab."""

    def __init__(self, webchat: WebChat, socket: WebSocket, chat: ChatSession) -> None:
        self.ports = webchat.ports
        self.hub: ChatHub = webchat.hub
        self.socket = socket
        self.chat = chat
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._send_lock = asyncio.Lock()

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
        sid = self.chat.session_id
        history = await self.ports.conversations.history(CHANNEL, sid)
        tickets = await self.ports.tickets.recent_ids(CHANNEL, sid)
        lines = [line_json(line, sid) for line in history.lines]
        buttons = buttons_json(history.buttons)
        await self.send({"type": "history", "messages": lines, "buttons": buttons})
        for ticket_id in reversed(tickets):
            self.watch(ticket_id)

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
            result = await self.ports.intake.receive(inbound)
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
        return await rate_wait(self.ports, self.chat.session_id)

    async def _reply(self, result: Answer, client_id: str) -> None:
        await push_reply(self.hub, self.chat.session_id, result, client_id)

    # --- live ticket status -----------------------------------------------------------------

    def watch(self, ticket_id: str) -> None:
        """Push the ticket's status changes to this socket from now on (idempotent)."""
        if ticket_id not in self._watchers:
            task = asyncio.create_task(self._follow(ticket_id), name=f"webchat-{ticket_id}")
            self._watchers[ticket_id] = task

    async def _follow(self, ticket_id: str) -> None:
        try:
            async for payload in self.ports.ticket_events(ticket_id):
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
