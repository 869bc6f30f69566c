"""The port between the dialogue and the service's equipment data (no imports of ours).

When a machine alarm opens a ticket, the service tells the unit's contacts and leaves their
conversation at the stage `ALARM_STAGE`, with the ticket id in the dialogue state's request
(`ALARM_TICKET`). The customer's next message goes to `AlarmFollowUp.answer` first: "需要上门"
books the visit, "已经处理好了" asks an agent to verify; anything else continues as usual.
"""

from __future__ import annotations

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
