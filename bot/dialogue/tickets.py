"""The ticket a conversation asks for, written in one place.

The dialogue's repair form, its hand-over to a person and a phone call that ended with its request
still open all make tickets; each says the same things the same way: the subject (`model:
symptom`), a description listing the request's details (model, symptom, address, phone, urgency,
serial) followed by the record the request came from, and the request the ticket desk takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from bot.dialogue.ports import TicketRequest
from bot.dialogue.prompts import DialogueTexts
from bot.dialogue.slots import DETAILS, SlotReader

MAX_SUBJECT_CHARS = 200
MAX_DESCRIPTION_CHARS = 19_000  # a ticket's description holds 20,000


def known(value: object) -> str | None:
    """The slot's value, or None when it is missing."""
    return str(value or "") or None


@dataclass(frozen=True)
class TicketWriter:
    """Writes a request's details and tickets in the customer's language `lang`."""

    texts: DialogueTexts
    reader: SlotReader
    lang: str

    def summary(self, slots: Mapping[str, Any], *, unknown: bool = True) -> str:
        """One `Label: value` line per detail of the request, the form's first; a detail not
        known reads "not given" (what the agent reads), or is left out when `unknown` is False
        (what the customer is shown)."""
        lines = []
        for slot in DETAILS:
            value = known(slots.get(slot))
            if value is None and not unknown:
                continue
            shown = self.texts.label("unknown", self.lang) if value is None else value
            if value is not None and slot == "product":
                shown = self.reader.product_name(value)
            elif value is not None and slot == "urgency":
                shown = self.texts.urgency_label(value, self.lang)
            lines.append(f"{self.texts.label(slot, self.lang)}: {shown}")
        return "\n".join(lines)

    def request(
        self,
        slots: Mapping[str, Any],
        *,
        symptom: str,
        category: str,
        customer: dict[str, Any],
        fault_id: str | None,
        record: str = "",
        unknown: bool = True,
        facts: str = "",
        subject: str | None = None,
    ) -> TicketRequest:
        """The ticket for `slots`: subject `model: symptom`, the details' `summary` (when there
        are any) and under them `record`, the text the request came from (a call's transcript,
        or the customer's message when the form is empty); `facts`, what the conversation knew
        (the diagnosis frame), goes between them, and `subject`, when given, says what is wrong."""
        product_id = known(slots.get("product"))
        name = self.reader.product_name(product_id) if product_id else ""
        if subject is None:
            subject = f"{name}: {symptom}" if name else symptom
        summary = self.summary(slots, unknown=unknown) if slots else ""
        parts = (summary, facts.strip(), record.strip())
        description = "\n\n".join(part for part in parts if part)
        return TicketRequest(
            subject=subject[:MAX_SUBJECT_CHARS],
            description=description[:MAX_DESCRIPTION_CHARS],
            category=category,
            customer=customer,
            product_id=product_id,
            fault_id=fault_id,
            urgency=slots.get("urgency"),
        )


def local_time(value: object, zone: tzinfo) -> str:
    """A time (a `datetime` or ISO text, UTC when it names no zone) as `YYYY-MM-DD HH:MM` in
    the customer's time zone, for a reply: customers read their own clock, never UTC."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value or "").strip()
        if not text:
            return ""
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text[:16].replace("T", " ")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def due_text(ticket: Mapping[str, Any], zone: tzinfo) -> str:
    """When the ticket's first response is due, as `YYYY-MM-DD HH:MM` in `zone` for a reply."""
    return local_time(ticket.get("sla_due_at") or ticket.get("response_due_at"), zone)
