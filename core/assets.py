"""The ports between the dialogue and the service's equipment data (no imports of ours).

`UnitLookup`: a serial number in a message, or a sender registered as the contact of one unit,
identifies the unit; its model, serial and site fill the diagnosis frame, its customer and tier
the conversation (and so the ticket and its SLA).

When a machine alarm opens a ticket, the service tells the unit's contacts and leaves their
conversation at the stage `ALARM_STAGE`, with the ticket id in the dialogue state's request
(`ALARM_TICKET`). The customer's next message goes to `AlarmFollowUp.answer` first: "需要上门"
books the visit, "已经处理好了" asks an agent to verify; anything else continues as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

ALARM_STAGE = "alarm"
ALARM_TICKET = "alarm_ticket"


class AlarmFollowUp(Protocol):
    """Moves an alarm's ticket on the customer's answer to the alarm notice."""

    async def answer(
        self, session: AsyncSession, *, ticket_id: str, text: str, lang: str
    ) -> str | None:
        """The reply to the customer after moving the ticket, in `lang`; None when the text
        is not an answer to the notice (the dialogue carries on as usual)."""
        ...


@dataclass(frozen=True)
class UnitFacts:
    """What the registry knows of one installed unit."""

    serial: str
    product_id: str
    site: str | None = None
    customer: dict[str, str] = field(default_factory=dict)  # name, phone, tier (when known)


class UnitLookup(Protocol):
    """Finds the unit a message is about."""

    async def find(
        self, session: AsyncSession, *, channel: str, sender_id: str, text: str
    ) -> UnitFacts | None:
        """The unit whose serial the text names, else the one unit the sender is a contact
        of; None when neither (or the sender has several units and names none)."""
        ...
