"""One inbound message end to end: store it, run the bot, store and return the response.

Three short transactions, so no message is lost and none is answered twice:
1. the message row (unique channel+message_id: a duplicate lands on the first row and gets
   its stored response, waiting while the first delivery is still being answered; see
   `intake_api.storage.once`); without files, one INSERT ... ON CONFLICT DO NOTHING;
2. the bot's unit of work: conversation state, history, any ticket, and the response on the
   message row, committed together (retried when a concurrent message of the same sender
   changed the conversation first). Messages of one conversation take this step one at a time
   and in the order they were stored, whichever worker has them: the transaction holds a lock
   on the conversation's key and waits while an earlier message of it is unanswered (on
   PostgreSQL both in one statement);
3. only if the bot failed: the message marked failed, with the apology reply the caller gets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import partial

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from bot.dialogue import conversations
from bot.dialogue.engine import DialogueEngine, Reading
from bot.dialogue.language import detect_voice
from bot.media.codes import PhotoText
from bot.media.ocr import PhotoReader
from bot.media.replies import with_photo_text
from core.database import one_statement_sessions, unit_of_work
from core.errors import Conflict
from core.logs import get_logger
from core.messages import Answer, InboundMessage, Intent, Reply
from intake_api.assets import service as assets
from intake_api.files.flows import FileDesk, TakenFiles
from intake_api.messages import service
from intake_api.messages.desk import pending_events
from intake_api.messages.models import StoredMessage
from intake_api.storage.once import (
    CONFLICT_RETRIES,
    ORDER_WAIT_SECONDS,
    InOrder,
    first_response,
    insert_first,
    is_conflict,
    lock_key,
    store_first,
    wait_in_order,
)
from intake_api.tickets.models import TicketEvent

log = get_logger(__name__)
_STORE_BUSY = "the message store is busy; retry shortly"

Publish = Callable[[list[TicketEvent]], Awaitable[None]]
# Told a conversation's id (and its ticket's) once its new lines are committed.
Changed = Callable[[str, str | None], Awaitable[None]]


@dataclass
class MessageDesk:
    """Receives inbound messages for every channel (HTTP, webhooks, web chat, terminal)."""

    sessions: async_sessionmaker[AsyncSession]
    dialogue: DialogueEngine
    publish: Publish | None = None
    changed: Changed | None = None
    files: FileDesk | None = None  # attachments: checked and stored before the message
    photos: PhotoReader | None = None  # reads codes, models and serials off photos
    # The same database for work of one statement: no BEGIN/COMMIT round trips around it.
    _one_statement: async_sessionmaker[AsyncSession] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._one_statement = one_statement_sessions(self.sessions)

    async def receive(self, data: InboundMessage) -> Answer:
        """The response to `data`: the bot's, or the stored one for a repeated message_id.
        Attachments are checked (a 4xx refuses the message), stored and read first."""
        taken, photo = await self._take_files(data)
        message_pk = await self._store(taken.message if taken else data, taken)
        if message_pk is None:
            return await self.replay(data)
        read = taken.message if taken else data
        read = with_photo_text(read, photo) if photo else read
        return await self._answer(message_pk, read, photo)

    async def _take_files(self, data: InboundMessage) -> tuple[TakenFiles | None, PhotoText | None]:
        """The message's files stored, and what its photos show (read outside any transaction,
        in a worker thread); a voice note alone counts as a reading with nothing read."""
        if self.files is None or not data.attachments:
            return None, None
        taken = await self.files.take(data)
        photo = PhotoText(photos=taken.unread_images, voice_notes=taken.voice_notes)
        if self.photos is not None:
            for number, file in enumerate(taken.files):
                if file.checked.content_type.startswith("image/"):
                    one = await asyncio.to_thread(self.photos.read, [file.checked.data])
                    taken.files[number] = replace(file, text="\n".join(one.lines) or None)
                    photo = photo.merged(one)
        return taken, await self._registered_models(photo)

    async def _registered_models(self, photo: PhotoText) -> PhotoText:
        """A nameplate serial the asset registry knows names the unit's model, as if the
        customer had named it (an unknown serial changes nothing)."""
        if not photo.serials:
            return photo
        async with self._one_statement() as session:
            units = [await assets.find(session, serial=serial) for serial in photo.serials]
        models = [unit.product_id for unit in units if unit is not None]
        return replace(photo, products=tuple(dict.fromkeys([*photo.products, *models])))

    async def replay(self, data: InboundMessage) -> Answer:
        """The first delivery's response, once it is stored."""
        not_ready = Conflict(
            "this message_id is still being answered; retry shortly",
            channel=data.channel,
            message_id=data.message_id,
        )
        stored = await first_response(self._one_statement, partial(_find, data), not_ready)
        return Answer.model_validate(stored)

    async def is_known(self, data: InboundMessage) -> bool:
        """Whether this channel+message_id was received before."""
        async with self._one_statement() as session:
            return await service.exists(session, channel=data.channel, message_id=data.message_id)

    async def _store(self, data: InboundMessage, taken: TakenFiles | None = None) -> int | None:
        """The new message's row id, or None when channel+message_id is already stored (the
        row alone is one INSERT; with its files, one transaction)."""
        if taken is None:
            write = partial(service.insert_new, data=data)
            return await insert_first(self._one_statement, write, busy=_STORE_BUSY)
        return await store_first(self.sessions, partial(self._add, data, taken), busy=_STORE_BUSY)

    def _add(
        self, data: InboundMessage, taken: TakenFiles | None, session: AsyncSession
    ) -> StoredMessage:
        if taken and self.files:
            self.files.record(session, data, taken)
        return service.create(session, data=data)

    async def _answer(
        self, message_pk: int, data: InboundMessage, photo: PhotoText | None = None
    ) -> Answer:
        try:
            reading = await asyncio.to_thread(self.dialogue.read, data)
            reading.photo = photo
        except Exception as exc:  # the message is kept and answered with an apology
            return await self._fail(message_pk, data, exc)
        conflicts, waits, waited = 0, 0, 0.0
        while True:
            try:
                return await self._run_bot(
                    message_pk, data, reading, in_order=waited < ORDER_WAIT_SECONDS
                )
            except InOrder:  # an earlier message of the conversation goes first
                waited = await wait_in_order(waits, waited)
                waits += 1
            except (IntegrityError, StaleDataError, OperationalError) as exc:
                conflicts += 1
                if conflicts == CONFLICT_RETRIES or not is_conflict(exc):
                    return await self._fail(message_pk, data, exc)
                await asyncio.sleep(0.01 * (2**conflicts))
            except Exception as exc:  # the message is kept and answered with an apology
                return await self._fail(message_pk, data, exc)

    async def _run_bot(
        self, message_pk: int, data: InboundMessage, reading: Reading, *, in_order: bool = True
    ) -> Answer:
        async with unit_of_work(self.sessions) as session:
            # A write first: SQLite then queues this transaction behind other writers instead of
            # failing it when it would upgrade a read snapshot that another writer made stale.
            # PostgreSQL needs no such write (its row locks and the conversation lock do it).
            if _single_writer(session):
                await service.mark_processing(session, message_pk=message_pk)
            key = conversations.live_key(data.channel, data.sender_id)
            earlier = service.earlier_unanswered(data, message_pk, ORDER_WAIT_SECONDS)
            check, params = earlier if in_order else (None, None)
            if await lock_key(session, key, check, params):
                raise InOrder
            answer = await self.dialogue.handle(session, data, reading)
            await service.mark_answered(
                session,
                message_pk=message_pk,
                conversation_id=answer.conversation_id,
                response=answer.model_dump(mode="json"),
            )
            events = list(pending_events(session))
        if self.publish and events:
            await self.publish(events)
        if self.changed:  # the customer's line and the bot's reply are committed
            await self.changed(answer.conversation_id, (answer.ticket or {}).get("id"))
        return answer

    async def _fail(self, message_pk: int, data: InboundMessage, exc: Exception) -> Answer:
        log.exception(
            "the bot failed on a message; stored as failed",
            channel=data.channel,
            message_id=data.message_id,
            error=repr(exc),
        )
        voice = detect_voice(data.text, data.lang, None)
        # A read of its own: the write below goes first.
        async with self._one_statement() as session:
            live = await conversations.get_live(
                session, channel=data.channel, sender_id=data.sender_id
            )
        answer = Answer(
            conversation_id=live.id if live else "",
            action="fallback",
            replies=[Reply(text=self.dialogue.texts.say("error", voice))],
            intent=Intent(name="nlu_fallback", confidence=0.0),
            entities=[],
            kb_hits=[],
            lang=voice.lang,
            message_id=data.message_id,
        )
        async with unit_of_work(self.sessions) as session:
            await service.mark_failed(
                session,
                message_pk=message_pk,
                error=repr(exc),
                response=answer.model_dump(mode="json"),
            )
        return answer


def _single_writer(session: AsyncSession) -> bool:
    """Whether the database takes one writer at a time (SQLite)."""
    return session.bind is not None and session.bind.dialect.name == "sqlite"


async def _find(data: InboundMessage, session: AsyncSession) -> StoredMessage | None:
    return await service.get(session, channel=data.channel, message_id=data.message_id)
