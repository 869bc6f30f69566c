"""What the service and the channel adapters agree on, so neither imports the other.

- `MessageIntake`: the one way into the service for a customer message (store first, answer
  once); adapters call it and never run the bot or touch tables themselves.
- `OutboundChannel` and `OutboundRegistry`: how the service sends text (and buttons) back to a
  customer on the platform the customer wrote on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

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
