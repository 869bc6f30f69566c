"""Pieces of the channels without a platform: message splitting, the texts file, languages."""

from __future__ import annotations

import pytest
import yaml

from channels.texts import TEXTS_FILE, ChannelTexts, TextsError, channel_texts, text_lang
from channels.wechat.outbound import MAX_TEXT_BYTES, utf8_size
from core.channels import split_text
from intake_api.tickets.models import TicketStatus


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def test_long_text_is_split_at_line_ends_within_the_limit() -> None:
    lines = [f"第{n}步：检查排气温度传感器接线是否松动。" for n in range(200)]
    pieces = split_text("\n".join(lines), MAX_TEXT_BYTES, size=utf8_size)
    assert len(pieces) > 1
    assert all(utf8_size(piece) <= MAX_TEXT_BYTES for piece in pieces)
    assert "\n".join(pieces).splitlines() == lines  # nothing lost, no line cut


def test_a_line_longer_than_the_limit_is_cut() -> None:
    pieces = split_text("x" * 10_000, 4096)
    assert [len(piece) for piece in pieces] == [4096, 4096, 1808]


def test_short_text_stays_one_message() -> None:
    assert split_text("  hello  ", 4096) == ["hello"]


@pytest.mark.parametrize(
    ("tag", "lang"),
    [
        ("zh-hans", "zh"),
        ("zh-CN", "zh"),
        ("zh-TW", "zh-Hant"),
        ("zh_HK", "zh-Hant"),
        ("zh-hant", "zh-Hant"),
        ("en-US", "en"),
        ("de", "en"),
        (None, "zh"),
    ],
)
def test_platform_language_tags(tag: str | None, lang: str) -> None:
    assert text_lang(tag) == lang


def test_bundled_texts_name_every_ticket_status_in_every_language() -> None:
    texts = channel_texts()
    for status in TicketStatus:
        assert has_chinese(texts.status_label(status.value, "zh")), status
        assert has_chinese(texts.status_label(status.value, "zh-Hant")), status
        assert "_" not in texts.status_label(status.value, "en"), status


def test_a_text_missing_a_language_stops_loading_and_names_the_key() -> None:
    data = yaml.safe_load(TEXTS_FILE.read_text(encoding="utf-8"))
    del data["welcome"]["zh-Hant"]
    with pytest.raises(TextsError, match=r"`welcome` has no text for zh-Hant"):
        ChannelTexts(data)
