"""What the service and the channel adapters agree on, so neither imports the other.

- `MessageIntake`: the one way into the service for a customer message (store first, answer
  once); adapters call it and never run the bot or touch tables themselves.
- `OutboundChannel` and `OutboundRegistry`: how the service sends text (and buttons) back to a
  customer on the platform the customer wrote on; `AuthoredOutbound`, what a platform that shows
  a person's message as that person's (web chat) offers besides.
- `CustomerTickets`, `ConversationLog`, `TicketEvents`, `RateLimiter`: what an adapter may ask
  of the service besides that (a customer's tickets, the conversation so far, live ticket
  changes, a message budget), implemented by the service and handed over at start-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from core.messages import Answer, Button, InboundMessage


class MessageIntake(Protocol):
    """Receives customer messages for every channel (the service's messages desk)."""

    async def receive(self, message: InboundMessage) -> Answer:
        """The answer to `message`: the bot's, or the first one for a repeated message id."""
        ...


class OutboundChannel(Protocol):
    """Sends text to a customer on one platform (answers, ticket status updates)."""

    name: str

    async def send_text(
        self, recipient_id: str, text: str, buttons: Sequence[Button] | None = None
    ) -> None:
        """Deliver `text` (and reply buttons where the platform has them) or raise
        `OutboundError`."""


@runtime_checkable
class AuthoredOutbound(Protocol):
    """An outbound channel that shows a message a person wrote (an agent's reply) as that
    person's: their name and a style of its own. Text-only platforms (WeChat, Telegram) are sent
    the text with the name written before it instead, in the customer's language."""

    async def send_authored(self, recipient_id: str, text: str, author: str) -> None:
        """Deliver `text` as written by `author` (a display name) or raise `OutboundError`."""


# The action of a history line a person (an agent) wrote; its `author` holds their name.
AGENT_ACTION = "agent"


class CustomerTickets(Protocol):
    """A customer's tickets on one channel, as the ticket JSON of the API (`id`, `subject`,
    `status`, ...)."""

    async def open_tickets(self, channel: str, sender_id: str) -> list[dict[str, Any]]:
        """The customer's unfinished tickets, newest first."""
        ...

    async def recent_ids(self, channel: str, sender_id: str) -> list[str]:
        """The readable ids of the customer's latest tickets, whatever their status, newest
        first."""
        ...


@dataclass(frozen=True)
class LoggedLine:
    """One stored line of a customer's conversations: the customer's (`in`) or the service's."""

    id: int
    direction: Literal["in", "out"]
    text: str
    action: str | None
    message_id: str | None
    at: datetime | None
    author: str | None = None  # who wrote an outgoing line when a person did (`AGENT_ACTION`)


@dataclass(frozen=True)
class ChatLog:
    """A customer's conversations so far, oldest line first, and the buttons the newest one
    still waits on under its last reply."""

    lines: list[LoggedLine]
    buttons: list[Button]


class ConversationLog(Protocol):
    """The stored conversations of a customer on one channel."""

    async def history(self, channel: str, sender_id: str) -> ChatLog:
        """The latest lines of all the customer's conversations (a goodbye closes one; the
        customer still sees what came before)."""
        ...

    async def store_notice(
        self, channel: str, sender_id: str, text: str, *, author: str | None = None
    ) -> LoggedLine | None:
        """Append a notice (a ticket status change) to the customer's newest conversation, so
        it is in the history later, or with `author` a person's message (`AGENT_ACTION`); None
        when the customer has no conversation."""
        ...


# Every change of a ticket (by readable id), stored ones first, then live ones as they happen,
# forever; None when idle (time for a keep-alive).
TicketEvents = Callable[[str], AsyncIterator[dict[str, Any] | None]]


class RateLimiter(Protocol):
    """Token buckets by key, shared by every worker of the service."""

    async def acquire(self, key: str, *, per_minute: int) -> float | None:
        """Take one token from `key`'s bucket: None if allowed, else seconds until one frees."""
        ...


class OutboundError(Exception):
    """A platform refused or could not take a message; says which and why."""

    def __init__(self, channel: str, recipient_id: str, reason: str) -> None:
        super().__init__(f"{channel}: sending to {recipient_id} failed: {reason}")
        self.channel = channel
        self.recipient_id = recipient_id
        self.reason = reason


class OutboundRegistry:
    """The platforms this process can send to, by channel name (`wechat`, `telegram`, ...)."""

    def __init__(self) -> None:
        self._channels: dict[str, OutboundChannel] = {}

    def register(self, channel: OutboundChannel) -> None:
        self._channels[channel.name] = channel

    def get(self, name: str | None) -> OutboundChannel | None:
        return self._channels.get(name) if name else None

    @property
    def names(self) -> list[str]:
        return sorted(self._channels)


def _cut(line: str, limit: int, size: Callable[[str], int]) -> list[str]:
    """A line longer than `limit` in pieces that are not."""
    parts, current = [], ""
    for char in line:
        if current and size(current + char) > limit:
            parts.append(current)
            current = ""
        current += char
    return [*parts, current]


def split_text(text: str, limit: int, size: Callable[[str], int] = len) -> list[str]:
    """`text` in messages of at most `limit` (by `size`), cut at line ends where possible:
    platforms cap one message (Telegram 4096 characters, WeChat 2048 bytes)."""
    pieces, current = [], ""
    for line in text.splitlines(keepends=True):
        for part in _cut(line, limit, size) if size(line) > limit else [line]:
            if current and size(current + part) > limit:
                pieces.append(current)
                current = ""
            current += part
    pieces.append(current)
    return [piece.strip() for piece in pieces if piece.strip()]
