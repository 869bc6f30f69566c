"""Rasa-compatible NLU: Rasa YAML training data, a pipeline of named components, `/model/parse`
output. A library: it takes plain arguments and never reads the service settings.
"""

from bot.nlu.errors import ModelError, NLUError, PipelineError, TrainingDataError
from bot.nlu.interpreter import Interpreter
from bot.nlu.pipeline import DEFAULT_PIPELINE, default_pipeline
from bot.nlu.training import DEFAULT_DATA, load_or_train, train
from bot.nlu.training_data import Message, TrainingData, load_training_data

__all__ = [
    "DEFAULT_DATA",
    "DEFAULT_PIPELINE",
    "Interpreter",
    "Message",
    "ModelError",
    "NLUError",
    "PipelineError",
    "TrainingData",
    "TrainingDataError",
    "default_pipeline",
    "load_or_train",
    "load_training_data",
    "train",
]
