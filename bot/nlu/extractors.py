"""Rule-based entity extractors and the synonym mapper of the NLU pipeline.

Each extractor returns Rasa-style entity dicts with spans into the original text. Matching runs on
the folded text (lower case, Traditional -> Simplified), so `緊急` and `URGENT` match like `紧急`
and `urgent`. Within one extractor overlapping matches are resolved longest first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.nlu.text import fold
from bot.nlu.training_data import TrainingData

Entity = dict[str, Any]
_NOT_ALNUM_BEFORE = r"(?<![a-z0-9])"
_NOT_ALNUM_AFTER = r"(?![a-z0-9])"


def _entity(entity: str, value: str, start: int, end: int, extractor: str) -> Entity:
    return {
        "entity": entity,
        "start": start,
        "end": end,
        "value": value,
        "confidence": 1.0,
        "extractor": extractor,
    }


def _longest_first(entities: list[Entity]) -> list[Entity]:
    """Non-overlapping entities, preferring longer spans, then earlier-listed ones; by position."""
    ranked = sorted(enumerate(entities), key=lambda p: (-(p[1]["end"] - p[1]["start"]), p[0]))
    kept: list[Entity] = []
    for _, candidate in ranked:
        if all(candidate["end"] <= e["start"] or candidate["start"] >= e["end"] for e in kept):
            kept.append(candidate)
    return sorted(kept, key=lambda e: e["start"])


class EntityExtractor:
    """Base: learns what it needs from TrainingData, then finds entities in a text."""

    name = "EntityExtractor"

    def train(self, data: TrainingData) -> None:
        """Nothing to learn by default."""

    def extract(self, text: str) -> list[Entity]:
        raise NotImplementedError


def _normalize_code(match: re.Match[str], raw: str) -> str:
    return match.group("prefix").upper() + match.group("number") + (match.group("sub") or "")


def _digits(match: re.Match[str], raw: str) -> str:
    return ("+" if raw.startswith("+") else "") + re.sub(r"\D", "", raw)


def _upper_compact(match: re.Match[str], raw: str) -> str:
    return re.sub(r"\s", "", raw).upper()


def _as_written(match: re.Match[str], raw: str) -> str:
    return raw


# Built-in patterns, in priority order (earlier wins a tie between equally long matches).
# Each: entity name, pattern over folded (lower-case) text, value normalizer (match, original).
BUILTIN_PATTERNS: list[tuple[str, str, Any]] = [
    ("email", r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", _as_written),
    (
        "ticket_id",
        _NOT_ALNUM_BEFORE + r"(?:t-\d{4,10}|tk-?(?=[a-z0-9]*\d)[a-z0-9]{4,14})" + _NOT_ALNUM_AFTER,
        _upper_compact,
    ),
    (
        "phone",
        r"(?<![\d+])(?:(?:\+|00)86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)"
        r"|(?<!\d)0\d{2,3}[\s-]?\d{7,8}(?!\d)"
        r"|(?<![\d+])\+\d{1,3}(?:[\s.-]?\(?\d{2,5}\)?){2,4}(?!\d)"
        r"|(?<![\d+])\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\d)",
        _digits,
    ),
    (
        "serial_number",
        r"(?:s/?n|serial(?:\s+(?:number|no\.?))?|序列号|机身号|出厂编号|机器编号)\s*(?:is|是|为)?[\s:：#]*"
        r"(?P<value>[a-z0-9](?:[a-z0-9-]{4,30}[a-z0-9]))"
        + _NOT_ALNUM_AFTER
        + r"|"
        + _NOT_ALNUM_BEFORE
        + r"(?P<bare>(?=[a-z0-9-]*[a-z])(?=(?:[a-z-]*\d){5})[a-z0-9][a-z0-9-]{7,}[a-z0-9])"
        + r"(?![a-z0-9-])",
        None,  # normalized by _serial_value
    ),
    (
        "alarm_code",
        _NOT_ALNUM_BEFORE
        + r"(?:(?P<prefix>err|er|alm|al|e|a|f|h|p|u|c|l)[-_]?(?P<number>\d{2,4})"
        + r"(?P<sub>-\d{1,2})?)"
        + _NOT_ALNUM_AFTER,
        _normalize_code,
    ),
]


def _serial_value(match: re.Match[str]) -> tuple[str, int, int]:
    group = "value" if match.group("value") else "bare"
    return match.group(group).upper(), match.start(group), match.end(group)


class RegexEntityExtractor(EntityExtractor):
    """Built-in patterns (alarm codes, serials, ticket ids, phones, emails) plus YAML `regex:`."""

    name = "RegexEntityExtractor"

    def __init__(self, use_builtins: bool = True) -> None:
        self.use_builtins = use_builtins
        self.patterns: list[tuple[str, str]] = []

    def train(self, data: TrainingData) -> None:
        """Keep the training data's regexes; each regex name is the entity it extracts."""
        self.patterns = list(data.regexes)

    @staticmethod
    @lru_cache(maxsize=512)
    def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)

    def extract(self, text: str) -> list[Entity]:
        folded = fold(text)
        found: list[Entity] = []
        for name, pattern in self.patterns:
            for match in self._compiled(pattern, True).finditer(text):
                if match.end() > match.start():
                    found.append(
                        _entity(name, match.group(0), match.start(), match.end(), self.name)
                    )
        if self.use_builtins:
            for name, pattern, normalize in BUILTIN_PATTERNS:
                for match in self._compiled(pattern, False).finditer(folded):
                    if normalize is None:
                        value, start, end = _serial_value(match)
                    else:
                        start, end = match.start(), match.end()
                        value = normalize(match, text[start:end])
                    found.append(_entity(name, value, start, end, self.name))
        return _longest_first(found)


