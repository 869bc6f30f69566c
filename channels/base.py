"""The one way a channel adapter hands a customer message to the service.

An adapter turns a platform's update into a `core.messages.InboundMessage`, hands it to
`answer`, and sends the replies back with its `OutboundChannel`; it never runs the bot or
stores messages itself.
"""

from __future__ import annotations

from fastapi import FastAPI

from core.channels import MessageIntake
from core.messages import Answer, InboundMessage


async def answer(app: FastAPI, message: InboundMessage) -> Answer:
    """Run `message` through the same store-first, idempotent path as `POST /v1/messages`."""
    intake: MessageIntake = app.state.messages
    return await intake.receive(message)
