"""Training as a user runs it: ``fit`` with callbacks and a progress bar, ``evaluate``,
``predict``, the learning-rate range test ``lr_find``, and ``TrainStep``, one whole step
without eager mode's bookkeeping."""

from chainrule.train.callback import Callback, TrainingState
from chainrule.train.callbacks import (
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
)
from chainrule.train.checkpoint import Checkpoint, load_checkpoint
from chainrule.train.history import History
from chainrule.train.loop import TrainingDivergedError, evaluate, fit, predict
from chainrule.train.lr_finder import LRFinderResult, lr_find
from chainrule.train.step import TrainStep

__all__ = [
    "CSVLogger",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "History",
    "LRFinderResult",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "TrainStep",
    "TrainingDivergedError",
    "TrainingState",
    "evaluate",
    "fit",
    "load_checkpoint",
    "lr_find",
    "predict",
]
