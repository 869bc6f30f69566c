"""What every channel adapter shares: the normalized inbound message, the outbound protocol,
and the one way into the bot (the messages desk behind `POST /v1/messages`).

An adapter turns a platform's update into an `InboundMessage`, hands it to `answer`, and sends
the replies back with its `OutboundChannel`; it never runs the bot or stores messages itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import FastAPI

from intake_api.messages.flows import MessageDesk
from intake_api.messages.models import MessageIn


@dataclass(frozen=True)
class Attachment:
    """A file the customer sent (picture, voice), kept by the platform's reference."""

    kind: str
    media_id: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Button:
    """A reply button: the `label` shown, the `payload` that comes back when pressed."""

    label: str
    payload: str


@dataclass(frozen=True)
class InboundMessage:
    """One customer message as every channel hands it on.

    `message_id` is the platform's own id (WeChat `MsgId`, Telegram chat+message id), so a
    platform's retry of the same message is recognised as one message.
    """

    channel: str
    sender_id: str
    message_id: str
    text: str
    lang: str | None = None
    attachments: tuple[Attachment, ...] = ()
    customer: dict[str, Any] | None = None

    def to_message_in(self) -> MessageIn:
        """The body `POST /v1/messages` would get for this message."""
        return MessageIn.model_validate(
            {
                "channel": self.channel,
                "sender_id": self.sender_id,
                "message_id": self.message_id,
                "text": self.text,
                "lang": self.lang,
                "customer": self.customer,
            }
        )


@dataclass(frozen=True)
class BotAnswer:
    """What the bot answered: the contract's response, and whether it is a repeat."""

    response: dict[str, Any]
    replies: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, response: dict[str, Any]) -> BotAnswer:
        replies = [str(r["text"]) for r in response.get("replies") or [] if r.get("text")]
        return cls(response=response, replies=replies)

    @property
    def action(self) -> str:
        return str(self.response.get("action") or "")

    @property
    def duplicate(self) -> bool:
        """The platform sent this message before; its replies went out the first time."""
        return bool(self.response.get("duplicate"))


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


async def answer(app: FastAPI, message: InboundMessage) -> BotAnswer:
    """Run `message` through the same store-first, idempotent path as `POST /v1/messages`."""
    desk: MessageDesk = app.state.messages
    return BotAnswer.of(await desk.receive(message.to_message_in()))
