"""What the service hands every channel at start-up: the messages desk (`intake`), the outbound
registry, the settings, and the ports for whatever else a channel asks of the service. The
composition root (`intake_api`) builds it; channels use it and never the service's modules or
the service's keys on `app.state`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from fastapi import FastAPI

from core.channels import (
    ConversationLog,
    CustomerTickets,
    MessageIntake,
    OutboundRegistry,
    RateLimiter,
    TicketEvents,
)
from core.settings import Settings


@dataclass(frozen=True)
class ChannelPorts:
    """The service as the channels see it."""

    settings: Settings
    intake: MessageIntake
    outbound: OutboundRegistry
    tickets: CustomerTickets
    conversations: ConversationLog
    ticket_events: TicketEvents
    rate_limiter: RateLimiter


# A channel's start-up and shut-down: it registers its outbound side with `ports.outbound` and
# keeps what its routes need under its own name on `app.state`.
ChannelLifespan = Callable[[FastAPI, ChannelPorts], AbstractAsyncContextManager[None]]
