"""Call transcripts in the forms call-center systems export, read into one shape: JSON segments,
plain text (`Speaker: text` lines), WebVTT (`<v Speaker>` voice tags or `Speaker:` prefixes) and
SRT. Every problem is a `TranscriptError` naming the line, cue or segment and what is wrong.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from typing import Any

from core.errors import ServiceError

CUSTOMER = "customer"
AGENT = "agent"
MAX_SEGMENTS = 2000
MAX_ID_CHARS = 200

# Speaker labels as transcripts write them (lower case; Chinese labels also match as a prefix,
# so "客服小王" is an agent). Anything else is an unknown speaker.
SPEAKER_WORDS = {
    CUSTOMER: ("customer", "client", "caller", "user", "consumer", "buyer"),
    AGENT: ("agent", "operator", "representative", "rep", "support", "service", "staff",
            "engineer", "technician", "advisor", "csr", "assistant"),
}  # fmt: skip
SPEAKER_PREFIXES = {
    CUSTOMER: ("客户", "客戶", "顾客", "顧客", "用户", "用戶", "来电", "來電", "买家", "買家"),
    AGENT: ("客服", "坐席", "座席", "话务", "話務", "接线", "接線", "工程师", "工程師", "技术支持",
            "技術支持", "售后", "售後"),
}  # fmt: skip

_TIMESTAMP = re.compile(r"^(?:(\d{1,3}):)?([0-5]?\d):([0-5]\d)(?:[.,](\d{1,3}))?$")
_TIMING = re.compile(r"^(\S+)\s+-->\s+(\S+)(?:\s+.*)?$")
_VOICE = re.compile(r"<v(?:\.[^\s>]+)*\s+([^>]+)>", re.IGNORECASE)
_TAG = re.compile(r"</?[^>]*>")
_LEADING_TIME = re.compile(r"^\s*[\[(]?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?[\])]?\s*[-–]?\s*")
# "Label: text": a short label (no sentence punctuation outside a parenthesis) and a colon.
_LABELLED = re.compile(
    r"^([^\s:：,，.。!?！？(（](?:[^:：,，.。!?！？(（]|[(（][^)）]{0,40}[)）]){0,23}?)\s*[:：]\s*(.*)$"
)
_META_KEYS = {"call_id": "call_id", "call-id": "call_id", "call id": "call_id", "caller": "caller"}


class TranscriptError(ServiceError):
    """A transcript that cannot be read (422), naming where and what."""

    status_code = 422
    code = "invalid_transcript"


@dataclass(frozen=True)
class Segment:
    speaker: str  # CUSTOMER or AGENT
    text: str
    start: float | None = None
    end: float | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"speaker": self.speaker, "text": self.text}
        if self.start is not None:
            data["start"] = self.start
        if self.end is not None:
            data["end"] = self.end
        return data


@dataclass
class Transcript:
    """A call: its id, the caller's number or name when known, and who said what, in order."""

    call_id: str
    caller: str | None
    format: str
    segments: list[Segment] = field(default_factory=list)

    def customer_text(self) -> str:
        """Everything the customer said, in order: the request is understood as a whole."""
        return "\n".join(s.text for s in self.segments if s.speaker == CUSTOMER)

    def as_lines(self) -> str:
        return "\n".join(f"{s.speaker}: {s.text}" for s in self.segments)


def speaker_of(label: str) -> str | None:
    """CUSTOMER or AGENT for a speaker label ("Agent 2", "Customer (Mr Li)", "客服小王")."""
    name = re.sub(r"[(（\[].*$", "", label).strip().lower()
    name = re.sub(r"[\s_#-]*\d+$", "", name).strip()
    for speaker, words in SPEAKER_WORDS.items():
        if name in words or name.split(" ", 1)[0] in words:
            return speaker
    for speaker, prefixes in SPEAKER_PREFIXES.items():
        if name.startswith(prefixes):
            return speaker
    return None


def _known_speaker(label: str, where: str) -> str:
    speaker = speaker_of(label)
    if speaker is None:
        raise TranscriptError(
            f"{where}: unknown speaker {label!r}; use customer or agent "
            "(also Customer/Caller/客户, Agent/Operator/客服/坐席)",
            speaker=label,
        )
    return speaker


def seconds_of(value: str, where: str) -> float:
    """Seconds in a `[hh:]mm:ss[.mmm]` timestamp (VTT and SRT; SRT writes a comma)."""
    match = _TIMESTAMP.match(value.strip())
    if not match:
        raise TranscriptError(f"{where}: bad timestamp {value!r}; expected hh:mm:ss.mmm")
    hours, minutes, secs, millis = match.groups()
    fraction = int((millis or "0").ljust(3, "0")) / 1000
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs) + fraction


