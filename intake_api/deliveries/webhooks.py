"""The deliveries in the OpenAPI 3.1 `webhooks` section: one entry per event the outbox sends.

Each entry names the event, its JSON body (`{"event_id", "event", "ticket", "occurred_at"}`,
exactly the bytes `outbox.encode_body` writes) and the headers the worker sends with it, the
signature among them. Client generators and tests read the payload schemas from there
(`/openapi.json` → `webhooks` → `<event>` → `post` → `requestBody`). Documentation only: the
routes are never served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import FastAPI, Header
from pydantic import BaseModel, ConfigDict, Field

from intake_api.deliveries.signing import EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER
from intake_api.tickets.models import TicketRead


class Delivery(BaseModel):
    """One ticket change as POSTed to `AFTERSALES_WEBHOOK_URL`; de-duplicate by `event_id`."""

    # Described as the service writes it, so `ticket` is the same `TicketRead` the routes answer.
    model_config = ConfigDict(json_schema_mode_override="serialization")

    event_id: str = Field(description="Unique per event; the same on every retry of it.")
    event: str
    ticket: TicketRead = Field(description="The ticket as it was right after the change.")
    occurred_at: datetime


class TicketCreated(Delivery):
    event: Literal["ticket.created"]


class TicketStatusChanged(Delivery):
    event: Literal["ticket.status_changed"]


class TicketAssigned(Delivery):
    event: Literal["ticket.assigned"]


class TicketNoteAdded(Delivery):
    event: Literal["ticket.note_added"]


class TicketEscalated(Delivery):
    event: Literal["ticket.escalated"]


EVENTS: dict[str, tuple[type[Delivery], str]] = {
    "ticket.created": (TicketCreated, "A ticket was opened (by the API, the bot or an alarm)."),
    "ticket.status_changed": (TicketStatusChanged, "A ticket moved in its lifecycle."),
    "ticket.assigned": (TicketAssigned, "A ticket got a new assignee (or none)."),
    "ticket.note_added": (TicketNoteAdded, "A note was added without another change."),
    "ticket.escalated": (TicketEscalated, "A ticket's priority was raised (SLA escalation)."),
}

SignatureHeader = Annotated[
    str | None,
    Header(
        alias=SIGNATURE_HEADER,
        pattern=r"^sha256=[0-9a-f]{64}$",
        description="`sha256=` and the hex HMAC-SHA256 of the raw body keyed with "
        "AFTERSALES_WEBHOOK_SECRET; sent when the secret is set. Verify it before trusting "
        "the body (docs/integration.md).",
    ),
]
EventIdHeader = Annotated[str, Header(alias=EVENT_ID_HEADER, description="The body's event_id.")]
EventHeader = Annotated[str, Header(alias=EVENT_HEADER, description="The body's event.")]

RECEIVER_RESPONSES: dict[int | str, dict[str, str]] = {
    "2XX": {"description": "Delivered: the event is not sent again."},
    "5XX": {"description": "Retried with back-off (so are 408, 425, 429 and network errors)."},
    "default": {"description": "Any other answer is a rejection: the event is dead-lettered."},
}


def _receiver(model: type[Delivery]) -> Callable[..., Awaitable[None]]:
    """A stand-in endpoint whose signature documents one event's body and headers."""

    async def receive(
        body: Delivery,
        event_id: EventIdHeader,
        event: EventHeader,
        signature: SignatureHeader = None,
    ) -> None:
        """Never called: the service sends this request, it does not serve it."""

    receive.__annotations__ = {**receive.__annotations__, "body": model}
    return receive


def document_webhooks(app: FastAPI) -> None:
    """Add every delivered event to `app.webhooks` (the document's `webhooks` section)."""
    for event, (model, summary) in EVENTS.items():
        app.webhooks.add_api_route(
            event,
            _receiver(model),
            methods=["POST"],
            summary=summary,
            operation_id=f"webhook_{event.replace('.', '_')}",
            responses=RECEIVER_RESPONSES,
            status_code=204,
        )
