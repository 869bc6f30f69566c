"""How well the bot reads customers' photos: the OCR, the code normalization and the answer.

    python bench/media_ocr.py [--engine rapidocr|tesseract] [--no-bot] [--json]

Over the labelled photo set `bench/data/images` (made by `bench/make_display_images.py`), with
one knowledge base holding the demo KB and the sample KB (whose codes and models the photos
show). Per photo: the codes read (after normalization) against the label, and the bot's answer
to the photo alone (what it read, taken as typed) against the labelled KB item. Scores:

- `code_exact`: the codes read are exactly the labelled one (none, for nameplates and
  illegible photos);
- `right_item_when_code`: of the photos a code was read from, the bot answered from the
  labelled KB item;
- `wrong_answers`: the bot answered from an item that is not the labelled one (any item, when
  the label has none), over all photos;
- `ocr_p50_ms` / `ocr_p90_ms`: the reading of one photo, OCR passes and normalization, wall
  clock; `ocr_cpu_p50_ms`: the CPU time it took (what the wall clock would be on an idle core).

`--engine tesseract` reads with Tesseract (Debian's `tesseract-ocr-chi-sim`, through
pytesseract) instead of RapidOCR: the measurement the choice was made by.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.kb_growth import gather  # noqa: E402
from bot.dialogue.engine import DialogueEngine  # noqa: E402
from bot.media.codes import PhotoText  # noqa: E402
from bot.media.ocr import PhotoReader, RapidOcr, TextReader  # noqa: E402
from bot.media.replies import with_photo_text  # noqa: E402
from core.database import create_engine, session_factory, unit_of_work  # noqa: E402
from core.messages import Answer, InboundMessage  # noqa: E402
from intake_api.cli.bot import build_dialogue  # noqa: E402
from intake_api.storage.migrate import migrate  # noqa: E402

IMAGES = ROOT / "bench/data/images"
KBS = [ROOT / "knowledge_base/demo", ROOT / "bench/data/sample/kb-sample.yaml"]


class TesseractReader:
    """Tesseract 5 with Simplified Chinese and English, one block of text per photo."""

    def lines(self, image: np.ndarray[Any, Any]) -> list[str]:
        import pytesseract  # type: ignore[import-untyped]
        from PIL import Image

        text = pytesseract.image_to_string(
            Image.fromarray(image), lang="chi_sim+eng", config="--psm 6"
        )
        return [line.strip() for line in text.splitlines() if line.strip()]


def read_labels(folder: Path) -> list[dict[str, Any]]:
    lines = (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


async def answer(dialogue: DialogueEngine, sessions: Any, number: int, photo: PhotoText) -> Answer:
    """The bot's answer to a photo sent alone, as a new conversation."""
    inbound = InboundMessage(
        channel="bench", sender_id=f"p{number}", message_id=f"p{number}", text="", lang="zh",
        attachments=[{"type": "image"}],
    )  # fmt: skip
    read = with_photo_text(inbound, photo)
    reading = await asyncio.to_thread(dialogue.read, read)
    reading.photo = photo
    async with unit_of_work(sessions) as session:
        return await dialogue.handle(session, read, reading)


async def run(engine_name: str, with_bot: bool, folder: Path) -> dict[str, Any]:
    labels = read_labels(folder)
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        dialogue = build_dialogue(gather(KBS, work / "kb"), work)
        reader: TextReader = TesseractReader() if engine_name == "tesseract" else RapidOcr()
        photos = PhotoReader(reader, dialogue.knowledge.mentions)
        photos.read([(folder / labels[0]["file"]).read_bytes()])  # load the models
        db = create_engine(f"sqlite+aiosqlite:///{work / 'bench.db'}")
        await migrate(db)
        sessions = session_factory(db)
        rows = []
        for number, label in enumerate(labels):
            started, cpu = time.perf_counter(), time.process_time()
            photo = photos.read([(folder / label["file"]).read_bytes()])
            elapsed = time.perf_counter() - started
            row = score(label, photo, elapsed, time.process_time() - cpu)
            turn = await answer(dialogue, sessions, number, photo) if with_bot else None
            rows.append(row | score_answer(label, turn))
        await db.dispose()
    return summary(engine_name, rows, with_bot)


def score(label: dict[str, Any], photo: PhotoText, seconds: float, cpu: float) -> dict:
    """The reading of one photo against its label."""
    expected = [label["code"]] if label["code"] else []
    return {
        "file": label["file"],
        "kind": label["kind"],
        "code_exact": list(photo.codes) == expected,
        "code_read": bool(photo.codes),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "serial_exact": label["serial"] is None or label["serial"] in photo.serials,
        "read": list(photo.codes) + list(photo.products) + list(photo.serials),
    }


def score_answer(label: dict[str, Any], turn: Answer | None) -> dict:
    """The bot's answer to the photo against the labelled KB item (none with --no-bot)."""
    item = turn.kb_hits[0].id if turn is not None and turn.action == "answer" else None
    return {
        "answered": item,
        "right_item": item is not None and item == label["kb_item"],
        "wrong": item is not None and item != label["kb_item"],
    }


def summary(engine_name: str, rows: list[dict[str, Any]], with_bot: bool) -> dict[str, Any]:
    """The scores over all photos (the bot's only when it ran)."""
    times = sorted(row["seconds"] for row in rows)
    cpu = sorted(row["cpu_seconds"] for row in rows)
    read_codes = [row for row in rows if row["code_read"]]
    nameplates = [row for row in rows if row["kind"] == "nameplate"]
    return {
        "engine": engine_name,
        "photos": len(rows),
        "code_exact": round(statistics.mean(row["code_exact"] for row in rows), 4),
        "right_item_when_code": round(statistics.mean(row["right_item"] for row in read_codes), 4)
        if read_codes and with_bot
        else None,
        "wrong_answers": round(statistics.mean(row["wrong"] for row in rows), 4)
        if with_bot
        else None,
        "serial_exact": round(statistics.mean(r["serial_exact"] for r in nameplates), 4),
        "ocr_p50_ms": round(1000 * times[len(times) // 2], 1),
        "ocr_p90_ms": round(1000 * times[int(len(times) * 0.9)], 1),
        "ocr_cpu_p50_ms": round(1000 * cpu[len(cpu) // 2], 1),  # the process's CPU time
        "by_kind": {
            kind: round(statistics.mean(r["code_exact"] for r in rows if r["kind"] == kind), 4)
            for kind in sorted({row["kind"] for row in rows})
        },
        "misses": [
            {k: row[k] for k in ("file", "read", "answered")}
            for row in rows
            if not row["code_exact"] or row["wrong"]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["rapidocr", "tesseract"], default="rapidocr")
    parser.add_argument("--images", type=Path, default=IMAGES)
    parser.add_argument("--no-bot", action="store_true", help="score the reading only")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args()
    report = asyncio.run(run(args.engine, not args.no_bot, args.images))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for key, value in report.items():
        if key != "misses":
            print(f"{key}: {value}")
    for miss in report["misses"]:
        print("miss:", json.dumps(miss, ensure_ascii=False))


if __name__ == "__main__":
    main()
