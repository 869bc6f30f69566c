"""Typed errors of the knowledge base library, carrying what a KB author needs to fix the input."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KBError:
    """One problem in the input: where it is (file, list, item id, key) and what is wrong.

    `index` is the item's position in its file's list (0-based), for items without a usable id;
    `line` the YAML line of the key (or item) when known.
    """

    file: str
    list: str | None
    item: str | None
    key: str | None
    message: str
    index: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.list is not None:
            where += f": {self.list}"
            if self.index is not None:
                where += f"[{self.index}]"
            if self.item is not None:
                where += f" (id {self.item})"
        if self.key is not None:
            where += f": key '{self.key}'"
        at_line = f" (line {self.line})" if self.line is not None else ""
        return f"{where}: {self.message}{at_line}"


class KBValidationError(ValueError):
    """A knowledge base failed validation; `errors` holds every problem, not only the first."""

    def __init__(self, errors: list[KBError]) -> None:
        self.errors = errors
        lines = "\n".join(str(error) for error in errors)
        super().__init__(f"{len(errors)} error(s) in the knowledge base:\n{lines}")


class UnknownItemError(LookupError):
    """No fault or FAQ with this id in the knowledge base."""

    def __init__(self, item_id: str) -> None:
        self.item_id = item_id
        super().__init__(f"no fault or FAQ with id {item_id!r} in the knowledge base")
