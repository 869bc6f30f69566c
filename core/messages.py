"""The one message contract: a customer message in, the bot's answer out.

Every channel adapter builds an `InboundMessage` (it is also the body of `POST /v1/messages`),
the bot reads it and returns an `Answer` (the body of that route's response), and the adapter
sends the answer's replies and buttons back on its platform. Nothing changes shape on the way.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_TEXT_CHARS = 4000

Action = Literal[
    "answer", "clarify", "collect", "ticket", "status", "handoff", "smalltalk", "fallback"
]


class Attachment(BaseModel):
    """A file the customer sent (photo, voice note, document), by the platform's reference,
    a URL, or inline bytes."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["image", "voice", "file"]
    content_type: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=300)
    url: str | None = Field(default=None, max_length=2000)
    media_id: str | None = Field(default=None, max_length=300, description="the platform's id")
    data_base64: str | None = Field(
        default=None,
        description="the file's bytes, base64 (a `data:` URL prefix is taken too)",
        pattern=r"^(data:[\w.+/-]*;base64,)?(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
    )
    file_id: str | None = Field(
        default=None, description="set by the service: the stored file (a caller's is ignored)"
    )


class Customer(BaseModel):
    """What a channel knows about the sender."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    tier: Literal["strategic", "key", "standard"] | None = None


class InboundMessage(BaseModel):
    """One customer message from any channel (the body of `POST /v1/messages`).

    `message_id` is the platform's own id (WeChat `MsgId`, Telegram chat+message id), so a
    platform's retry of the same message is recognised as one message.
    """

    model_config = ConfigDict(
        extra="ignore",
        str_strip_whitespace=True,
        frozen=True,
        # What `_text_or_attachment` checks, in the schema clients and fuzzers read.
        json_schema_extra={
            "anyOf": [
                {"required": ["text"], "properties": {"text": {"pattern": "\\S"}}},
                {"required": ["attachments"], "properties": {"attachments": {"minItems": 1}}},
            ]
        },
    )
    channel: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    sender_id: str = Field(min_length=1, max_length=200)
    message_id: str = Field(min_length=1, max_length=200)
    text: str = Field(
        default="", max_length=MAX_TEXT_CHARS, description="may be empty with attachments"
    )
    lang: Literal["zh", "en"] | None = None
    customer: Customer | None = None
    attachments: tuple[Attachment, ...] = ()

    @field_validator("lang", mode="before")
    @classmethod
    def _lang_family(cls, value: object) -> object:
        """Accept regional tags (`zh-TW`, `en_US`) and keep the language family."""
        if isinstance(value, str) and value:
            return value.replace("_", "-").split("-", 1)[0].lower()
        return value

    @model_validator(mode="after")
    def _text_or_attachment(self) -> InboundMessage:
        """A message says something: text, or a photo, voice note or file."""
        if not self.text and not self.attachments:
            raise ValueError("text is empty and there are no attachments")
        return self

    def customer_facts(self) -> dict[str, Any]:
        """The customer fields the channel gave, without the empty ones."""
        return self.customer.model_dump(exclude_none=True) if self.customer else {}


class Button(BaseModel):
    """A reply button: the `label` shown, the `payload` that comes back when pressed."""

    label: str
    payload: str


class Reply(BaseModel):
    text: str


class Intent(BaseModel):
    name: str
    confidence: float


class Entity(BaseModel):
    type: str
    value: str
    # `{"type", "value"}` as before; `source` only for what came from an attachment.
    source: str | None = Field(
        default=None, description='"image": read from a photo', exclude_if=lambda v: v is None
    )


class KbHit(BaseModel):
    id: str
    type: str
    score: float
    title: str | None = None


class Answer(BaseModel):
    """What the bot did with a message (the response of `POST /v1/messages`)."""

    conversation_id: str
    action: Action
    replies: list[Reply]
    buttons: list[Button] = Field(
        default_factory=list, description="choices the customer can tap (or type the number of)"
    )
    intent: Intent
    entities: list[Entity]
    kb_hits: list[KbHit]
    ticket: dict[str, Any] | None = None
    tickets: list[dict[str, Any]] = Field(default_factory=list)
    lang: str
    message_id: str
    duplicate: bool = Field(
        default=False, description="the message was received before; this is the first answer"
    )

    @property
    def texts(self) -> list[str]:
        """The reply texts, in order."""
        return [reply.text for reply in self.replies if reply.text]
