"""WeChat messages in, the bot's answer out: passively (in the reply to WeChat's request) when
the bot answers within the budget, else `success` at once and the answer later through the
customer-service API.

WeChat retries a message it got no reply to (same `MsgId`, up to three times). The messages
desk processes a `MsgId` once; the answers held here by `MsgId` give a retry the same passive
reply, or `success` when the answer went (or goes) out through the API instead.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from wechatpy.messages import BaseMessage

from channels.texts import ChannelTexts
from channels.wechat.envelope import WeChatConfig
from channels.wechat.outbound import CHANNEL, MAX_TEXT_BYTES, WeChatOutbound, utf8_size
from core.channels import MessageIntake, OutboundError, split_text
from core.errors import ServiceError
from core.logs import get_logger
from core.messages import Answer, Attachment, InboundMessage

log = get_logger(__name__)

# WeChat waits 5 s for a passive reply; answer within this, else reply later via the API.
REPLY_BUDGET_SECONDS = 4.0
# WeChat says nothing about a follower's language; the fixed texts go out in this one.
DEFAULT_LANG = "zh"
# Answers remembered for retries (WeChat retries within ~15 s; keep far more than that).
REMEMBERED_ANSWERS = 10_000
SUBSCRIBE_EVENTS = ("subscribe", "subscribe_scan", "subscribe_scan_product")


@dataclass
class _Pending:
    """The bot's answer to one `MsgId`, running or done."""

    task: asyncio.Task[Answer]
    late: bool = False  # the answer goes out through the API: retries get `success`
    overflow_sent: bool = False


class WeChatInbound:
    """Turns the messages WeChat pushes into passive replies (or later API messages); `config`
    is what the server URL checks and opens them with (`channels.wechat.envelope`)."""

    def __init__(
        self,
        *,
        config: WeChatConfig,
        intake: MessageIntake,
        outbound: WeChatOutbound | None,
        texts: ChannelTexts,
        reply_budget: float = REPLY_BUDGET_SECONDS,
    ) -> None:
        self.config = config
        self.intake = intake
        self.outbound = outbound
        self.texts = texts
        self.reply_budget = reply_budget
        self._answers: OrderedDict[str, _Pending] = OrderedDict()
        self._background: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        """Stop answers still being sent late (at shutdown)."""
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def reply_to(self, message: BaseMessage) -> str | None:
        """The passive reply's text, or None for a bare `success`."""
        kind = message.type
        if kind == "event":
            subscribed = getattr(message, "event", "") in SUBSCRIBE_EVENTS
            return self.texts.say("welcome", DEFAULT_LANG) if subscribed else None
        text = _text_of(message)
        attachments = await self._fetched(message)
        if text is None and not attachments:
            return self.texts.say("unsupported", DEFAULT_LANG)
        inbound = InboundMessage(
            channel=CHANNEL,
            sender_id=message.source,
            message_id=_message_key(message),
            text=text or "",
            attachments=attachments,
        )
        try:
            return await self._bot_reply(inbound)
        except ServiceError as exc:  # a file the service refuses (too large, wrong type)
            if not attachments:
                raise
            log.info("wechat attachment refused", sender=message.source, error=exc.message)
            return self.texts.say("unsupported", DEFAULT_LANG)

    async def _fetched(self, message: BaseMessage) -> tuple[Attachment, ...]:
        """The message's photo, voice note or file with its bytes, fetched from the media API
        by `MediaId` (a reference only when that fails or no app secret is set)."""
        attachments = _attachments(message)
        media_id = attachments[0].media_id if attachments else None
        if not attachments or self.outbound is None or not media_id:
            return attachments
        attachment = attachments[0]
        try:
            data, declared = await self.outbound.get_media(media_id, message.source)
        except OutboundError as exc:  # expired (3 days) or WeChat unreachable: a reference only
            log.warning("wechat media not fetched", media_id=media_id, error=str(exc))
            return (attachment.model_copy(update={"url": None}),)
        update = {"data_base64": base64.b64encode(data).decode(), "content_type": declared}
        return (attachment.model_copy(update=update),)

    async def _bot_reply(self, inbound: InboundMessage) -> str | None:
        pending = self._pending(inbound)
        try:
            result = await asyncio.wait_for(asyncio.shield(pending.task), self.reply_budget)
        except TimeoutError:
            self._answer_late(inbound.sender_id, pending)
            return None
        except BaseException:
            self._answers.pop(inbound.message_id, None)  # a retry runs it again
            raise
        if pending.late or not result.texts:
            return None
        pieces = split_text("\n\n".join(result.texts), MAX_TEXT_BYTES, size=utf8_size)
        if len(pieces) > 1 and not pending.overflow_sent:
            pending.overflow_sent = True
            self._in_background(self._send(inbound.sender_id, pieces[1:]))
        return pieces[0]

    def _pending(self, inbound: InboundMessage) -> _Pending:
        """The answer of this `MsgId`: the one already running for a retry, else a new one."""
        pending = self._answers.get(inbound.message_id)
        if pending is None:
            pending = _Pending(asyncio.create_task(self.intake.receive(inbound)))
            self._answers[inbound.message_id] = pending
            while len(self._answers) > REMEMBERED_ANSWERS:
                self._answers.popitem(last=False)
        return pending

    def _answer_late(self, sender_id: str, pending: _Pending) -> None:
        if pending.late:
            return
        pending.late = True

        async def deliver() -> None:
            result = await pending.task
            if not result.duplicate:  # a repeat's answer went out the first time
                await self._send(sender_id, result.texts)

        self._in_background(deliver())

    async def _send(self, sender_id: str, texts: list[str]) -> None:
        if self.outbound is None:
            log.warning(
                "wechat answer missed the passive-reply window and cannot be sent: set "
                "AFTERSALES_WECHAT_APP_ID and AFTERSALES_WECHAT_APP_SECRET",
                sender=sender_id,
            )
            return
        for text in texts:
            await self.outbound.send_text(sender_id, text)

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("wechat late answer not delivered", error=repr(task.exception()))


def _text_of(message: BaseMessage) -> str | None:
    """What the customer said: typed text, or WeChat's speech recognition of a voice message."""
    if message.type == "text":
        text = message.content
    elif message.type == "voice":
        text = message.recognition
    else:
        return None
    return text.strip() or None if isinstance(text, str) else None


def _message_key(message: BaseMessage) -> str:
    """WeChat's `MsgId`; sender and time for the few pushes without one."""
    return str(message.id) if message.id else f"{message.source}:{message.time}"


def _attachments(message: BaseMessage) -> tuple[Attachment, ...]:
    if message.type == "image":
        return (Attachment(type="image", media_id=message.media_id, url=message.image),)
    if message.type == "voice":
        return (Attachment(type="voice", media_id=message.media_id),)
    raw = getattr(message, "_data", {})
    if raw.get("MsgType") == "file" and raw.get("MediaId"):  # wechatpy has no file message
        return (Attachment(type="file", media_id=raw["MediaId"], name=raw.get("Title")),)
    return ()
