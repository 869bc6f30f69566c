"""Sending an agent's words (replies, CSAT surveys) to a customer on their own channel."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from channels.texts import channel_texts
from core.channels import AuthoredOutbound, OutboundError
from core.logs import get_logger
from intake_api.services import services

log = get_logger(__name__)


@dataclass(frozen=True)
class Sent:
    delivered: bool
    error: str | None = None


def logs_what_it_sends(app: FastAPI, channel: str | None) -> bool:
    """Whether the channel stores what it sends in the conversation history itself (web chat)."""
    outbound = services(app).outbound.get(channel)
    return bool(getattr(outbound, "stores_history", False))


async def send_to_customer(
    app: FastAPI,
    *,
    channel: str | None,
    recipient: str | None,
    text: str,
    author: str | None = None,
    lang: str = "zh",
) -> Sent:
    """Send `text` through the channel's outbound side; says why when it could not. With
    `author` (an agent's name) the text is that person's: a channel that shows authors
    (`AuthoredOutbound`, the web chat) shows it as theirs, a text-only one gets the name before
    the text, in `lang`."""
    outbound = services(app).outbound.get(channel)
    if outbound is None or not recipient:
        return Sent(False, f"channel {channel or '(none)'} cannot send messages from this service")
    try:
        if author is None:
            await outbound.send_text(recipient, text)
        elif isinstance(outbound, AuthoredOutbound):
            await outbound.send_authored(recipient, text, author)
        else:
            said = channel_texts().say("agent_reply", lang, name=author, text=text)
            await outbound.send_text(recipient, said)
    except OutboundError as exc:
        log.warning("sending to a customer failed", channel=channel, error=str(exc))
        return Sent(False, str(exc))
    return Sent(True)
