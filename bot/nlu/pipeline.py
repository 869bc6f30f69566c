"""The NLU pipeline configuration: components named as in a Rasa `config.yml` pipeline.

A pipeline is a list of `{"name": ComponentName, **options}`; names resolve through COMPONENTS,
so a component can be swapped or tuned from configuration without code changes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from bot.nlu.classifiers import CLASSIFIERS
from bot.nlu.errors import PipelineError
from bot.nlu.extractors import EXTRACTORS, EntitySynonymMapper
from bot.nlu.featurizers import FEATURIZERS
from bot.nlu.text import TOKENIZERS

PipelineConfig = list[dict[str, Any]]

DEFAULT_PIPELINE: PipelineConfig = [
    {"name": "JiebaTokenizer"},
    {"name": "SentenceEmbeddingFeaturizer", "model": None},
    {"name": "WordTfidfFeaturizer", "ngram_range": [1, 2]},
    {"name": "CharTfidfFeaturizer", "ngram_range": [1, 5]},
    {"name": "LogisticRegressionIntentClassifier", "C": 10.0, "threshold": "auto"},
    {"name": "RegexEntityExtractor"},
    {"name": "LookupEntityExtractor"},
    {"name": "AddressExtractor"},
    {"name": "UrgencyExtractor"},
    {"name": "EntitySynonymMapper"},
]

COMPONENTS: dict[str, Any] = {
    **TOKENIZERS,
    **FEATURIZERS,
    **CLASSIFIERS,
    **EXTRACTORS,
    EntitySynonymMapper.name: EntitySynonymMapper,
}


def default_pipeline(encoder: str | None = None) -> PipelineConfig:
    """A copy of the default pipeline, with the sentence encoder `encoder` when given."""
    config = copy.deepcopy(DEFAULT_PIPELINE)
    for spec in config:
        if spec["name"] == "SentenceEmbeddingFeaturizer":
            spec["model"] = encoder
    return config


def build_components(config: Sequence[dict[str, Any]]) -> list[Any]:
    """Instantiate the components of a pipeline configuration, in order."""
    components = []
    for position, spec in enumerate(config, start=1):
        if not isinstance(spec, dict) or "name" not in spec:
            raise PipelineError(f"pipeline entry {position} needs a 'name', got {spec!r}")
        options = {key: value for key, value in spec.items() if key != "name"}
        component_class = COMPONENTS.get(spec["name"])
        if component_class is None:
            known = ", ".join(sorted(COMPONENTS))
            raise PipelineError(f"unknown pipeline component {spec['name']!r}; known: {known}")
        try:
            components.append(component_class(**options))
        except TypeError as exc:
            raise PipelineError(f"bad options for {spec['name']}: {exc}") from None
    return components
