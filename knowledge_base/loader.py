"""Read a knowledge base from YAML/JSON files or a folder of them, validating every item.

All errors are collected (never just the first) and each names the file, list, item and key, so a
KB author can fix a whole file in one pass. See the shared `kb-format.md` for the rules.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from knowledge_base.errors import KBError, KBValidationError
from knowledge_base.format import ID_PATTERN, NODE_LISTS, REFERENCES, Faq, KnowledgeBase

SUFFIXES = (".yaml", ".yml", ".json")
# Keys whose values are strings although YAML reads unquoted `E03`-like neighbours as numbers.
NUMBER_AS_TEXT_KEYS = {"codes", "aliases", "sku"}
# The tags pydantic puts in an error location for the members of LocalizedText / LocalizedList.
_UNION_TAGS = {"str", "dict[str,str]", "list[str]", "dict[str,list[str]]"}
_ID_HINT = "ids are 1-64 characters from A-Z a-z 0-9 . _ -"

KnownIds = Mapping[str, Iterable[str]]


class _YamlInt(int):
    """An int read from YAML that remembers how it was written (`03`, `0x1F`)."""

    source: str


class _YamlFloat(float):
    """A float read from YAML that remembers how it was written (`1.10`)."""

    source: str


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe YAML loading that keeps the source text of numbers."""


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> _YamlInt:
    number = _YamlInt(loader.construct_yaml_int(node))
    number.source = node.value
    return number


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> _YamlFloat:
    number = _YamlFloat(loader.construct_yaml_float(node))
    number.source = node.value
    return number


