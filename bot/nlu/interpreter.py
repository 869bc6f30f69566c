"""The trained NLU pipeline: Rasa `/model/parse`-shaped output, persistence to a model folder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn

from bot.nlu.classifiers import LogisticRegressionIntentClassifier
from bot.nlu.errors import ModelError, PipelineError
from bot.nlu.extractors import EntityExtractor, EntitySynonymMapper
from bot.nlu.featurizers import Doc, Featurizer, SentenceEmbeddingFeaturizer
from bot.nlu.text import JiebaTokenizer, WhitespaceTokenizer, fold
from bot.nlu.training_data import TrainingData

if TYPE_CHECKING:
    from knowledge_base.encoders import Encoder

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1


class Interpreter:
    """Runs a pipeline of tokenizer, featurizers, intent classifier, extractors and mappers."""

    def __init__(
        self, components: Sequence[Any], config: list[dict[str, Any]], fingerprint: str = ""
    ) -> None:
        self.components = list(components)
        self.config = config
        self.fingerprint = fingerprint
        tokenizers = [c for c in components if isinstance(c, WhitespaceTokenizer)]
        self.tokenizer = tokenizers[0] if tokenizers else JiebaTokenizer()
        self.featurizers = [c for c in components if isinstance(c, Featurizer)]
        classifiers = [c for c in components if isinstance(c, LogisticRegressionIntentClassifier)]
        self.classifier = classifiers[0] if classifiers else None
        if self.classifier is not None and not self.featurizers:
            raise PipelineError("an intent classifier needs at least one featurizer before it")
        self.extractors = [c for c in components if isinstance(c, EntityExtractor)]
        self.mappers = [c for c in components if isinstance(c, EntitySynonymMapper)]

    # --- training --------------------------------------------------------------------------
    def train(self, data: TrainingData) -> None:
        """Fit every component on the training data (the classifier on labelled messages)."""
        components: list[EntityExtractor | EntitySynonymMapper] = [*self.extractors, *self.mappers]
        for component in components:
            component.train(data)
        labelled = [(m.text, m.intent) for m in data.messages if m.intent]
        if self.classifier is None or not labelled:
            return
        docs = self.documents([text for text, _ in labelled])
        for featurizer in self.featurizers:
            featurizer.fit(docs)
        self.classifier.fit(self.features(docs), [intent for _, intent in labelled])

    # --- inference -------------------------------------------------------------------------
    def documents(self, texts: Sequence[str]) -> list[Doc]:
        """Folded and tokenized documents for the featurizers."""
        return [Doc(t, fold(t), tuple(self.tokenizer.tokenize(t))) for t in texts]

    def sentence_embeddings(self, text: str) -> list[tuple[Encoder, str]]:
        """What parsing `text` embeds: (encoder, string) for each sentence featurizer. A caller
        that embeds more with the same encoder can then embed all of it in one pass."""
        doc = Doc(text, fold(text), ())
        return [
            (f.encoder(), f.embedded_text(doc))
            for f in self.featurizers
            if isinstance(f, SentenceEmbeddingFeaturizer)
        ]

    def features(self, docs: Sequence[Doc]) -> sp.csr_matrix:
        """The concatenated, weighted feature blocks of all featurizers."""
        blocks = [f.transform(docs) * f.weight for f in self.featurizers]
        return sp.hstack(blocks, format="csr")

    def features_row(self, doc: Doc) -> tuple[np.ndarray, np.ndarray]:
        """One document's row of `features` as its nonzero (columns, values), ascending: the
        same numbers, built with numpy alone (a message's reading is one document)."""
        columns, values, offset = [], [], 0
        for featurizer in self.featurizers:
            block_columns, block_values = featurizer.row(doc)
            columns.append(block_columns + offset)
            values.append(block_values * featurizer.weight)
            offset += featurizer.width
        return np.concatenate(columns), np.concatenate(values)

    def _rankings(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        assert self.classifier is not None
        if len(texts) == 1:
            return [self.classifier.rank_row(*self.features_row(self.documents(texts)[0]))]
        return self.classifier.rank(self.features(self.documents(texts)))

    def intents(self, texts: Sequence[str]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """(intent, intent_ranking) per text, in Rasa's shape; batched for speed."""
        results: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
            ({"name": None, "confidence": 0.0}, []) for _ in texts
        ]
        if self.classifier is None:
            return results
        filled = [i for i, text in enumerate(texts) if text.strip()]
        if not filled:
            return results
        rankings = self._rankings([texts[i] for i in filled])
        for i, ranking in zip(filled, rankings, strict=True):
            name, confidence = self.classifier.decide(ranking)
            listed = [{"name": n, "confidence": c} for n, c in ranking[:10]]
            if name != ranking[0][0]:
                listed = [{"name": name, "confidence": confidence}, *listed]
            results[i] = ({"name": name, "confidence": confidence}, listed)
        return results

    def entities(self, text: str) -> list[dict[str, Any]]:
        """Entities of every extractor, by position, with synonyms mapped.

        When two extractors find the same entity type on overlapping text, the longer span wins
        (the earlier extractor on a tie), so a value is reported once.
        """
        found = [entity for extractor in self.extractors for entity in extractor.extract(text)]
        ranked = sorted(enumerate(found), key=lambda p: (p[1]["start"] - p[1]["end"], p[0]))
        kept: list[dict[str, Any]] = []
        for _, entity in ranked:
            if not any(
                k["entity"] == entity["entity"]
                and k["start"] < entity["end"]
                and entity["start"] < k["end"]
                for k in kept
            ):
                kept.append(entity)
        kept.sort(key=lambda e: (e["start"], -e["end"]))
        for mapper in self.mappers:
            kept = mapper.process(kept)
        return kept

    def parse_batch(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """`parse` for many texts at once (one featurization pass).

        The features are ours and always finite, so sklearn's per-call input scans and parameter
        checks (~10% of reading a short message) are skipped.
        """
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            readings = self.intents(texts)
        return [
            {
                "text": text,
                "intent": intent,
                "entities": self.entities(text),
                "intent_ranking": ranking,
            }
            for text, (intent, ranking) in zip(texts, readings, strict=True)
        ]

    def parse(self, text: str) -> dict[str, Any]:
        """Rasa `/model/parse` output: text, intent, entities, intent_ranking."""
        return self.parse_batch([text])[0]

    # --- persistence -----------------------------------------------------------------------
    def persist(self, folder: str | Path) -> Path:
        """Write the model to `folder` (created); returns the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.components, folder / MODEL_FILE, compress=3)
        metadata = {
            "format_version": FORMAT_VERSION,
            "fingerprint": self.fingerprint,
            "pipeline": self.config,
            "intents": self.intent_names,
        }
        (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2, ensure_ascii=False))
        return folder

    @property
    def intent_names(self) -> list[str]:
        """The intents the classifier knows."""
        if self.classifier is None or self.classifier.model is None:
            return []
        return [str(c) for c in self.classifier.model.classes_]

    @staticmethod
    def read_metadata(folder: str | Path) -> dict[str, Any] | None:
        """The metadata of a persisted model, or None when the folder holds no usable model."""
        path = Path(folder) / METADATA_FILE
        try:
            metadata = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if metadata.get("format_version") != FORMAT_VERSION:
            return None
        return metadata if (Path(folder) / MODEL_FILE).is_file() else None

    @classmethod
    def load(cls, folder: str | Path) -> Interpreter:
        """A model persisted with `persist` (only load folders you wrote: it unpickles)."""
        metadata = cls.read_metadata(folder)
        if metadata is None:
            raise ModelError(f"{folder} holds no NLU model of format {FORMAT_VERSION}; train one")
        try:
            components = joblib.load(Path(folder) / MODEL_FILE)
        except Exception as exc:  # unpickling raises many types for a damaged file
            raise ModelError(f"cannot load the NLU model in {folder}: {exc}") from exc
        return cls(components, metadata["pipeline"], metadata.get("fingerprint", ""))
