"""Telegram updates in, the bot's answers out. A webhook request must carry our secret and
hold an update (polling fetches them instead); then `/start` gets the welcome in the user's
language, `/status` the customer's open tickets, and text goes to the bot, as does a press of
one of the bot's buttons (an inline keyboard under its last reply): its payload is the words.

The same update twice (a webhook retry) is handled once: by `update_id` here, and by
chat+message id in the messages desk, which also holds across restarts.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections import OrderedDict

from telegram import CallbackQuery, Message, Update, User
from telegram.error import TelegramError

from channels.telegram.outbound import CHANNEL, TelegramOutbound
from channels.texts import ChannelTexts, text_lang
from core.channels import CustomerTickets, MessageIntake, OutboundError
from core.errors import Forbidden, ServiceError
from core.logs import get_logger
from core.messages import Answer, Attachment, InboundMessage

log = get_logger(__name__)

# Telegram's users without a language code, and those in languages we do not speak, get this.
DEFAULT_LANG = "en"
REMEMBERED_UPDATES = 10_000
MAX_NAME_CHARS = 200
# The Bot API lets a bot download files up to 20 MB.
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024


def command_of(text: str) -> str | None:
    """`start` for "/start" or "/start@SomeBot payload"; None for ordinary text."""
    if not text.startswith("/"):
        return None
    return text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() or None


class TelegramInbound:
    """Handles one update at a time; safe to call concurrently from webhook requests."""

    def __init__(
        self,
        *,
        intake: MessageIntake,
        tickets: CustomerTickets,
        outbound: TelegramOutbound,
        texts: ChannelTexts,
        webhook_secret: str | None = None,
    ) -> None:
        self.intake = intake
        self.tickets = tickets
        self.outbound = outbound
        self.texts = texts
        self.webhook_secret = webhook_secret
        self._seen: OrderedDict[int, None] = OrderedDict()

    def check_secret(self, given: str | None) -> None:
        """403 unless a webhook request carries our secret (the webhook is off without one)."""
        expected = self.webhook_secret
        if not expected:
            raise Forbidden(
                "the Telegram webhook is off: set AFTERSALES_TELEGRAM_WEBHOOK_SECRET "
                "(and pass it to setWebhook as secret_token)"
            )
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            raise Forbidden("wrong or missing X-Telegram-Bot-Api-Secret-Token")

    def parse(self, body: bytes) -> Update:
        """The update in a webhook request's body; 400 when it is not one."""
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("an Update is a JSON object with an integer update_id")
            return Update.de_json(data, self.outbound.bot)
        except (ValueError, TypeError, KeyError) as exc:
            raise ServiceError(f"not a Telegram update: {exc}") from exc

    async def handle(self, update: Update) -> None:
        """Act on `update` unless this `update_id` was handled already."""
        if update.update_id in self._seen:
            log.info("telegram update repeated, ignored", update_id=update.update_id)
            return
        self._remember(update.update_id)
        try:
            if update.callback_query is not None:
                await self._on_button(update.callback_query)
            elif update.message is not None:
                await self._on_message(update.message)
        except OutboundError as exc:
            # The message is stored and answered; a retry would find it done and send nothing.
            log.warning("telegram reply not delivered", update_id=update.update_id, error=str(exc))
        except BaseException:
            self._seen.pop(update.update_id, None)  # Telegram's retry gets another go
            raise

    def _remember(self, update_id: int) -> None:
        self._seen[update_id] = None
        while len(self._seen) > REMEMBERED_UPDATES:
            self._seen.popitem(last=False)

    async def _on_message(self, message: Message) -> None:
        chat_id = str(message.chat.id)
        lang = self._user_lang(message.from_user)
        text = (message.text or message.caption or "").strip()
        command = command_of(text)
        if command == "start":
            await self.outbound.send_text(chat_id, self.texts.say("welcome", lang))
            return
        if command == "status":
            tickets = await self.tickets.open_tickets(CHANNEL, chat_id)
            await self.outbound.send_text(chat_id, self.texts.open_tickets(tickets, lang))
            return
        attachments = await self._fetched(message)
        if not text and not attachments:
            await self.outbound.send_text(chat_id, self.texts.say("unsupported", lang))
            return
        inbound = _inbound(
            chat_id=chat_id,
            message_id=f"{chat_id}:{message.message_id}",
            text=text,
            lang=lang,
            user=message.from_user,
            attachments=attachments,
        )
        try:
            result = await self.intake.receive(inbound)
        except ServiceError as exc:  # a file the service refuses (too large, wrong type)
            if not attachments:
                raise
            log.info("telegram attachment refused", chat_id=chat_id, error=exc.message)
            await self.outbound.send_text(chat_id, self.texts.say("unsupported", lang))
            return
        await self._reply(chat_id, result)

    async def _on_button(self, query: CallbackQuery) -> None:
        try:
            await query.answer()  # stops the spinner on the customer's button
        except TelegramError as exc:
            log.warning("telegram answerCallbackQuery failed", error=repr(exc))
        words = (query.data or "").strip()
        if not words or query.message is None:
            log.info("telegram button without words or message", data=query.data)
            return
        chat_id = str(query.message.chat.id)
        inbound = _inbound(
            chat_id=chat_id,
            message_id=f"callback:{query.id}",
            text=words,
            lang=self._user_lang(query.from_user),
            user=query.from_user,
        )
        await self._reply(chat_id, await self.intake.receive(inbound))

    async def _reply(self, chat_id: str, result: Answer) -> None:
        """Each reply as its own message, the bot's buttons under the last one."""
        if result.duplicate:
            return  # its replies went out when it first came
        for number, text in enumerate(result.texts, start=1):
            last = number == len(result.texts)
            await self.outbound.send_text(chat_id, text, result.buttons if last else None)

    @staticmethod
    def _user_lang(user: User | None) -> str:
        return text_lang(user.language_code if user is not None else None, DEFAULT_LANG)

    async def _fetched(self, message: Message) -> tuple[Attachment, ...]:
        """The message's photo, voice note or document with its bytes, through getFile (a
        reference only when that fails or the file is over the Bot API's download limit)."""
        attachments = _attachments(message)
        file_id = attachments[0].media_id if attachments else None
        if not attachments or not file_id:
            return attachments
        attachment = attachments[0]
        try:
            file = await self.outbound.bot.get_file(file_id)
            if (file.file_size or 0) > MAX_DOWNLOAD_BYTES:
                return attachments
            data = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("telegram file not fetched", file_id=file_id, error=repr(exc))
            return attachments
        update = {"data_base64": base64.b64encode(data).decode()}
        return (attachment.model_copy(update=update),)


def _inbound(
    *,
    chat_id: str,
    message_id: str,
    text: str,
    lang: str,
    user: User | None,
    attachments: tuple[Attachment, ...] = (),
) -> InboundMessage:
    """The normalized message; the chat is the sender, so group chats keep one conversation."""
    name = user.full_name if user is not None else None
    return InboundMessage(
        channel=CHANNEL,
        sender_id=chat_id,
        message_id=message_id,
        text=text,
        lang=lang,
        attachments=attachments,
        customer={"name": name[:MAX_NAME_CHARS]} if name else None,
    )


def _attachments(message: Message) -> tuple[Attachment, ...]:
    if message.photo:  # the largest size Telegram made
        return (Attachment(type="image", media_id=message.photo[-1].file_id),)
    if message.voice:
        voice = message.voice
        return (Attachment(type="voice", media_id=voice.file_id, content_type=voice.mime_type),)
    if message.document:
        document = message.document
        return (
            Attachment(
                type="image" if (document.mime_type or "").startswith("image/") else "file",
                media_id=document.file_id,
                name=document.file_name,
            ),
        )
    return ()