def _flexible(entry: str) -> tuple[str, str]:
    """A lookup entry as a pattern for its first character and one for the rest, which tolerates
    space/hyphen/underscore variants (BM-2 = BM2) and ends at a word's end."""
    chunks = [c for c in re.split(r"[\s_-]+", fold(entry)) if c]
    head = chunks[0] if chunks else ""
    rest = r"[\s_-]?".join(re.escape(chunk) for chunk in [head[1:], *chunks[1:]])
    return re.escape(head[:1]), rest + _NOT_ALNUM_AFTER


class LookupEntityExtractor(EntityExtractor):
    """Lookup tables (YAML `lookup:`, annotated values); longest match first."""

    name = "LookupEntityExtractor"

    def __init__(self, use_annotations: bool = True) -> None:
        self.use_annotations = use_annotations
        self.tables: dict[str, dict[str, str]] = {}
        self._pattern: re.Pattern[str] | None = None
        self._owners: dict[str, tuple[str, str]] = {}

    def train(self, data: TrainingData) -> None:
        """Lookup tables from the YAML (plus annotated values when enabled), then the synonyms
        of any value a table holds, so that an alias is found as well as its canonical value."""
        for name, values in data.lookups.items():
            self.add(name, values)
        if self.use_annotations:
            for message in data.messages:
                for entity in message.entities:
                    span = message.text[entity["start"] : entity["end"]]
                    self.add(entity["entity"], {span: entity["value"]})
        for name, table in self.tables.items():
            known = set(table.values())
            self.add(name, {a: c for a, c in data.synonyms.items() if c in known})

    def add(self, entity: str, values: Iterable[str] | Mapping[str, str]) -> None:
        """Add entries to a table: plain values, or a mapping of alias -> canonical value."""
        pairs = values.items() if isinstance(values, Mapping) else ((v, v) for v in values)
        table = self.tables.setdefault(entity, {})
        for alias, canonical in pairs:
            if str(alias).strip():
                table[str(alias).strip()] = str(canonical).strip()
        self._pattern = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pattern": None, "_owners": {}}

    def _compile(self) -> re.Pattern[str] | None:
        """One alternation over all entries, longest first; group names map back to entries.

        The word-start check is made once for all entries, and each entry starts with its first
        character outside its group: the regex engine then skips an entry on one character
        comparison (matches are the same as with each entry's whole pattern in its group)."""
        entries = [(entity, alias) for entity, table in self.tables.items() for alias in table]
        if not entries:
            return None
        entries.sort(key=lambda e: -len(e[1]))
        self._owners = {f"g{i}": entry for i, entry in enumerate(entries)}
        alternatives = (_flexible(alias) for _, alias in entries)
        alternation = "|".join(
            f"{first}(?P<g{i}>{rest})" for i, (first, rest) in enumerate(alternatives)
        )
        return re.compile(f"{_NOT_ALNUM_BEFORE}(?:{alternation})")

    def extract(self, text: str) -> list[Entity]:
        if self._pattern is None:
            self._pattern = self._compile()
            if self._pattern is None:
                return []
        found = []
        for match in self._pattern.finditer(fold(text)):
            assert match.lastgroup is not None  # each alternative is a named group
            entity, alias = self._owners[match.lastgroup]
            value = self.tables[entity][alias]
            found.append(_entity(entity, value, match.start(), match.end(), self.name))
        return _longest_first(found)


