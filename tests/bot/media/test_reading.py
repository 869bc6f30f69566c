"""Reading photos: display spellings and seven-segment look-alikes normalized to the KB's codes
(and never guessed between two), models and nameplate serials, on the sample KB's code matcher;
and the real OCR on photos from the benchmark set, including the binarized second pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue.ports import Mentions
from bot.media.codes import FindMentions, normalize_display, read_text, serials
from bot.media.ocr import PhotoReader, RapidOcr
from bot.media.replies import what_was_read, with_photo_text
from core.messages import InboundMessage
from knowledge_base.loader import read_knowledge_base
from knowledge_base.text import CodeMatcher

ROOT = Path(__file__).resolve().parents[3]
IMAGES = ROOT / "bench" / "data" / "images"


@pytest.fixture(scope="module")
def mentions() -> FindMentions:
    """The sample KB's matcher (E01, E02, E05, E07, E09, E09-1..3; BM-2, BM-3) plus F01, so that
    a `6` that may be an E or an F is ambiguous for 01."""
    kb = read_knowledge_base(ROOT / "bench/data/sample/kb-sample.yaml")
    codes = [code for fault in kb.faults for code in fault.codes] + ["F01"]
    matcher = CodeMatcher(codes, {p.id: p.aliases for p in kb.products})

    def find(text: str) -> Mentions:
        found = matcher.find(text)
        return Mentions(frozenset(found.products), frozenset(found.codes))

    return find


@pytest.mark.parametrize(
    ("lines", "codes"),
    [
        (["故障代码 BM-2", "Er 05"], ("E05",)),  # the display's "error" prefix
        (["Err-07"], ("E07",)),
        (["E-02"], ("E02",)),
        (["EO7"], ("E07",)),  # O for 0
        (["E0S"], ("E05",)),  # S for 5
        (["8-07"], ()),  # 8 may be B or A, never E
        (["6-05"], ("E05",)),  # 6 may be E, F or G: only E05 is known
        (["6-01"], ()),  # E01 and F01 equally near: no guess
        (["E2"], ("E02",)),  # as typed: the KB's matcher takes E2 for E02
        (["E207"], ()),  # but E207 is no E02
        (["HX37-202411-9048"], ()),  # a serial is no code
    ],
)
def test_codes_from_display_text(
    mentions: FindMentions, lines: list[str], codes: tuple[str, ...]
) -> None:
    assert read_text(lines, mentions).codes == codes


def test_display_prefix_is_rewritten_only_before_digits() -> None:
    assert normalize_display("Er 05 / ERR-21 / Error") == "E 05 / E-21 / Error"


def test_models_and_the_labelled_serial_come_first(mentions: FindMentions) -> None:
    lines = ["型号Model", "BM-3", "电话 0571-88886666", "出厂编号S/N", "BM3-202103-7559", "2023-03"]
    reading = read_text(lines, mentions)
    assert reading.products == ("BM-3",) and reading.codes == ()
    assert reading.serials[0] == "BM3-202103-7559"
    assert "2023-03" not in reading.serials
    assert serials(["BM-3"], ["BM-3"]) == ()  # the model itself is no serial


def test_what_was_read_is_said_and_taken_as_typed(mentions: FindMentions) -> None:
    reading = read_text(["Er05", "BM-2"], mentions)
    assert what_was_read(reading, "en") == "I can see E05 on the display."
    assert what_was_read(reading, "zh") == "我在照片上看到显示屏上的代码 E05。"
    message = InboundMessage(
        channel="t", sender_id="s", message_id="m", text="还是不行", attachments=[{"type": "image"}]
    )
    assert with_photo_text(message, reading).text == "还是不行 E05 BM-2"
    nothing = read_text([], mentions)
    assert "type the code" in what_was_read(nothing, "en")


@pytest.fixture(scope="module")
def reader(mentions: FindMentions) -> PhotoReader:
    return PhotoReader(RapidOcr(), mentions)


@pytest.mark.parametrize(
    ("photo", "code"),
    [
        ("034-lcd.jpg", "E01"),  # "Er 01" on a text LCD
        ("056-7seg.jpg", "E02"),  # seven-segment: read on the binarized pass
        ("080-illegible.jpg", None),
    ],
)
def test_real_ocr_reads_the_benchmark_photos(
    reader: PhotoReader, photo: str, code: str | None
) -> None:
    reading = reader.read([(IMAGES / photo).read_bytes()])
    assert reading.codes == ((code,) if code else ())
    assert reading.photos == 1
