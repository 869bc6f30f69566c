"""The web chat's outbound side: the sockets each session has open in this process, and
`WebChatOutbound`, which stores a message in the session's conversation and pushes it to them.

A page that is closed gets the stored message with its history on its next connect; with
several workers, a page connected to another worker gets it the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Protocol

from channels.webchat.frames import buttons_json, line_json
from core.channels import ConversationLog, OutboundError
from core.messages import Button

CHANNEL = "webchat"


class Connection(Protocol):
    """An open page of a session (`channels.webchat.inbound.ChatConnection`)."""

    async def send(self, frame: dict[str, Any]) -> None: ...

    def watch(self, ticket_id: str) -> None: ...


class ChatHub:
    """The open pages of each session in this process (a session may have several tabs)."""

    def __init__(self) -> None:
        self._pages: dict[str, set[Connection]] = {}

    def add(self, session_id: str, page: Connection) -> None:
        self._pages.setdefault(session_id, set()).add(page)

    def remove(self, session_id: str, page: Connection) -> None:
        pages = self._pages.get(session_id, set())
        pages.discard(page)
        if not pages:
            self._pages.pop(session_id, None)

    def count(self, session_id: str) -> int:
        return len(self._pages.get(session_id, ()))

    async def push(self, session_id: str, frame: dict[str, Any]) -> int:
        """Send `frame` to every open page of the session; how many took it."""
        sent = 0
        for page in list(self._pages.get(session_id, ())):
            with contextlib.suppress(Exception):  # a closing page: its handler removes it
                await page.send(frame)
                sent += 1
        return sent

    def watch(self, session_id: str, ticket_id: str) -> None:
        """Every open page of the session follows the ticket's status from now on."""
        for page in list(self._pages.get(session_id, ())):
            page.watch(ticket_id)


class WebChatOutbound:
    """Messages to a web chat session (ticket status changes, agents' replies), stored then
    pushed; an agent's reply shows as theirs, with their name (`AuthoredOutbound`)."""

    name = CHANNEL
    stores_history = True  # send_text keeps the message in the conversation history itself

    def __init__(self, conversations: ConversationLog, hub: ChatHub) -> None:
        self.conversations = conversations
        self.hub = hub

    async def send_text(
        self, recipient_id: str, text: str, buttons: Sequence[Button] | None = None
    ) -> None:
        await self._send(recipient_id, text, buttons=buttons, author=None)

    async def send_authored(self, recipient_id: str, text: str, author: str) -> None:
        await self._send(recipient_id, text, buttons=None, author=author)

    async def _send(
        self,
        recipient_id: str,
        text: str,
        *,
        buttons: Sequence[Button] | None,
        author: str | None,
    ) -> None:
        line = await self.conversations.store_notice(CHANNEL, recipient_id, text, author=author)
        if line is None:
            raise OutboundError(CHANNEL, recipient_id, "this session has no conversation")
        frame = {"type": "message", **line_json(line, recipient_id)}
        await self.hub.push(recipient_id, {**frame, "buttons": buttons_json(buttons)})
