"""Training entry points: train from data, and load-or-train keyed by a training fingerprint."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.nlu.interpreter import Interpreter
from bot.nlu.pipeline import PipelineConfig, build_components, default_pipeline
from bot.nlu.training_data import YAML_SUFFIXES, TrainingData, load_training_data

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "data" / "nlu"


def train(
    data: TrainingData, pipeline: PipelineConfig | None = None, fingerprint: str = ""
) -> Interpreter:
    """A trained Interpreter for `data` (default pipeline unless `pipeline` is given)."""
    config = pipeline if pipeline is not None else default_pipeline()
    interpreter = Interpreter(build_components(config), config, fingerprint)
    interpreter.train(data)
    return interpreter


def fingerprint(paths: Sequence[str | Path], pipeline: PipelineConfig) -> str:
    """A hash of the training files' names and contents and of the pipeline configuration."""
    digest = hashlib.sha256(json.dumps(pipeline, sort_keys=True, default=str).encode())
    for path in map(Path, paths):
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and file.suffix in YAML_SUFFIXES:
                digest.update(file.name.encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def load_or_train(
    model_dir: str | Path,
    paths: Sequence[str | Path] = (DEFAULT_DATA,),
    pipeline: PipelineConfig | None = None,
) -> Interpreter:
    """The model in `model_dir` if it was trained on these files and pipeline, else a new one.

    A service calls this at start: it retrains only when the training data changed.
    """
    config = pipeline if pipeline is not None else default_pipeline()
    key = fingerprint(paths, config)
    metadata: dict[str, Any] | None = Interpreter.read_metadata(model_dir)
    if metadata is not None and metadata.get("fingerprint") == key:
        return Interpreter.load(model_dir)
    interpreter = train(load_training_data(list(paths)), config, key)
    interpreter.persist(model_dir)
    return interpreter
