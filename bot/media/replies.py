"""How the bot's answer tells the customer what it read off their photo.

The dialogue takes what was read as if the customer had typed it; this adds, in front of its
replies, what was read ("I can see E35 on the display"), or the question for the code when the
photo held nothing legible, and marks the codes, models and serials that came from the image in
the answer's `entities` (`"source": "image"`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from bot.media.codes import PhotoText
from core.messages import Answer, Entity, InboundMessage, Reply

TEXTS_FILE = Path(__file__).parent / "data" / "texts.yml"
IMAGE = "image"


@cache
def _texts() -> dict[str, dict[str, str]]:
    loaded: dict[str, dict[str, str]] = yaml.safe_load(TEXTS_FILE.read_text(encoding="utf-8"))
    return loaded


def say(key: str, lang: str, **values: str) -> str:
    """The text `key` in `lang` (zh or en)."""
    texts = _texts()[key]
    return texts.get(lang, texts["en"]).format(**values)


def what_was_read(photo: PhotoText, lang: str) -> str:
    """One sentence: the codes, else the nameplate, else the model; else the ask for the code
    (or, for a voice note alone, to type)."""
    model = photo.products[0] if photo.products else ""
    serial = photo.serials[0] if photo.serials else ""
    if photo.codes:
        return say("code_seen", lang, codes=" / ".join(photo.codes))
    if model and serial:
        return say("nameplate_seen", lang, model=model, serial=serial)
    if serial:
        return say("serial_seen", lang, serial=serial)
    if model:
        return say("model_seen", lang, model=model)
    if not photo.photos:
        return say("voice_kept" if photo.voice_notes else "file_kept", lang)
    return say("nothing_read", lang)


def with_photo(answer: Answer, photo: PhotoText) -> Answer:
    """`answer` saying first what the photo showed, its entities marked by where they came
    from; when nothing was read and the message had no words, what the customer should do."""
    if not photo.legible and answer.replies:
        return answer  # the customer's own words were answered: nothing to add
    entities = [_sourced(entity, photo) for entity in answer.entities]
    for serial in photo.serials:
        entities.append(Entity(type="serial", value=serial, source=IMAGE))
    replies = [Reply(text=what_was_read(photo, answer.lang)), *answer.replies]
    return answer.model_copy(update={"entities": entities, "replies": replies})


def _sourced(entity: Entity, photo: PhotoText) -> Entity:
    from_image = (entity.type == "alarm_code" and entity.value in photo.codes) or (
        entity.type == "product" and entity.value in photo.products
    )
    return entity.model_copy(update={"source": IMAGE}) if from_image else entity


def with_photo_text(inbound: InboundMessage, photo: PhotoText) -> InboundMessage:
    """The message as the dialogue reads it: the customer's words and what the photo showed,
    as if typed."""
    typed = f"{inbound.text} {photo.as_typed()}".strip()
    return inbound.model_copy(update={"text": typed})
