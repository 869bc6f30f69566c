"""Rasa NLU training data (YAML format 3.x): reading, merging and writing.

Reads `nlu:` items `- intent:` (examples with `[value](entity)` and `[value]{"entity": ...}`
annotations), `- synonym:`, `- regex:` and `- lookup:` from one file, several files or folders,
so that people who know Rasa can edit the data without touching code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.nlu.errors import TrainingDataError

YAML_SUFFIXES = (".yml", ".yaml")

# Rasa's annotation grammar: [text](entity), [text](entity:value), [text]{"entity": ...}.
_ANNOTATION = re.compile(
    r"\[(?P<text>[^\]\[]+?)\]"
    r"(?:\((?P<entity>[^():]+?)(?::(?P<value>[^()]+?))?\)|(?P<json>\{[^{}]+?\}))"
)
# Words that YAML 1.1 readers turn into booleans or null: quoted when written.
_YAML_WORDS = {"yes", "no", "on", "off", "true", "false", "y", "n", "null", "~"}
_EXAMPLE_LINE = re.compile(r"^\s*-\s?(?P<text>.*)$")


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (as Rasa reads them): `yes`, `no`, `on`, `off` stay
    strings, so intents named `yes` or `no` keep their names."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass
class Message:
    """One training or test utterance: plain text, its intent and its entity spans."""

    text: str
    intent: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TrainingData:
    """Everything an NLU pipeline learns from, merged over all input files."""

    messages: list[Message] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    regexes: list[tuple[str, str]] = field(default_factory=list)
    lookups: dict[str, list[str]] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        """The intent names, sorted."""
        return sorted({m.intent for m in self.messages if m.intent})

    def merge(self, other: TrainingData) -> TrainingData:
        """A new TrainingData holding this one's items followed by `other`'s."""
        lookups = {name: list(values) for name, values in self.lookups.items()}
        for name, values in other.lookups.items():
            lookups.setdefault(name, []).extend(values)
        return TrainingData(
            messages=[*self.messages, *other.messages],
            synonyms={**self.synonyms, **other.synonyms},
            regexes=[*self.regexes, *other.regexes],
            lookups=lookups,
        )


def parse_annotated(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entity spans of one annotated example (`[E03](code) on my [BM-2](product)`).

    Raises ValueError with the reason when an annotation is malformed.
    """
    entities: list[dict[str, Any]] = []
    plain: list[str] = []
    cursor = 0
    offset = 0
    for match in _ANNOTATION.finditer(text):
        plain.append(text[cursor : match.start()])
        offset += match.start() - cursor
        value_text = match.group("text")
        entity: dict[str, Any] = {"start": offset, "end": offset + len(value_text)}
        if match.group("json"):
            entity.update(_json_annotation(match.group("json"), value_text))
        else:
            entity["entity"] = match.group("entity").strip()
            entity["value"] = (match.group("value") or value_text).strip()
        if not entity["entity"]:
            raise ValueError(f"annotation {match.group(0)!r} has an empty entity name")
        entities.append(entity)
        plain.append(value_text)
        offset += len(value_text)
        cursor = match.end()
    plain.append(text[cursor:])
    result = "".join(plain)
    if re.search(r"\]\(|\]\{", result):
        raise ValueError(f"unbalanced entity annotation in {text!r}")
    return result, entities


def _json_annotation(raw: str, value_text: str) -> dict[str, Any]:
    try:
        spec = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"annotation {raw} is not valid JSON ({exc.msg})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
        raise ValueError(f'annotation {raw} needs an "entity" name')
    entity = {"entity": spec["entity"].strip(), "value": str(spec.get("value", value_text))}
    for key in ("role", "group"):
        if key in spec:
            entity[key] = str(spec[key])
    return entity


def _example_texts(examples: Any, item: str, source: str) -> list[str]:
    """The example strings of an item: a `|` block of `- text` lines or a YAML list."""
    if isinstance(examples, str):
        texts = []
        for number, line in enumerate(examples.splitlines(), start=1):
            if not line.strip():
                continue
            match = _EXAMPLE_LINE.match(line)
            if not match:
                raise TrainingDataError(
                    f"example line {number} {line.strip()!r} must start with '- '",
                    source=source,
                    item=item,
                )
            texts.append(match.group("text").strip())
        return [t for t in texts if t]
    if isinstance(examples, list):
        texts = []
        for entry in examples:
            text = entry.get("text") if isinstance(entry, dict) else entry
            if not isinstance(text, str | int | float):
                raise TrainingDataError(
                    f"example {entry!r} is neither a string nor a mapping with 'text'",
                    source=source,
                    item=item,
                )
            texts.append(str(text).strip())
        return [t for t in texts if t]
    raise TrainingDataError(
        "'examples' must be a '|' block of '- example' lines or a list", source=source, item=item
    )


