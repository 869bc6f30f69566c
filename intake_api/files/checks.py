"""What an attachment really is, from its bytes: size and type limits, the declared type
checked against the bytes, images decoded and re-encoded (which drops EXIF and GPS).

Every refusal is a typed 4xx with a message that says what was wrong: 413 too large, 415 a type
not taken or not what was declared, 422 an image that does not decode.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

import filetype  # type: ignore[import-untyped]
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import PayloadTooLarge, ServiceError, Unprocessable, UnsupportedMediaType

# Pillow refuses images over this many pixels (decompression bombs) with an error we turn 4xx.
MAX_PIXELS = 40_000_000
KIND_OF_TOP_TYPE = {"image": "image", "audio": "voice"}
# Types a phone's voice note arrives as, besides audio/*.
VOICE_TYPES = {"video/mp4", "video/webm", "video/3gpp"}


class CorruptFile(ServiceError):
    status_code = 422
    code = "corrupt_file"


@dataclass(frozen=True)
class CheckedFile:
    """An attachment's bytes as stored (images re-encoded) and what they are."""

    data: bytes
    content_type: str
    kind: str


def decode_base64(text: str, max_bytes: int) -> bytes:
    """The bytes of a `data_base64` (a `data:` URL prefix is taken too)."""
    if text.startswith("data:"):
        text = text.partition(",")[2]
    if len(text) * 3 // 4 > max_bytes + 3:
        raise PayloadTooLarge(f"attachment larger than the limit of {max_bytes} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unprocessable(f"data_base64 is not valid base64: {exc}") from exc


def check(
    data: bytes,
    *,
    kind: str,
    declared: str | None,
    max_bytes: int,
    allowed: list[str],
) -> CheckedFile:
    """`data` as it will be stored, or the 4xx that says why it is refused."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"attachment of {len(data)} bytes is larger than the limit of {max_bytes}",
            max_bytes=max_bytes,
        )
    found = filetype.guess_mime(data)
    if found is None or found not in allowed:
        raise UnsupportedMediaType(
            f"the attachment's bytes are {found or 'of no known type'}; taken: {', '.join(allowed)}"
        )
    _check_declared(found, kind=kind, declared=declared)
    if found.startswith("image/"):
        data, found = reencode(data)
    return CheckedFile(data=data, content_type=found, kind=kind)


def _check_declared(found: str, *, kind: str, declared: str | None) -> None:
    """415 when the declared content type or attachment type is not what the bytes are."""
    if declared and declared.split(";")[0].strip().lower() != found:
        raise UnsupportedMediaType(f"declared {declared} but the bytes are {found}")
    top = found.split("/")[0]
    is_kind = {
        "image": top == "image",
        "voice": top == "audio" or found in VOICE_TYPES,
        "file": True,
    }[kind]
    if not is_kind:
        raise UnsupportedMediaType(f"declared a {kind} but the bytes are {found}")


def reencode(data: bytes) -> tuple[bytes, str]:
    """The image decoded, turned upright, and saved anew without its metadata (EXIF, GPS, XMP,
    comments): PNG stays PNG, everything else becomes JPEG."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise CorruptFile(f"image of {opened.width}x{opened.height} pixels is too large")
            opened.load()
            upright = ImageOps.exif_transpose(opened)
            is_png = opened.format == "PNG"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CorruptFile(f"the image cannot be decoded: {exc}") from exc
    image = upright.convert("RGBA" if is_png else "RGB")
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    out = io.BytesIO()
    if is_png:
        clean.save(out, "PNG", optimize=True)
        return out.getvalue(), "image/png"
    clean.save(out, "JPEG", quality=90)
    return out.getvalue(), "image/jpeg"