@lru_cache(maxsize=1)
def _gazetteer() -> dict[str, list[str]]:
    return yaml.safe_load((Path(__file__).with_name("gazetteer.yml")).read_text(encoding="utf-8"))


_ZH_PLACE_CHAR = (
    r"[^\W\d_a-z我你您他她它在的是到了去和把从住地址于请派来要找给与及或也都就还能吧呢吗啊哦]"
)
_ZH_ROAD = rf"{_ZH_PLACE_CHAR}{{1,6}}?(?:路|大街|街|大道|巷|弄|胡同)"
_ZH_SECTION = r"(?:\d+|[一二三四五六七八九十]+)段"
_ZH_NUMBER = r"(?:\d+|[一二三四五六七八九十百零]+)(?:号|號)"
_ZH_UNIT = r"(?:[\da-z一二三四五六七八九十]+(?:号楼|栋|幢|楼|层|室|单元|号门|号厂房|号仓库))"
_EN_STREET = (
    r"\b\d{1,5}[a-zA-Z]?\s+(?:[A-Z][a-zA-Z'.-]*\s+){1,3}"
    r"(?i:street|st\.?|road|rd\.?|avenue|ave\.?|boulevard|blvd\.?|lane|ln\.?|drive|dr\.?|way"
    r"|place|pl\.?|court|ct\.?|square|sq\.?|highway|hwy\.?|parkway|pkwy\.?|terrace|crescent)"
    r"(?![A-Za-z])"
)


class AddressExtractor(EntityExtractor):
    """Cities (gazetteer) and street addresses (`…路/街…号`, `12 King Street`)."""

    name = "AddressExtractor"

    def __init__(self) -> None:
        places = _gazetteer()
        zh_cities = "|".join(sorted(map(re.escape, places["zh_cities"]), key=len, reverse=True))
        provinces = "|".join(sorted(map(re.escape, places["zh_provinces"]), key=len, reverse=True))
        self._zh_city = re.compile(rf"(?P<city>{zh_cities})(?:市)?")
        admin = rf"(?:(?:{provinces})(?:省|自治区)?)?(?:(?:{zh_cities})市?)?"
        district = rf"(?:{_ZH_PLACE_CHAR}{{1,5}}?(?:区|县|镇|开发区|工业园))?"
        self._zh_address = re.compile(
            rf"{admin}{district}{_ZH_ROAD}(?:{_ZH_SECTION})?(?:{_ZH_NUMBER})?{_ZH_UNIT}*"
        )
        en_cities = "|".join(sorted(map(re.escape, places["en_cities"]), key=len, reverse=True))
        self._en_city = re.compile(rf"\b(?P<city>{en_cities})\b", re.IGNORECASE)
        self._canonical_en = {c.lower(): c for c in places["en_cities"]}
        self._en_address = re.compile(_EN_STREET)

    def extract(self, text: str) -> list[Entity]:
        folded = fold(text)
        cities = [
            _entity("city", m.group("city"), m.start(), m.end(), self.name)
            for m in self._zh_city.finditer(folded)
        ] + [
            _entity("city", self._canonical_en[m.group("city").lower()], *m.span(), self.name)
            for m in self._en_city.finditer(text)
        ]
        addresses = [
            _entity("address", text[m.start() : m.end()], m.start(), m.end(), self.name)
            for m in (*self._zh_address.finditer(folded), *self._en_address.finditer(text))
        ]
        return _longest_first(cities) + _longest_first(addresses)


