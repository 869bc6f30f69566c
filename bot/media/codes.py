"""What a photo's text says to the diagnosis: the KB's alarm codes, models and nameplate serials.

OCR reads displays imperfectly: a controller shows `Er 05` for E05 or `AL-35` for AL35, and on a
seven-segment display `5`/`S`, `0`/`O`, `8`/`B` (and an `A` or an `E` with their segments) look
alike. Every reading is validated by the knowledge base's code matcher (`mentions`, backed by
`knowledge_base.text.CodeMatcher`): the text as read first, then short code-shaped pieces with the
fewest look-alike substitutions that turn them into one known code. Two known codes equally near
is no reading at all: a wrong code costs more than asking the customer for it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Protocol, TypeVar


class Named(Protocol):
    """What the knowledge base recognizes in a text (the dialogue's `Mentions`)."""

    @property
    def codes(self) -> AbstractSet[str]: ...

    @property
    def products(self) -> AbstractSet[str]: ...


FindMentions = Callable[[str], Named]
T = TypeVar("T")

# What a character OCR read on a display may really be (upper case; the matcher ignores case).
LOOKALIKES: dict[str, str] = {
    "O": "0", "D": "0", "Q": "0", "U": "0", "0": "O",
    "S": "5", "5": "S", "B": "8", "8": "BA", "R": "A", "H": "A",
    "I": "1L", "1": "IL", "L": "1", "|": "1", "!": "1", "J": "1",
    "Z": "2", "2": "Z", "G": "6", "6": "GEF", "T": "7", "£": "E", "€": "E",
}  # fmt: skip
MAX_SUBSTITUTIONS = 2
CODE_PIECE_CHARS = (2, 7)  # a code-shaped piece, separators left out
# `Er 05`, `Err-05`, `ER05`: the display's way of saying error E05.
_ERROR_PREFIX = re.compile(r"(?<![A-Za-z])([Ee])[Rr]{1,2}(?=[\s\-:]*\d)")
# Anything that is neither part of a code nor a separator inside one splits pieces.
_PIECE = re.compile(r"[0-9A-Za-z|!£€](?:[0-9A-Za-z|!£€\-_.: ]*[0-9A-Za-z|!£€])?")
_SEPARATORS = re.compile(r"[\s\-_.:]")
# A serial: letters, digits, dashes, with at least six digits (and not a date).
_SERIAL = re.compile(r"(?<![0-9A-Za-z])[A-Z][A-Z0-9]{0,7}(?:-?[0-9]{2,8}){1,3}(?![0-9A-Za-z])")
_SERIAL_LABEL = re.compile(r"S/?N|SERIAL|序列号|编号|机号", re.IGNORECASE)


@dataclass(frozen=True)
class PhotoText:
    """What was read from a customer's photos: the raw lines, and what the KB recognizes;
    `photos` and `voice_notes` count what came (a voice note is kept, not read)."""

    lines: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    serials: tuple[str, ...] = ()
    photos: int = 0
    voice_notes: int = 0

    @property
    def legible(self) -> bool:
        """Whether anything useful to the diagnosis was read."""
        return bool(self.codes or self.products or self.serials)

    def as_typed(self) -> str:
        """What the customer would have typed to say the same (codes and models)."""
        return " ".join([*self.codes, *self.products])

    def merged(self, other: PhotoText) -> PhotoText:
        """Both readings (of two photos, or two passes over one)."""
        return PhotoText(
            lines=self.lines + other.lines,
            codes=_unique([*self.codes, *other.codes]),
            products=_unique([*self.products, *other.products]),
            serials=_unique([*self.serials, *other.serials]),
            photos=self.photos + other.photos,
            voice_notes=self.voice_notes + other.voice_notes,
        )


def read_text(lines: Sequence[str], mentions: FindMentions) -> PhotoText:
    """The codes, models and serials in the OCR `lines` of one photo."""
    text = normalize_display("\n".join(lines))
    found = mentions(text)
    codes = set(found.codes) or fuzzy_codes(text, mentions)
    return PhotoText(
        lines=tuple(lines),
        codes=tuple(sorted(codes)),
        products=tuple(sorted(found.products)),
        serials=serials(lines, found.products),
        photos=1,
    )


def normalize_display(text: str) -> str:
    """Display spellings as a customer would type them: `Er 05` -> `E05`."""
    return _ERROR_PREFIX.sub(r"\1", text)


def fuzzy_codes(text: str, mentions: FindMentions) -> set[str]:
    """The one known code the fewest look-alike substitutions make of a code-shaped piece; none
    when two codes are equally near."""
    pieces = _code_pieces(text)
    for budget in range(1, MAX_SUBSTITUTIONS + 1):
        found: set[str] = set()
        for piece in pieces:
            for variant in _variants(piece, budget):
                # The whole piece must be the code: `E2` is not E02, nor `E207` E02-then-7.
                found |= {code for code in mentions(variant).codes if _compact(code) == variant}
        if len(found) == 1:
            return found
        if found:
            return set()  # ambiguous: ask rather than guess
    return set()


def _code_pieces(text: str) -> list[str]:
    """Short code-shaped pieces of each line, separators dropped, and of the whole photo when
    OCR split one display into several boxes (`R-` and `150`)."""
    pieces: list[str] = []
    shorts: list[str] = []
    for line in text.splitlines():
        for match in _PIECE.finditer(line):
            compact = _compact(match.group())
            if len(compact) <= CODE_PIECE_CHARS[1]:
                shorts.append(compact)
                if len(compact) >= CODE_PIECE_CHARS[0]:
                    pieces.append(compact)
    joined = "".join(shorts)
    if len(shorts) > 1 and len(joined) <= CODE_PIECE_CHARS[1]:
        pieces.append(joined)
    return list(_unique(pieces))


def _compact(text: str) -> str:
    return _SEPARATORS.sub("", text).upper()


def _variants(piece: str, substitutions: int) -> Iterable[str]:
    """`piece` with exactly `substitutions` characters replaced by their look-alikes."""
    positions = [i for i, char in enumerate(piece) if char in LOOKALIKES]
    for chosen in itertools.combinations(positions, substitutions):
        options = [LOOKALIKES[piece[i]] for i in chosen]
        for replacement in itertools.product(*options):
            chars = list(piece)
            for position, char in zip(chosen, replacement, strict=True):
                chars[position] = char
            yield "".join(chars)


def serials(lines: Sequence[str], products: Iterable[str]) -> tuple[str, ...]:
    """Serial numbers on a nameplate: serial-shaped strings, the one by an `S/N` label first."""
    known = {p.replace("-", "").upper() for p in products}
    found: list[str] = []
    labelled: list[str] = []
    for number, line in enumerate(lines):
        # OCR glues a label to its value ("S/NBM3-202103-7559"): the label goes first.
        for match in _SERIAL.finditer(_SERIAL_LABEL.sub(" ", line).upper()):
            value = match.group()
            if _is_serial(value, known):
                near_label = any(_SERIAL_LABEL.search(lines[i]) for i in _around(number, lines))
                (labelled if near_label else found).append(value)
    return _unique([*labelled, *found])


def _is_serial(value: str, products: set[str]) -> bool:
    digits = sum(char.isdigit() for char in value)
    is_date = re.fullmatch(r"(19|20)\d\d-?\d\d(-?\d\d)?", value) is not None
    return digits >= 6 and not is_date and value.replace("-", "") not in products


def _around(number: int, lines: Sequence[str]) -> range:
    """The line and its neighbours (OCR puts a label and its value in boxes side by side)."""
    return range(max(0, number - 1), min(len(lines), number + 2))


def _unique(values: Iterable[T]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(values))
