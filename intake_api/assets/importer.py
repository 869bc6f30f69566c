"""Reading installed units from CSV, YAML or JSON, validated before anything is stored.

Every problem is collected and named by row and field, so one run shows them all; a file with
any problem imports nothing. In CSV the nested fields are flattened with `_` (`customer_name`,
`contact_channel`, `site_region`, ...) and a serial repeated on another row adds a contact.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.errors import ServiceError
from intake_api.assets.models import AssetCreate

# CSV columns: flat name -> (nested object, key); plain columns map to themselves.
NESTED_COLUMNS = {
    "customer_name": ("customer", "name"),
    "customer_phone": ("customer", "phone"),
    "customer_tier": ("customer", "tier"),
    "site_address": ("site", "address"),
    "site_region": ("site", "region"),
}
CONTACT_COLUMNS = ("contact_channel", "contact_sender_id")
PLAIN_COLUMNS = ("serial", "product_id", "lang", "warranty_end", "installed_at", "firmware")
CSV_COLUMNS = frozenset(PLAIN_COLUMNS) | set(NESTED_COLUMNS) | set(CONTACT_COLUMNS)


class AssetImportError(ServiceError):
    """The file cannot be imported; `errors` holds one line per problem (row and field)."""

    status_code = 422
    code = "invalid_assets"

    def __init__(self, errors: list[str]) -> None:
        summary = f"{len(errors)} error(s); nothing was changed."
        super().__init__("\n".join([*errors, summary]))
        self.errors = errors


def _field_errors(row: str, exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(row)"
        lines.append(f"{row}, field {field}: {error['msg']}")
    return lines


def _csv_items(path: Path) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """Rows of a CSV file as nested items (contacts of a repeated serial merged)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        unknown = sorted(set(reader.fieldnames or ()) - CSV_COLUMNS)
        if unknown:
            return [], [f"{path} row 1: unknown column(s) {', '.join(unknown)}"]
        items: dict[str, tuple[str, dict[str, Any]]] = {}
        errors: list[str] = []
        for line, cells in enumerate(reader, start=2):
            row = f"{path} row {line}"
            values = {k: v.strip() for k, v in cells.items() if k and v and v.strip()}
            item = _nest(values)
            serial = str(item.get("serial", ""))
            if serial in items:
                errors += _merge(items[serial], item, row)
            else:
                items[serial or f"#{line}"] = (row, item)
    return list(items.values()), errors


def _nest(values: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for column, value in values.items():
        if column in NESTED_COLUMNS:
            outer, key = NESTED_COLUMNS[column]
            item.setdefault(outer, {})[key] = value
        elif column not in CONTACT_COLUMNS:
            item[column] = value
    contact = {k.removeprefix("contact_"): values[k] for k in CONTACT_COLUMNS if k in values}
    item["contacts"] = [contact] if contact else []
    return item


def _merge(first: tuple[str, dict[str, Any]], again: dict[str, Any], row: str) -> list[str]:
    """A repeated serial adds its contact; its other cells must be empty or the same."""
    where, item = first
    item["contacts"] += again.pop("contacts")
    return [
        f"{row}, field {key}: differs from {where} of the same serial"
        for key, value in again.items()
        if item.get(key) != value
    ]


def _document_items(path: Path) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """Items of a YAML or JSON file: a list of units, or `{"assets": [...]}`."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        return [], [f"{path}: cannot be parsed: {exc}"]
    if isinstance(data, dict) and "assets" in data:
        data = data["assets"]
    if not isinstance(data, list):
        return [], [f"{path}: expected a list of assets (or a mapping with an `assets` list)"]
    return [(f"{path} row {n}", item) for n, item in enumerate(data, start=1)], []


def _validated(items: Iterable[tuple[str, Any]], products: set[str]) -> list[AssetCreate]:
    rows: list[AssetCreate] = []
    errors: list[str] = []
    seen: dict[str, str] = {}
    for where, item in items:
        if not isinstance(item, dict):
            errors.append(f"{where}: expected a mapping of fields")
            continue
        try:
            row = AssetCreate.model_validate(item)
        except ValidationError as exc:
            errors += _field_errors(where, exc)
            continue
        if row.product_id not in products:
            errors.append(f"{where}, field product_id: {row.product_id!r} is not a KB product")
        if row.serial in seen:
            errors.append(f"{where}, field serial: {row.serial!r} repeats {seen[row.serial]}")
        seen.setdefault(row.serial, where)
        rows.append(row)
    if errors:
        raise AssetImportError(errors)
    return rows


def read_assets(path: Path, products: set[str]) -> list[AssetCreate]:
    """The units in `path` (.csv, .yaml/.yml, .json), each checked against the KB's
    `products`; raises `AssetImportError` listing every problem."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml", ".json"):
        raise AssetImportError([f"{path}: unsupported file type (use .csv, .yaml, .yml, .json)"])
    try:
        items, errors = _csv_items(path) if suffix == ".csv" else _document_items(path)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AssetImportError([f"{path}: cannot be read: {exc}"]) from exc
    if errors:
        raise AssetImportError(errors)
    return _validated(items, products)
