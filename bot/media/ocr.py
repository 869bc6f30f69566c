"""Reading the text on a customer's photo: RapidOCR (PP-OCRv4 detection and recognition models
shipped inside the `rapidocr-onnxruntime` wheel, run by onnxruntime on the CPU; nothing is
downloaded at run time). Chosen over Tesseract `chi_sim` by measurement: docs/benchmarks/media.md.

A photo is read as sent; when that finds no alarm code, once more binarized (Otsu threshold on
the brightest channel, the thin strokes thickened): on seven-segment displays the unlit
segments otherwise make every digit an `8`.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageFilter

from bot.media.codes import FindMentions, PhotoText, read_text

# The detector's input: longest side in pixels (RapidOCR's default scales the *shortest* side
# up to 736, which makes a phone photo cost seconds).
DETECT_SIDE = 640
# Photos are scaled down to this before anything else (a 12 MP phone photo is mostly wasted).
MAX_SIDE = 1280


class TextReader(Protocol):
    """An OCR engine: the text lines it finds in an RGB image."""

    def lines(self, image: np.ndarray[Any, Any]) -> list[str]: ...


class RapidOcr:
    """RapidOCR with the packaged models, loaded on first use, one photo at a time."""

    def __init__(self, *, threads: int = 1, detect_side: int = DETECT_SIDE) -> None:
        self.threads = threads
        self.detect_side = detect_side
        self._engine: Any = None
        self._lock = threading.Lock()

    def lines(self, image: np.ndarray[Any, Any]) -> list[str]:
        with self._lock:
            if self._engine is None:
                self._engine = self._load()
            result, _ = self._engine(image, use_cls=False)
        return [str(box[1]) for box in result or []]

    def _load(self) -> Any:
        from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]  # on first photo

        return RapidOCR(
            det_limit_type="max",
            det_limit_side_len=self.detect_side,
            intra_op_num_threads=self.threads,
            inter_op_num_threads=1,
        )


class PhotoReader:
    """Reads customer photos into codes, models and serials the knowledge base knows."""

    def __init__(self, reader: TextReader, mentions: FindMentions) -> None:
        self.reader = reader
        self.mentions = mentions

    def read(self, photos: Sequence[bytes]) -> PhotoText:
        """What all `photos` show together (CPU-bound: run it in a worker thread)."""
        reading = PhotoText()
        for photo in photos:
            reading = reading.merged(self.read_one(decode(photo)))
        return reading

    def read_one(self, image: Image.Image) -> PhotoText:
        """One photo: as sent, then binarized unless a code or a nameplate's serial was read
        (only the codes of the second pass count when the first read anything)."""
        first = read_text(self.reader.lines(np.asarray(image)), self.mentions)
        if first.codes or first.serials:
            return first
        second = read_text(self.reader.lines(np.asarray(binarize(image))), self.mentions)
        if first.legible:
            second = PhotoText(lines=second.lines, codes=second.codes)
        return replace(first.merged(second), photos=1)


def decode(photo: bytes) -> Image.Image:
    """The photo as RGB, no larger than `MAX_SIDE` (raises `PIL.UnidentifiedImageError` or
    `OSError` on bytes that are not a readable image)."""
    opened = Image.open(io.BytesIO(photo))
    opened.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale
    image = opened.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def binarize(image: Image.Image) -> Image.Image:
    """Dark text on white: the brightest channel split at its Otsu threshold, the minority side
    taken as the text (lit segments on a dark LED, dark ones on an LCD)."""
    brightest = np.asarray(image).max(axis=2)
    text = brightest > otsu_threshold(brightest)
    if text.mean() > 0.5:
        text = ~text
    ink = Image.fromarray(np.where(text, 0, 255).astype(np.uint8))
    return ink.filter(ImageFilter.MinFilter(3)).convert("RGB")


def otsu_threshold(gray: np.ndarray[Any, Any]) -> int:
    """The grey level that best splits `gray` into two classes (Otsu's method)."""
    share = np.bincount(gray.ravel(), minlength=256) / gray.size
    below = np.cumsum(share)
    mean_below = np.cumsum(share * np.arange(256))
    between = (mean_below[-1] * below - mean_below) ** 2 / (below * (1 - below) + 1e-12)
    return int(np.argmax(between))