class _YamlMap(dict[str, Any]):
    """A mapping read from YAML that knows its line and the line of each key (1-based)."""

    line: int
    key_lines: dict[str, int]


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Iterator[_YamlMap]:
    """A mapping with line numbers, refusing duplicate keys (YAML would keep only the last)."""
    first_line: dict[str, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
            continue
        if key_node.value in first_line:
            line = first_line[key_node.value] + 1
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key_node.value!r} (first at line {line})",
                key_node.start_mark,
            )
        first_line[key_node.value] = key_node.start_mark.line
    data = _YamlMap()
    data.line = node.start_mark.line + 1
    data.key_lines = {key: line + 1 for key, line in first_line.items()}
    yield data
    data.update(loader.construct_mapping(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


@dataclass
class _Entry:
    """One item as read: where it came from, its id if usable, and the model if it validated."""

    file: str
    list_name: str
    index: int
    id: str | None
    item: BaseModel | None
    raw: Mapping[str, Any]

    def references(self, key: str) -> list[str]:
        """The ids listed under a reference key, from the model or, if it failed, the raw item."""
        values = getattr(self.item, key) if self.item is not None else self.raw.get(key)
        return (
            [value for value in values if isinstance(value, str)]
            if isinstance(values, list)
            else []
        )

    def error(self, key: str | None, message: str) -> KBError:
        return KBError(
            self.file,
            self.list_name,
            self.id,
            key,
            message,
            index=self.index,
            line=_line(self.raw, key),
        )


def kb_files(path: Path) -> list[Path]:
    """The files a path stands for: itself, or every KB file below a folder in sorted order."""
    if path.is_dir():
        return sorted(
            file
            for file in path.rglob("*")
            if file.is_file()
            and file.suffix.lower() in SUFFIXES
            and not any(part.startswith(".") for part in file.relative_to(path).parts)
        )
    return [path]


def read_knowledge_base(
    path: str | Path,
    *,
    known_ids: KnownIds | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> KnowledgeBase:
    """Read and validate a KB file or folder; `known_ids` are ids already stored (upsert mode)."""
    path = Path(path)
    if not path.exists():
        raise KBValidationError([KBError(str(path), None, None, None, "no such file or folder")])
    files = kb_files(path)
    if not files:
        message = f"no {', '.join(SUFFIXES)} files in this folder"
        raise KBValidationError([KBError(str(path), None, None, None, message)])
    documents: list[tuple[str, Any]] = []
    errors: list[KBError] = []
    for file in files:
        data = _read_document(file, errors)
        if data is not None:
            documents.append((str(file), data))
        if on_file is not None:
            on_file(file)
    return _build(documents, errors, known_ids, [str(file) for file in files])


def parse_documents(
    documents: Iterable[tuple[str, Any]], *, known_ids: KnownIds | None = None
) -> KnowledgeBase:
    """Validate already-parsed documents given as (name, data) pairs, e.g. an uploaded body."""
    documents = list(documents)
    return _build(documents, [], known_ids, [name for name, _ in documents])


def validate_knowledge_base(
    kb: KnowledgeBase, *, known_ids: KnownIds | None = None, source: str = "<knowledge base>"
) -> None:
    """Check ids and references across a KB built in code; raise `KBValidationError`."""
    entries = [
        _Entry(source, list_name, index, item.id, item, {})
        for list_name in NODE_LISTS
        for index, item in enumerate(getattr(kb, list_name))
    ]
    errors = _cross_errors(entries, known_ids or {})
    if errors:
        raise KBValidationError(errors)


def _build(
    documents: list[tuple[str, Any]],
    errors: list[KBError],
    known_ids: KnownIds | None,
    names: list[str],
) -> KnowledgeBase:
    """Validate every document's items, then ids and references across them; raise all errors."""
    entries: list[_Entry] = []
    for name, data in documents:
        entries.extend(_document_entries(name, data, errors))
    errors.extend(_cross_errors(entries, known_ids or {}))
    if errors:
        order = {name: position for position, name in enumerate(names)}
        raise KBValidationError(sorted(errors, key=lambda error: order.get(error.file, -1)))
    _scope_faqs(entries, known_ids or {})
    lists: dict[str, list[BaseModel]] = {name: [] for name in NODE_LISTS}
    for entry in entries:
        assert entry.item is not None  # an item that did not validate left an error
        lists[entry.list_name].append(entry.item)
    return KnowledgeBase.model_validate(lists)


def _read_document(file: Path, errors: list[KBError]) -> Any:
    """The parsed content of one file, or None after recording why it cannot be used."""

    def fail(message: str) -> None:
        errors.append(KBError(str(file), None, None, None, message))

    try:
        raw = file.read_bytes()
    except OSError as exc:
        return fail(f"cannot read file: {exc.strerror or exc}")
    if b"\x00" in raw:
        return fail("binary data, not a YAML or JSON text file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return fail(f"not UTF-8 text: invalid byte 0x{raw[exc.start]:02x} at offset {exc.start}")
    if not text.strip():
        return fail("empty file")
    if file.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            return fail(f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}")
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        kind = (
            "YAML error"
            if isinstance(exc, yaml.constructor.ConstructorError)
            else "YAML syntax error"
        )
        return fail(f"{kind}{where}: {exc.problem or exc.context}")
    except yaml.YAMLError as exc:
        return fail(f"YAML error: {exc}")
    if data is None:
        return fail("empty file (no YAML content, only comments or blank lines)")
    return data


def _document_entries(name: str, data: Any, errors: list[KBError]) -> list[_Entry]:
    """Validate one file's top level and each of its items."""
    if not isinstance(data, dict):
        message = f"top level must be a mapping with `version: 1`, got {_type_name(data)}"
        errors.append(KBError(name, None, None, None, message))
        return []
    version = data.get("version")
    if "version" not in data:
        message = "missing; every file needs `version: 1`"
        errors.append(KBError(name, None, None, "version", message))
    elif isinstance(version, bool) or version != 1:
        message = f"unsupported version {version!r}; this format is version 1"
        errors.append(KBError(name, None, None, "version", message))
    entries: list[_Entry] = []
    for list_name, model in NODE_LISTS.items():
        items = data.get(list_name)
        if items is None:
            continue
        if not isinstance(items, list):
            message = f"must be a list of items, got {_type_name(items)}"
            line = _line(data, list_name)
            errors.append(KBError(name, list_name, None, None, message, line=line))
            continue
        for index, raw in enumerate(items):
            entry = _validate_item(name, list_name, index, raw, model, errors)
            if entry is not None:
                entries.append(entry)
    return entries


def _validate_item(
    name: str, list_name: str, index: int, raw: Any, model: type[BaseModel], errors: list[KBError]
) -> _Entry | None:
    if not isinstance(raw, dict):
        message = f"an item must be a mapping of keys (id, ...), got {_type_name(raw)}"
        errors.append(KBError(name, list_name, None, None, message, index=index))
        return None
    data = _numbers_as_text(raw, list_name)
    raw_id = data.get("id")
    entry = _Entry(name, list_name, index, raw_id if isinstance(raw_id, str) else None, None, data)
    try:
        entry.item = model.model_validate(data)
    except ValidationError as exc:
        errors.extend(_item_errors(entry, raw, exc))
    return entry


def _numbers_as_text(raw: dict[str, Any], list_name: str) -> dict[str, Any]:
    """A copy where numbers YAML read from unquoted text become that text again where the format
    wants strings: any number in codes, aliases and sku; YAML numbers in ids and references."""
    data = copy.copy(raw)  # keeps the line numbers of a YAML mapping
    id_keys = {"id", *REFERENCES.get(list_name, {})}
    for key in (NUMBER_AS_TEXT_KEYS | id_keys) & data.keys():
        convert = _number_text if key in NUMBER_AS_TEXT_KEYS else _yaml_number_text
        value = data[key]
        data[key] = [convert(v) for v in value] if isinstance(value, list) else convert(value)
    return data


def _number_text(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return getattr(value, "source", None) or str(value)
    return value


def _yaml_number_text(value: Any) -> Any:
    return value.source if isinstance(value, _YamlInt | _YamlFloat) else value


def _item_errors(entry: _Entry, raw: dict[str, Any], exc: ValidationError) -> list[KBError]:
    """One error per key, in plain words, from pydantic's error list."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for error in exc.errors(include_url=False):
        key = str(error["loc"][0]) if error["loc"] else ""
        by_key.setdefault(key, []).append(dict(error))
    return [
        entry.error(key or None, _key_message(key, errors, raw.get(key)))
        for key, errors in by_key.items()
    ]


def _key_message(key: str, errors: list[dict[str, Any]], value: Any) -> str:
    if any(error["type"] == "missing" for error in errors):
        return "field required"
    tags = {str(e["loc"][1]) for e in errors if len(e["loc"]) > 1 and e["loc"][1] in _UNION_TAGS}
    if not tags:
        return "; ".join(_error_message(key, error) for error in errors)
    is_list = "list[str]" in tags
    expected = (
        "a list of texts or a mapping of language to a list of texts"
        if is_list
        else "a text or a mapping of language to text"
    )
    if isinstance(value, dict):
        branch = "dict[str,list[str]]" if is_list else "dict[str,str]"
    else:
        branch = "list[str]" if isinstance(value, list) else "str"
    nested = [e for e in errors if len(e["loc"]) > 2 and e["loc"][1] == branch]
    if nested:
        return f"expected {expected}; " + "; ".join(_error_message(key, e) for e in nested)
    return f"expected {expected}, got {_type_name(value)}"


def _error_message(key: str, error: dict[str, Any]) -> str:
    path = key + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}"
        for part in error["loc"][1:]
        if part not in _UNION_TAGS
    )
    where = "" if path == key else f"at {path}: "
    value = error.get("input")
    if error["type"] == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == (
        ID_PATTERN
    ):
        return f"{where}invalid id {value!r}: {_ID_HINT}"
    message = error["msg"][:1].lower() + error["msg"][1:]
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{where}{message} (got {shown})"


def _cross_errors(entries: list[_Entry], known_ids: KnownIds) -> list[KBError]:
    """Duplicate ids per list across files, and references to ids that exist nowhere."""
    errors: list[KBError] = []
    first: dict[tuple[str, str], _Entry] = {}
    ids: dict[str, set[str]] = {name: set(known_ids.get(name, ())) for name in NODE_LISTS}
    for entry in entries:
        if entry.id is None:
            continue
        other = first.setdefault((entry.list_name, entry.id), entry)
        if other is not entry:
            origin = f"{other.file}: {other.list_name}[{other.index}]"
            message = f"duplicate id {entry.id!r}, first defined at {origin}"
            errors.append(entry.error("id", message))
        ids[entry.list_name].add(entry.id)
    for entry in entries:
        for key, target in REFERENCES.get(entry.list_name, {}).items():
            unknown = [ref for ref in entry.references(key) if ref not in ids[target]]
            if unknown:
                listed = ", ".join(repr(ref) for ref in dict.fromkeys(unknown))
                errors.append(entry.error(key, f"unknown {target} id(s): {listed}"))
    return errors


def _scope_faqs(entries: list[_Entry], known_ids: KnownIds) -> None:
    """Give an FAQ that names no product the product lines of the file it came from.

    In a KB merged from several lines' or makers' files, one file's warranty FAQ must not answer
    a question about another file's product; with its products set, search and dialogue treat it
    like any product's item. A file that defines no products (company-wide FAQs), or every
    product the KB has, leaves its FAQs for every product.
    """
    line_of: dict[str, str] = {}
    file_lines: dict[str, set[str]] = {}
    for entry in entries:
        if entry.list_name == "products" and entry.id is not None and entry.item is not None:
            line_of[entry.id] = getattr(entry.item, "line", None) or entry.id
            file_lines.setdefault(entry.file, set()).add(line_of[entry.id])
    every = set(line_of) | set(known_ids.get("products", ()))
    for entry in entries:
        lines = file_lines.get(entry.file)
        if not isinstance(entry.item, Faq) or entry.item.products or not lines:
            continue
        scope = [product for product, line in line_of.items() if line in lines]
        if set(scope) < every:
            entry.item = entry.item.model_copy(update={"products": scope})


def _line(data: Any, key: str | None) -> int | None:
    """The YAML line of a key in a mapping (or of the mapping itself); None for JSON and code."""
    if not isinstance(data, _YamlMap):
        return None
    return data.key_lines.get(key, data.line) if key is not None else data.line


def _type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "nothing (null)"
    for kind, label in names.items():
        if isinstance(value, kind):
            return label
    return "a number" if isinstance(value, int | float) else type(value).__name__
