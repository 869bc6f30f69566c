"""Typed NLU errors: each names what a user must fix (file, item, component)."""

from __future__ import annotations


class NLUError(Exception):
    """Base of every error the NLU library raises on purpose."""


class TrainingDataError(NLUError):
    """Malformed Rasa NLU training data; the message names the file and the item."""

    def __init__(self, message: str, *, source: str | None = None, item: str | None = None):
        where = ": ".join(part for part in (source, item) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.item = item


class PipelineError(NLUError):
    """An unknown component name or a bad component option in the pipeline configuration."""


class ModelError(NLUError):
    """A persisted model folder is missing, incomplete or from an incompatible version."""
