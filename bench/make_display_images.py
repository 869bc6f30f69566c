"""Makes the photo set of controller displays and nameplates that `bench/media_ocr.py` scores
the photo reading on (`bench/data/images/`, one small JPEG each, and `labels.jsonl`).

    python bench/make_display_images.py [--out bench/data/images] [--seed 14]

The set is committed, so the benchmark runs without this script; regenerating needs the fonts
of Debian's `fonts-dejavu-core` and `fonts-noto-cjk`. Every alarm code and model is one the demo
KB (`knowledge_base/demo`) or the sample KB (`bench/data/sample/kb-sample.yaml`) knows, so the
bot's answer to what was read can be checked against `kb_item`.

Kinds: text LCDs in several fonts, seven-segment displays drawn from polygons (where 0/O, 5/S,
8/B look alike), nameplates with model and serial, composed "real-looking" photos of a panel on
a machine, and a few photos with nothing legible. Each is degraded by some of blur, glare,
rotation, noise and JPEG quality.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[1]
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
NOTO = Path("/usr/share/fonts/opentype/noto")
LATIN_FONTS = [
    DEJAVU / "DejaVuSansMono-Bold.ttf",
    DEJAVU / "DejaVuSans-Bold.ttf",
    DEJAVU / "DejaVuSerif.ttf",
    DEJAVU / "DejaVuSansCondensed.ttf",
    DEJAVU / "DejaVuSansMono.ttf",
]
CJK_FONTS = [NOTO / "NotoSansCJK-Regular.ttc", NOTO / "NotoSerifCJK-Regular.ttc"]
CJK_INDEX = 2  # Simplified Chinese face in the Noto CJK collections

# (code as the KB spells it, how a display shows it, KB item, a model of that line, KB)
CODES: list[tuple[str, str, str, str, str]] = [
    ("A-112", "A-112", "F-HX-A112", "HX-37", "demo"),
    ("A-121", "A 121", "F-HX-A121", "HX-75", "demo"),
    ("A-105", "A-105", "F-HX-A105", "HX-37", "demo"),
    ("A-118", "A118", "F-HX-A118", "HX-75", "demo"),
    ("A-125", "A-125", "F-HX37-A125", "HX-37", "demo"),
    ("A-141", "A-141", "F-HX37-A141", "HX-37", "demo"),
    ("A-131", "A-131", "F-HX75-A131", "HX-75", "demo"),
    ("A-133", "A-133", "F-HX75-A133", "HX-75", "demo"),
    ("A-150", "A-150", "F-HX-A150", "HX-37", "demo"),
    ("A-160", "A-160", "F-HX-A160", "HX-75", "demo"),
    ("F07", "F-07", "F-LF-F07", "LF-3015", "demo"),
    ("F03", "F03", "F-LF-F03", "LF-3015", "demo"),
    ("F09", "F 09", "F-LF-F09", "LF-6025", "demo"),
    ("F12", "F12", "F-LF-F12", "LF-3015", "demo"),
    ("F40", "F40", "F-LF-F40", "LF-6025", "demo"),
    ("F15", "F-15", "F-LF-F15", "LF-3015", "demo"),
    ("F16", "F16", "F-LF-F16", "LF-6025", "demo"),
    ("F18", "F18", "F-LF-F18", "LF-3015", "demo"),
    ("F21", "F 21", "F-LF-F21", "LF-6025", "demo"),
    ("F30", "F30", "F-LF-F30", "LF-6025", "demo"),
    ("F25", "F25", "F-LF6025-F25", "LF-6025", "demo"),
    ("AL12", "AL12", "F-VM-AL12", "VM-850", "demo"),
    ("AL21", "AL 21", "F-VM-AL21", "VM-1160", "demo"),
    ("AL35", "AL-35", "F-VM-AL35", "VM-850", "demo"),
    ("AL40", "AL40", "F-VM-AL40", "VM-1160", "demo"),
    ("AL41", "AL41", "F-VM-AL41", "VM-850", "demo"),
    ("AL33", "AL-33", "F-VM-AL33", "VM-1160", "demo"),
    ("AL05", "AL05", "F-VM-AL05", "VM-850", "demo"),
    ("AL50", "AL 50", "F-VM-AL50", "VM-1160", "demo"),
    ("AL60", "AL60", "F-VM-AL60", "VM-850", "demo"),
    ("AL80", "AL80", "F-VM-AL80", "VM-1160", "demo"),
    ("AL82", "AL-82", "F-VM-AL82", "VM-850", "demo"),
    ("AL70", "AL70", "F-VM-AL70", "VM-1160", "demo"),
    ("E01", "Er 01", "F-BM-E01", "BM-2", "sample"),
    ("E02", "E-02", "F-BM-E02", "BM-3", "sample"),
    ("E05", "Er05", "F-BM-E05", "BM-2", "sample"),
    ("E07", "E-07", "F-BM-E07", "BM-3", "sample"),
    ("E09", "E09", "F-BM3-E09", "BM-3", "sample"),
]
SERIAL_PREFIX = {"HX": "HX", "LF": "LF", "VM": "VM", "BM": "BM"}

SEGMENTS = {
    "0": "abcdef", "1": "bc", "2": "abged", "3": "abgcd", "4": "fgbc", "5": "afgcd",
    "6": "afgedc", "7": "abc", "8": "abcdefg", "9": "abcdfg", "A": "abcefg", "b": "cdefg",
    "C": "adef", "d": "bcdeg", "E": "adefg", "F": "aefg", "H": "bcefg", "L": "def",
    "r": "eg", "P": "abefg", "-": "g", " ": "",
}  # fmt: skip


@dataclass
class Label:
    """What a photo shows: the code as the KB spells it, the model, the serial, the KB item the
    bot should answer from, and how it was made."""

    file: str
    kb: str
    kind: str
    shown: str
    code: str | None
    model: str | None
    serial: str | None
    kb_item: str | None
    degradations: list[str]


def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    index = CJK_INDEX if path.suffix == ".ttc" else 0
    return ImageFont.truetype(str(path), size, index=index)


def seven_segment(
    text: str,
    *,
    height: int,
    on: tuple[int, int, int],
    off: tuple[int, int, int],
    background: tuple[int, int, int],
    slant: float,
) -> Image.Image:
    """`text` as a seven-segment display would show it (unlit segments faintly visible)."""
    width = int(height * 0.55)
    thick = max(3, height // 9)
    gap = max(1, thick // 4)
    pitch = width + thick * 2
    image = Image.new("RGB", (pitch * len(text) + thick * 4, height + thick * 4), background)
    draw = ImageDraw.Draw(image)
    for position, char in enumerate(text):
        x0, y0 = thick * 2 + position * pitch, thick * 2
        for name, polygon in _segment_polygons(x0, y0, width, height, thick, gap).items():
            lit = name in SEGMENTS.get(char, "")
            skewed = [(x + (y0 + height - y) * slant, y) for x, y in polygon]
            draw.polygon(skewed, fill=on if lit else off)
    return image


def _segment_polygons(x: int, y: int, w: int, h: int, t: int, g: int) -> dict[str, list]:
    """The seven hexagonal segments of one digit cell."""
    half = t / 2
    mid = y + h / 2

    def horizontal(cy: float) -> list[tuple[float, float]]:
        return [
            (x + g, cy),
            (x + g + half, cy - half),
            (x + w - g - half, cy - half),
            (x + w - g, cy),
            (x + w - g - half, cy + half),
            (x + g + half, cy + half),
        ]

    def vertical(cx: float, top: float, bottom: float) -> list[tuple[float, float]]:
        return [
            (cx, top + g),
            (cx + half, top + g + half),
            (cx + half, bottom - g - half),
            (cx, bottom - g),
            (cx - half, bottom - g - half),
            (cx - half, top + g + half),
        ]

    return {
        "a": horizontal(y),
        "g": horizontal(mid),
        "d": horizontal(y + h),
        "f": vertical(x, y, mid),
        "b": vertical(x + w, y, mid),
        "e": vertical(x, mid, y + h),
        "c": vertical(x + w, mid, y + h),
    }


def lcd(
    lines: list[tuple[str, Path, int]],
    *,
    size: tuple[int, int],
    fg: tuple[int, int, int],
    bg: tuple[int, int, int],
) -> Image.Image:
    """A character or graphic LCD showing `lines` (text, font, size)."""
    image = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(image)
    y = 14
    for text, path, points in lines:
        draw.text((18, y), text, font=font(path, points), fill=fg)
        y += int(points * 1.45)
    return image


def glare(image: Image.Image, rng: random.Random) -> Image.Image:
    """A soft white reflection across part of the glass."""
    w, h = image.size
    mask = Image.new("L", image.size, 0)
    cx, cy = rng.randint(0, w), rng.randint(0, h // 2)
    radius = rng.randint(w // 6, w // 3)
    ImageDraw.Draw(mask).ellipse(
        (cx - radius, cy - radius // 2, cx + radius, cy + radius // 2), fill=rng.randint(90, 150)
    )
    mask = mask.filter(ImageFilter.GaussianBlur(radius // 2))
    return Image.composite(Image.new("RGB", image.size, (255, 255, 250)), image, mask)


def noise(image: Image.Image, rng: random.Random) -> Image.Image:
    grain = Image.effect_noise(image.size, rng.randint(10, 25)).convert("RGB")
    return Image.blend(image, grain, 0.12)


def degrade(image: Image.Image, rng: random.Random, wanted: list[str]) -> Image.Image:
    """Apply the named degradations in a fixed order."""
    if "glare" in wanted:
        image = glare(image, rng)
    if "rotate" in wanted:
        image = image.rotate(
            rng.uniform(-9, 9),
            resample=Image.Resampling.BICUBIC,
            expand=True,
            fillcolor=(70, 72, 75),
        )
    if "blur" in wanted:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.6)))
    if "noise" in wanted:
        image = noise(image, rng)
    return image


def pick_degradations(rng: random.Random) -> list[str]:
    return [d for d in ("blur", "glare", "rotate", "noise") if rng.random() < 0.4]


def display_text_photo(rng: random.Random, shown: str, model: str) -> Image.Image:
    palette = rng.choice(
        [
            ((25, 40, 20), (150, 190, 110)),
            ((235, 240, 255), (30, 60, 160)),
            ((255, 90, 60), (15, 15, 18)),
            ((255, 190, 40), (20, 20, 20)),
        ]
    )
    latin = rng.choice(LATIN_FONTS)
    header = rng.choice(
        [
            ("ALARM", latin),
            ("报警", rng.choice(CJK_FONTS)),
            ("FAULT", latin),
            ("故障代码", rng.choice(CJK_FONTS)),
        ]
    )
    lines = [(f"{header[0]}  {model}", header[1], 24), (shown, latin, rng.randint(44, 60))]
    return lcd(lines, size=(420, 170), fg=palette[0], bg=palette[1])


def seven_segment_photo(rng: random.Random, shown: str) -> Image.Image:
    on, off, background = rng.choice(
        [
            ((255, 40, 30), (45, 12, 12), (20, 8, 8)),
            ((60, 255, 90), (10, 40, 15), (6, 16, 8)),
            ((25, 25, 25), (150, 160, 140), (170, 180, 160)),
            ((255, 170, 30), (50, 35, 10), (18, 14, 8)),
        ]
    )
    face = seven_segment(
        shown.replace(" ", ""),
        height=rng.randint(60, 80),
        on=on,
        off=off,
        background=background,
        slant=rng.choice([0.0, 0.08, 0.12]),
    )
    frame = Image.new("RGB", (face.width + 40, face.height + 40), (55, 58, 62))
    frame.paste(face, (20, 20))
    return frame


def nameplate_photo(rng: random.Random, model: str, serial: str) -> Image.Image:
    cjk, latin = rng.choice(CJK_FONTS), rng.choice(LATIN_FONTS)
    image = Image.new("RGB", (460, 250), rng.choice([(200, 202, 205), (225, 215, 170)]))
    draw = ImageDraw.Draw(image)
    draw.rectangle((6, 6, 453, 243), outline=(60, 60, 60), width=3)
    draw.text((24, 16), "汉霖工业 Hanlin Industrial", font=font(cjk, 22), fill=(20, 20, 20))
    rows = [
        ("型号 Model", model),
        ("出厂编号 S/N", serial),
        ("电压 Voltage", "380V 50Hz"),
        ("出厂日期 Date", f"20{rng.randint(21, 25)}-{rng.randint(1, 12):02d}"),
    ]
    for number, (name, value) in enumerate(rows):
        y = 62 + number * 44
        draw.text((24, y), name, font=font(cjk, 20), fill=(40, 40, 40))
        draw.text((220, y - 2), value, font=font(latin, 24), fill=(10, 10, 10))
    return image


def composed_photo(rng: random.Random, shown: str, model: str) -> Image.Image:
    """A panel on a machine: painted housing with uneven light, the display in a bezel, a model
    badge, screws; slightly skewed as a hand-held photo is."""
    body = rng.choice([(40, 90, 150), (215, 215, 210), (230, 140, 30), (60, 120, 80)])
    photo = Image.new("RGB", (560, 400), body)
    shade = Image.linear_gradient("L").resize(photo.size).rotate(rng.choice([0, 90, 180, 270]))
    photo = Image.composite(
        photo, Image.new("RGB", photo.size, (0, 0, 0)), shade.point(lambda v: 140 + v // 3)
    )
    draw = ImageDraw.Draw(photo)
    draw.rounded_rectangle((60, 70, 500, 300), radius=14, fill=(30, 30, 32))
    inner = (
        seven_segment_photo(rng, shown)
        if rng.random() < 0.5
        else display_text_photo(rng, shown, model)
    )
    inner.thumbnail((400, 200))
    photo.paste(inner, (80 + (360 - inner.width) // 2, 90 + (190 - inner.height) // 2))
    for x, y in ((70, 80), (490, 80), (70, 290), (490, 290)):
        draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=(150, 150, 150))
    draw.text((70, 320), model, font=font(rng.choice(LATIN_FONTS), 26), fill=(245, 245, 245))
    skew = rng.uniform(-0.08, 0.08)
    photo = photo.transform(
        photo.size,
        Image.Transform.AFFINE,
        (1, skew, -skew * 200, 0, 1, 0),
        resample=Image.Resampling.BICUBIC,
        fillcolor=(50, 50, 50),
    )
    return photo


def illegible_photo(rng: random.Random) -> Image.Image:
    """A broken part or a display too dark and blurred to read."""
    photo = Image.new("RGB", (480, 320), (rng.randint(60, 120),) * 3)
    draw = ImageDraw.Draw(photo)
    for _ in range(12):
        x, y = rng.randint(0, 440), rng.randint(0, 280)
        color = tuple(rng.randint(30, 200) for _ in range(3))
        draw.ellipse((x, y, x + rng.randint(20, 120), y + rng.randint(20, 90)), fill=color)
    return noise(photo.filter(ImageFilter.GaussianBlur(6)), rng)


def serial_for(model: str, rng: random.Random) -> str:
    prefix = model.replace("-", "")
    return f"{prefix}-{rng.randint(2021, 2025)}{rng.randint(1, 12):02d}-{rng.randint(1, 9999):04d}"


def make(out: Path, seed: int) -> list[Label]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jpg"):
        old.unlink()
    labels: list[Label] = []

    def save(image: Image.Image, kind: str, label: dict, wanted: list[str]) -> None:
        quality = rng.choice([40, 55, 70, 85])
        name = f"{len(labels) + 1:03d}-{kind}.jpg"
        image.convert("RGB").save(out / name, "JPEG", quality=quality)
        labels.append(Label(file=name, kind=kind, degradations=[*wanted, f"q{quality}"], **label))

    for code, shown, item, model, kb in CODES:  # one text LCD per code
        wanted = pick_degradations(rng)
        image = degrade(display_text_photo(rng, shown, model), rng, wanted)
        save(
            image,
            "lcd",
            dict(kb=kb, shown=shown, code=code, model=model, serial=None, kb_item=item),
            wanted,
        )
    for code, shown, item, _model, kb in CODES[::2] + CODES[1::6]:  # seven-segment
        wanted = pick_degradations(rng)
        image = degrade(seven_segment_photo(rng, shown), rng, wanted)
        save(
            image,
            "7seg",
            dict(kb=kb, shown=shown, code=code, model=None, serial=None, kb_item=item),
            wanted,
        )
    for code, shown, item, model, kb in CODES[3::5]:  # composed, real-looking
        wanted = [d for d in ("glare", "noise") if rng.random() < 0.6]
        image = degrade(composed_photo(rng, shown, model), rng, wanted)
        save(
            image,
            "photo",
            dict(kb=kb, shown=shown, code=code, model=model, serial=None, kb_item=item),
            wanted,
        )
    for model in ("HX-37", "HX-75", "LF-3015", "LF-6025", "VM-850", "VM-1160", "BM-2", "BM-3"):
        serial = serial_for(model, rng)
        wanted = [d for d in ("glare", "rotate", "blur") if rng.random() < 0.35]
        image = degrade(nameplate_photo(rng, model, serial), rng, wanted)
        kb = "sample" if model.startswith("BM") else "demo"
        save(
            image,
            "nameplate",
            dict(kb=kb, shown=model, code=None, model=model, serial=serial, kb_item=None),
            wanted,
        )
    for _ in range(4):
        save(
            illegible_photo(rng),
            "illegible",
            dict(kb="demo", shown="", code=None, model=None, serial=None, kb_item=None),
            ["blur"],
        )
    with (out / "labels.jsonl").open("w", encoding="utf-8") as file:
        for label in labels:
            file.write(json.dumps(asdict(label), ensure_ascii=False) + "\n")
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench/data/images")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    labels = make(args.out, args.seed)
    size = sum(p.stat().st_size for p in args.out.glob("*.jpg"))
    print(f"{len(labels)} images, {size / 1e6:.2f} MB in {args.out}")


if __name__ == "__main__":
    main()