def _check_times(start: float | None, end: float | None, where: str) -> None:
    for name, value in (("start", start), ("end", end)):
        if value is not None and value < 0:
            raise TranscriptError(f"{where}: `{name}` is negative ({value})")
    if start is not None and end is not None and end < start:
        raise TranscriptError(f"{where}: `end` ({end}) is before `start` ({start})")


def _checked_id(value: object, name: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise TranscriptError(f"`{name}` must be a non-empty string")
    text = str(value).strip()
    if len(text) > MAX_ID_CHARS:
        raise TranscriptError(f"`{name}` is longer than {MAX_ID_CHARS} characters")
    return text


def _finish(transcript: Transcript) -> Transcript:
    if not transcript.segments:
        raise TranscriptError("the transcript has no segments")
    if len(transcript.segments) > MAX_SEGMENTS:
        raise TranscriptError(f"the transcript has more than {MAX_SEGMENTS} segments")
    if not transcript.customer_text().strip():
        raise TranscriptError("the transcript has no customer turns; nothing to understand")
    return transcript


# --- JSON -------------------------------------------------------------------------------------


def _json_time(segment: dict[str, Any], name: str, where: str) -> float | None:
    value = segment.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TranscriptError(f"{where}: `{name}` must be seconds or hh:mm:ss.mmm")
    if isinstance(value, str):
        return seconds_of(value, f"{where} `{name}`")
    if value != value or value in (float("inf"), float("-inf")):
        raise TranscriptError(f"{where}: `{name}` is not a number")
    return float(value)


def _json_segment(segment: object, number: int) -> Segment:
    where = f"segments[{number}]"
    if not isinstance(segment, dict):
        raise TranscriptError(f"{where}: expected an object with `speaker` and `text`")
    label, text = segment.get("speaker"), segment.get("text")
    if not isinstance(label, str) or not label.strip():
        raise TranscriptError(f"{where}: `speaker` is missing (customer or agent)")
    if not isinstance(text, str):
        raise TranscriptError(f"{where}: `text` must be a string")
    start, end = _json_time(segment, "start", where), _json_time(segment, "end", where)
    _check_times(start, end, where)
    return Segment(_known_speaker(label, where), text.strip(), start, end)


def parse_json(body: bytes) -> Transcript:
    """`{"call_id", "caller"?, "segments": [{"speaker", "text", "start"?, "end"?}]}`."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TranscriptError(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise TranscriptError("expected a JSON object with `call_id` and `segments`")
    call_id = _checked_id(data.get("call_id"), "call_id")
    caller = data.get("caller")
    caller = _checked_id(caller, "caller") if caller not in (None, "") else None
    segments = data.get("segments")
    if not isinstance(segments, list):
        raise TranscriptError("`segments` must be a list of {speaker, text} objects")
    parsed = [_json_segment(segment, n) for n, segment in enumerate(segments)]
    return _finish(Transcript(call_id, caller, "json", [s for s in parsed if s.text]))


# --- plain text -------------------------------------------------------------------------------


def _meta(line: str) -> tuple[str, str] | None:
    """`call_id: X` / `caller: Y` header lines."""
    match = _LABELLED.match(line)
    if match and match.group(1).strip().lower() in _META_KEYS:
        return _META_KEYS[match.group(1).strip().lower()], match.group(2).strip()
    return None


def _labelled_lines(lines: list[tuple[str, str]]) -> list[Segment]:
    """Segments from `(where, line)` pairs: `Speaker: text` starts a turn, a line without a
    label continues the one before."""
    segments: list[Segment] = []
    for where, raw in lines:
        line = _LEADING_TIME.sub("", raw).strip()
        if not line:
            continue
        match = _LABELLED.match(line)
        if match:
            speaker = _known_speaker(match.group(1).strip(), where)
            segments.append(Segment(speaker, match.group(2).strip()))
        elif segments:
            last = segments[-1]
            segments[-1] = Segment(last.speaker, f"{last.text} {line}".strip())
        else:
            raise TranscriptError(
                f"{where}: no speaker; start each turn with `Customer:` or `Agent:`"
            )
    return [s for s in segments if s.text]


def parse_text(text: str, call_id: str | None, caller: str | None) -> Transcript:
    """`Speaker: text` lines; `call_id:` and `caller:` lines at the top are read as such."""
    lines = text.splitlines()
    meta: dict[str, str] = {}
    body_from = 0
    for number, line in enumerate(lines):
        found = _meta(line.strip()) if line.strip() else None
        if found is None and line.strip():
            break
        if found is not None:
            meta[found[0]] = found[1]
        body_from = number + 1
    numbered = [(f"line {n + 1}", line) for n, line in enumerate(lines) if n >= body_from]
    segments = _labelled_lines(numbered)
    return _finish(_transcript(text, "text", segments, call_id or meta.get("call_id"),
                               caller or meta.get("caller")))  # fmt: skip


def _transcript(
    raw: str, kind: str, segments: list[Segment], call_id: str | None, caller: str | None
) -> Transcript:
    """A call without an id is identified by its content (so a repeat is recognised)."""
    if call_id:
        call_id = _checked_id(call_id, "call_id")
    else:
        call_id = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()[:32]
    caller = _checked_id(caller, "caller") if caller else None
    return Transcript(call_id, caller, kind, segments)


# --- WebVTT and SRT ---------------------------------------------------------------------------


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks with the number of their first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line.rstrip())
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _cue_segment(payload: list[str], previous: str | None, where: str) -> Segment | None:
    """A cue's text and speaker: a `<v Name>` tag, else a `Name:` prefix, else the speaker
    of the cue before (a long turn split over several cues)."""
    joined = " ".join(payload)
    voice = _VOICE.search(joined)
    label = voice.group(1).strip() if voice else None
    text = html.unescape(_TAG.sub("", joined)).strip()
    if label is None:
        match = _LABELLED.match(text)
        if match and speaker_of(match.group(1).strip()) is not None:
            label, text = match.group(1).strip(), match.group(2).strip()
    if label is not None:
        speaker = _known_speaker(label, where)
    elif previous is not None:
        speaker = previous
    else:
        raise TranscriptError(f"{where}: no speaker; use `<v Customer>` or `Customer:`")
    return Segment(speaker, text) if text else None


def _timed_cues(blocks: list[tuple[int, list[str]]], kind: str) -> list[Segment]:
    segments: list[Segment] = []
    previous: str | None = None
    for number, (line_no, block) in enumerate(blocks, start=1):
        where = f"cue {number} (line {line_no})"
        timing_at = next((i for i, line in enumerate(block[:2]) if "-->" in line), None)
        if timing_at is None:
            raise TranscriptError(f"{where}: no timing line `00:00:01.000 --> 00:00:04.000`")
        match = _TIMING.match(block[timing_at].strip())
        if not match:
            raise TranscriptError(f"{where}: bad timing line {block[timing_at]!r}")
        start = seconds_of(match.group(1), where)
        end = seconds_of(match.group(2), where)
        _check_times(start, end, where)
        segment = _cue_segment(block[timing_at + 1 :], previous, where)
        if segment is not None:
            segments.append(Segment(segment.speaker, segment.text, start, end))
            previous = segment.speaker
    if not segments:
        raise TranscriptError(f"the {kind} file has no cues with text")
    return segments


def parse_vtt(text: str, call_id: str | None, caller: str | None) -> Transcript:
    """WebVTT: `WEBVTT` first, then cues; NOTE, STYLE and REGION blocks are skipped (a NOTE may
    carry `call_id:` and `caller:` lines)."""
    body = text.lstrip("\ufeff")
    if not body.startswith("WEBVTT"):
        raise TranscriptError("a WebVTT file starts with `WEBVTT` on its first line")
    blocks = _blocks(body)[1:]
    meta: dict[str, str] = {}
    cues = []
    for line_no, block in blocks:
        first = block[0].strip()
        if first.startswith("NOTE"):
            for line in [first[4:].strip(), *block[1:]]:
                found = _meta(line.strip())
                if found is not None:
                    meta[found[0]] = found[1]
        elif not first.startswith(("STYLE", "REGION")):
            cues.append((line_no, block))
    segments = _timed_cues(cues, "WebVTT")
    return _finish(_transcript(text, "vtt", segments, call_id or meta.get("call_id"),
                               caller or meta.get("caller")))  # fmt: skip


def looks_like_srt(text: str) -> bool:
    blocks = _blocks(text.lstrip("\ufeff"))
    return (
        bool(blocks)
        and len(blocks[0][1]) >= 2
        and blocks[0][1][0].strip().isdigit()
        and ("-->" in blocks[0][1][1])
    )


def parse_srt(text: str, call_id: str | None, caller: str | None) -> Transcript:
    """SubRip: numbered cues, `00:00:01,000 --> 00:00:04,000`, text with `Speaker:`."""
    segments = _timed_cues(_blocks(text.lstrip("\ufeff")), "SRT")
    return _finish(_transcript(text, "srt", segments, call_id, caller))
