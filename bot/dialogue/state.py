"""A conversation's dialogue state: where it stands and what it waits for, stored as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.dialogue.language import Voice

IDLE = "idle"
CLARIFY = "clarify"  # waiting for the model or code that picks one KB item
FEEDBACK = "feedback"  # an answer was given; waiting for "did this solve it?"
COLLECT = "collect"  # filling the repair-request form, `pending_slot` asked
TICKETED = "ticketed"  # a request's ticket was just made: details the customer adds go on it
# Stored by versions that asked the customer to confirm a complete form: now read as COLLECT, so
# the customer's next message makes the ticket the form was waiting for.
_CONFIRM = "confirm"
HANDOFF = "handoff"  # a person has the conversation


@dataclass
class DialogueState:
    stage: str = IDLE
    pending_slot: str | None = None
    query: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    clarify_facet: str | None = None
    answered_item: str | None = None
    fallbacks: int = 0
    request: dict[str, Any] = field(default_factory=dict)
    voice: dict[str, Any] = field(default_factory=dict)
    # The diagnosis frame (bot/dialogue/frame.py): kept across turns until the problem is solved,
    # ticketed or the customer moves on to another topic.
    frame: dict[str, Any] = field(default_factory=dict)
    # The choices a clarifying question offered: [{"label", "products"}], picked by name or number.
    options: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DialogueState:
        known = cls.__dataclass_fields__
        state = cls(**{key: value for key, value in (data or {}).items() if key in known})
        if state.stage == _CONFIRM:
            state.stage = COLLECT
        return state

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def last_voice(self) -> Voice | None:
        return Voice(**self.voice) if self.voice else None

    def reset(self) -> None:
        """Back to idle, keeping the language, the misunderstanding count and the frame."""
        self.stage, self.pending_slot, self.query = IDLE, None, None
        self.options = []
        self.candidates, self.clarify_facet, self.answered_item = [], None, None
        self.request = {}