URGENCY_WORDS: dict[str, list[str]] = {
    "critical": [
        "停产",
        "停线",
        "产线停",
        "生产线停",
        "全线停",
        "安全隐患",
        "安全问题",
        "漏电",
        "触电",
        "起火",
        "着火",
        "冒烟",
        "冒火花",
        "烧焦",
        "爆炸",
        "受伤",
        "漏气",
        "燃气泄漏",
        "煤气味",
        "production down",
        "production stopped",
        "production is down",
        "line down",
        "line stopped",
        "line is down",
        "safety",
        "fire",
        "smoke",
        "smoking",
        "sparks",
        "electric shock",
        "injured",
        "injury",
        "gas leak",
        "burning smell",
        "explosion",
    ],
    "high": [
        "紧急",
        "加急",
        "急用",
        "急需",
        "很急",
        "着急",
        "急死",
        "马上",
        "立刻",
        "立即",
        "尽快",
        "赶紧",
        "赶快",
        "越快越好",
        "十万火急",
        "今天必须",
        "等不了",
        "urgent",
        "urgently",
        "asap",
        "as soon as possible",
        "immediately",
        "right away",
        "right now",
        "emergency",
        "critical",
        "straight away",
    ],
}


class UrgencyExtractor(EntityExtractor):
    """Urgency cue words: `critical` (production down, safety) or `high` (urgent, asap)."""

    name = "UrgencyExtractor"

    def __init__(self) -> None:
        alternatives = []
        for level, words in URGENCY_WORDS.items():
            for word in words:
                alternatives.append((word, level))
        alternatives.sort(key=lambda a: -len(a[0]))
        self._level = {word: level for word, level in alternatives}
        body = "|".join(
            re.escape(w) if re.search(r"[\u4e00-\u9fff]", w) else rf"\b{re.escape(w)}\b"
            for w, _ in alternatives
        )
        self._pattern = re.compile(body)

    def extract(self, text: str) -> list[Entity]:
        return _longest_first(
            [
                _entity("urgency", self._level[m.group(0)], m.start(), m.end(), self.name)
                for m in self._pattern.finditer(fold(text))
            ]
        )


class EntitySynonymMapper:
    """Maps extracted values to canonical ones (YAML `synonym:`, `{"value": ...}` annotations)."""

    name = "EntitySynonymMapper"

    def __init__(self) -> None:
        self.synonyms: dict[str, str] = {}

    def train(self, data: TrainingData) -> None:
        """Learn the synonyms of the training data."""
        self.add(data.synonyms)

    def add(self, synonyms: Mapping[str, str]) -> None:
        """Add alias -> canonical pairs (matched case- and script-insensitively)."""
        self.synonyms.update({fold(alias.strip()): value for alias, value in synonyms.items()})

    def process(self, entities: list[Entity]) -> list[Entity]:
        for entity in entities:
            canonical = self.synonyms.get(fold(str(entity["value"]).strip()))
            if canonical is not None and canonical != entity["value"]:
                entity["value"] = canonical
                entity.setdefault("processors", []).append(self.name)
        return entities


EXTRACTORS = {
    cls.name: cls
    for cls in (RegexEntityExtractor, LookupEntityExtractor, AddressExtractor, UrgencyExtractor)
}