def _read_item(raw: Any, index: int, source: str, data: TrainingData) -> None:
    if not isinstance(raw, dict):
        raise TrainingDataError(
            f"must be a mapping such as '- intent: greet', got {raw!r}",
            source=source,
            item=f"nlu item {index}",
        )
    kinds = [key for key in ("intent", "synonym", "regex", "lookup") if key in raw]
    if len(kinds) != 1:
        raise TrainingDataError(
            f"needs exactly one of the keys intent, synonym, regex, lookup; found {sorted(raw)}",
            source=source,
            item=f"nlu item {index}",
        )
    kind = kinds[0]
    name = raw[kind]
    item = f"nlu item {index} ({kind} {name!r})"
    if isinstance(name, bool):  # `- intent: true` in YAML 1.2
        name = str(name).lower()
    if not isinstance(name, str | int) or not str(name).strip():
        raise TrainingDataError(
            f"the {kind} name must be a non-empty string", source=source, item=item
        )
    name = str(name).strip()
    if "examples" not in raw:
        raise TrainingDataError("has no 'examples'", source=source, item=item)
    texts = _example_texts(raw["examples"], item, source)
    if kind == "intent":
        for text in texts:
            try:
                plain, entities = parse_annotated(text)
            except ValueError as exc:
                raise TrainingDataError(str(exc), source=source, item=item) from None
            data.messages.append(Message(plain, name, entities))
            for entity in entities:
                if entity["value"] != plain[entity["start"] : entity["end"]]:
                    data.synonyms[plain[entity["start"] : entity["end"]]] = entity["value"]
    elif kind == "synonym":
        data.synonyms.update({text: name for text in texts})
    elif kind == "regex":
        for pattern in texts:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise TrainingDataError(
                    f"pattern {pattern!r} is not a valid regular expression ({exc})",
                    source=source,
                    item=item,
                ) from None
            data.regexes.append((name, pattern))
    else:
        data.lookups.setdefault(name, []).extend(texts)


def parse_yaml(content: str, source: str = "<string>", *, require_nlu: bool = True) -> TrainingData:
    """TrainingData from the text of one Rasa YAML file (`source` names it in errors)."""
    try:
        document = yaml.load(content, Loader=_Yaml12Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise TrainingDataError(f"invalid YAML{where}: {reason}", source=source) from None
    data = TrainingData()
    if not isinstance(document, dict) or "nlu" not in document:
        if require_nlu:
            raise TrainingDataError("has no top-level 'nlu:' list", source=source)
        return data
    items = document["nlu"]
    if items is None:
        return data
    if not isinstance(items, list):
        raise TrainingDataError("'nlu' must be a list of items", source=source)
    for index, raw in enumerate(items, start=1):
        _read_item(raw, index, source, data)
    return data


def _yaml_files(path: Path) -> list[tuple[Path, bool]]:
    """(file, explicitly named) pairs; files found in folders may lack `nlu:` (domain.yml)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
        return [(file, False) for file in files]
    if path.is_file():
        return [(path, True)]
    raise TrainingDataError("no such file or folder", source=str(path))


def load_training_data(paths: str | Path | Sequence[str | Path]) -> TrainingData:
    """Merged TrainingData of Rasa YAML files and folders (folders are read recursively)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    data = TrainingData()
    for path in paths:
        for file, explicit in _yaml_files(Path(path)):
            try:
                content = file.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise TrainingDataError(f"cannot read the file ({exc})", source=str(file)) from None
            data = data.merge(parse_yaml(content, str(file), require_nlu=explicit))
    if not data.messages and not data.lookups and not data.regexes and not data.synonyms:
        raise TrainingDataError(f"no NLU training data found in {', '.join(map(str, paths))}")
    return data


def annotate(message: Message) -> str:
    """The example text with Rasa annotations for its entities (inverse of parse_annotated)."""
    parts, cursor = [], 0
    for entity in sorted(message.entities, key=lambda e: e["start"]):
        span = message.text[entity["start"] : entity["end"]]
        parts.append(message.text[cursor : entity["start"]])
        if entity.get("value", span) == span:
            parts.append(f"[{span}]({entity['entity']})")
        else:
            spec = {"entity": entity["entity"], "value": entity["value"]}
            parts.append(f"[{span}]{json.dumps(spec, ensure_ascii=False)}")
        cursor = entity["end"]
    parts.append(message.text[cursor:])
    return "".join(parts)


def dump_yaml(messages: Iterable[Message]) -> str:
    """Rasa NLU YAML (version 3.1) for the messages, grouped by intent in first-seen order."""
    grouped: dict[str, list[str]] = {}
    for message in messages:
        text = " ".join(annotate(message).split())
        grouped.setdefault(message.intent or "", []).append(text)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in grouped.items():
        plain = re.fullmatch(r"[\w./-]+", intent) and intent.lower() not in _YAML_WORDS
        name = intent if plain else json.dumps(intent)
        lines.append(f"- intent: {name}")
        lines.append("  examples: |")
        lines.extend(f"    - {text}" for text in texts)
    return "\n".join(lines) + "\n"
