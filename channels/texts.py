"""What the channels say by themselves (status updates, the open-tickets list, welcome), per
language, read from `channels/data/texts.yml` so that people without code can edit the wording.
The bot's answers and their buttons are the bot's (`bot/data/`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

TEXTS_FILE = Path(__file__).resolve().parent / "data" / "texts.yml"
LANGS = ("zh", "zh-Hant", "en")
_TRADITIONAL_TAGS = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")
REQUIRED_TEXTS = (
    "status_changed",
    "status_note",
    "status_list",
    "status_line",
    "status_none",
    "welcome",
    "image_received",
    "voice_unrecognized",
    "unsupported",
    "agent_reply",
    "agent_default_name",
    "bot_back",
)


class TextsError(ValueError):
    """The texts file lacks a key or a language the channels need."""


def text_lang(code: str | None, default: str = "zh") -> str:
    """One of `LANGS` for a language tag as platforms send it (`zh-TW`, `en_US`, `zh-hans`)."""
    if not code:
        return default
    tag = code.replace("_", "-").lower()
    if tag.startswith(_TRADITIONAL_TAGS):
        return "zh-Hant"
    if tag.startswith("zh"):
        return "zh"
    return "en"


class ChannelTexts:
    """Lookup of the texts file; every text exists in every language of `LANGS`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self._check()

    @classmethod
    def load(cls, path: Path = TEXTS_FILE) -> ChannelTexts:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")) or {})

    def _check(self) -> None:
        """Fail at start-up, naming the key, rather than when a customer is waiting."""
        for key in REQUIRED_TEXTS:
            self._by_lang(self._data.get(key), key)
        for status, labels in (self._data.get("statuses") or {}).items():
            self._by_lang(labels, f"statuses.{status}")

    @staticmethod
    def _by_lang(texts: Any, key: str) -> dict[str, str]:
        if not isinstance(texts, dict):
            raise TextsError(f"{TEXTS_FILE.name}: `{key}` is missing")
        missing = [lang for lang in LANGS if not isinstance(texts.get(lang), str)]
        if missing:
            raise TextsError(f"{TEXTS_FILE.name}: `{key}` has no text for {', '.join(missing)}")
        return texts

    def say(self, key: str, lang: str, **fields: object) -> str:
        """The text `key` in `lang`, placeholders filled."""
        return self._by_lang(self._data.get(key), key)[lang].format(**fields)

    def status_label(self, status: str, lang: str) -> str:
        labels = (self._data.get("statuses") or {}).get(status)
        return labels[lang] if isinstance(labels, dict) and lang in labels else status

    def change_notice(
        self, *, ticket_id: str, subject: str, status: str, note: str | None, lang: str
    ) -> str:
        """ "Your ticket T-000012 (subject) is now: in progress." and the note, if any."""
        text = self.say(
            "status_changed",
            lang,
            ticket_id=ticket_id,
            subject=subject,
            status=self.status_label(status, lang),
        )
        return text + "\n" + self.say("status_note", lang, note=note) if note else text

    def open_tickets(self, tickets: list[dict[str, Any]], lang: str) -> str:
        """A customer's unfinished tickets (ticket JSON, newest first), one line each."""
        if not tickets:
            return self.say("status_none", lang)
        lines = [
            self.say(
                "status_line",
                lang,
                ticket_id=ticket["id"],
                subject=ticket["subject"],
                status=self.status_label(str(ticket["status"]), lang),
            )
            for ticket in tickets
        ]
        return "\n".join([self.say("status_list", lang, count=len(tickets)), *lines])


@lru_cache
def channel_texts() -> ChannelTexts:
    """The bundled texts, read once per process."""
    return ChannelTexts.load()
