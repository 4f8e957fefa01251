"""Checkpoints of a training run, and resuming from one exactly.

A checkpoint holds everything that decides what the rest of a run computes: the model's
parameters and buffers, the optimizer's state and options, the scheduler's state, the epoch and
step counters, the history so far, the state of chainrule's global generator (dropout, and
shuffling without a seed), the state of the generators the data loaders draw their order from,
and the state of callbacks that keep one (EarlyStopping's count of epochs without improvement).
``fit(..., resume_from=path)`` puts all of it back, so that training 2 epochs, stopping, and
resuming in a new process for 2 more gives the parameters of 4 epochs in one go, bit for bit.

The file is written with :func:`chainrule.save` (safetensors, atomically), so reading it back
runs no code. Its object is::

    {"format": 1, "model": ..., "optimizer": ..., "optimizer_class": "Adam",
     "scheduler": ... or None, "scheduler_class": "StepLR" or None, "epoch": completed epochs,
     "step": optimizer steps, "history": {...}, "rng": chainrule.get_rng_state(),
     "loader": [NumPy bit-generator states], "callbacks": [{"class": ..., "state": ...}]}
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from chainrule import random
from chainrule.distributed.process_group import is_main_process
from chainrule.io import LoadError, load, save
from chainrule.tensor import Tensor
from chainrule.train.callback import Callback, TrainingState
from chainrule.train.checks import loader_generators

FORMAT = 1
"""The version of the checkpoint's layout; a file of another version is refused."""

_ENTRIES = ("model", "optimizer", "scheduler", "epoch", "step", "history", "rng", "loader")


class Checkpoint(Callback):
    """Saves the whole training state at the end of epochs, for ``fit(resume_from=path)``.

    The file at ``path`` is rewritten (atomically: a crash leaves the previous checkpoint) at
    the end of every ``every_n_epochs``-th epoch and of the epoch that ends training: the last
    of the budget, or one after which a callback or ``max_steps`` stopped it. ``fit`` runs its
    Checkpoints after the other callbacks, so the file holds their state at the epoch's end.

    ``path`` may instead be a function, called with the checkpoint's dict (its tensors share
    memory with the model: copy or save them before training goes on).

    ```pycon
    >>> fit(model, loss_fn, optimizer, data, epochs=2, callbacks=[Checkpoint("run.ckpt")])
    ... # doctest: +SKIP
    >>> fit(model, loss_fn, optimizer, data, epochs=4, resume_from="run.ckpt")  # doctest: +SKIP

    ```
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | Callable[[dict[str, Any]], Any],
        every_n_epochs: int = 1,
    ) -> None:
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, int):
            raise ValueError(
                f"Checkpoint: every_n_epochs must be a positive integer, got {every_n_epochs!r}"
            )
        if every_n_epochs < 1:
            raise ValueError(
                f"Checkpoint: every_n_epochs must be a positive integer, got {every_n_epochs}"
            )
        if isinstance(path, (str, os.PathLike)):
            self.path: Path | None = Path(path)
            self.function = None
        elif callable(path):
            self.path, self.function = None, path
        else:
            raise TypeError(
                f"Checkpoint: path must be a file path or a function, got {type(path).__name__}"
            )
        self.every_n_epochs = every_n_epochs
        self.saved: list[Path] = []  # the file written last, for TrainingDivergedError's message

    def check_target(self, where: str = "Checkpoint") -> None:
        """Fail now, before training, if the checkpoint file could not be written."""
        if self.path is not None:
            check_target(self.path, where)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        done = epoch + 1
        budget = self.state.history.params.get("epochs", math.inf)
        ending = done >= budget or self.state.stop_training
        if done % self.every_n_epochs == 0 or ending:
            self.save(done)

    def save(self, completed_epochs: int) -> None:
        """Write the run's state after ``completed_epochs`` epochs (under
        chainrule.distributed, in rank 0 only: every rank holds the same model)."""
        if not is_main_process():
            return
        snapshot = capture(self.state, completed_epochs)
        if self.function is not None:
            self.function(snapshot)
            return
        save(snapshot, self.path)
        self.saved = [self.path]


def check_target(path: str | os.PathLike[str], where: str) -> None:
    """OSError naming the problem unless a file can be written at ``path``: its directory
    exists and may be written, and ``path`` is not itself a directory."""
    target = Path(path)
    directory = target.parent
    if target.is_dir():
        raise IsADirectoryError(
            f"{where}: the checkpoint path {str(target)!r} is a directory; give a file in it, "
            f"e.g. {str(target / 'checkpoint.safetensors')!r}"
        )
    if not directory.exists():
        raise FileNotFoundError(
            f"{where}: cannot write the checkpoint {str(target)!r}: the directory "
            f"{str(directory)!r} does not exist"
        )
    if not directory.is_dir():
        raise NotADirectoryError(
            f"{where}: cannot write the checkpoint {str(target)!r}: {str(directory)!r} is not a "
            "directory"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(
            f"{where}: cannot write the checkpoint {str(target)!r}: the directory "
            f"{str(directory)!r} is not writable"
        )


def arrange_callbacks(callbacks: Sequence[Any], checkpoint: Any, where: str) -> list[Any]:
    """The run's callbacks with ``checkpoint`` (a path or a :class:`Checkpoint`) added and
    every Checkpoint moved last, their targets checked before any training."""
    if checkpoint is None:
        extra = []
    elif isinstance(checkpoint, Checkpoint):
        extra = [checkpoint]
    elif isinstance(checkpoint, (str, os.PathLike)):
        extra = [Checkpoint(checkpoint)]
    else:
        raise TypeError(
            f"{where}: checkpoint must be a file path or a chainrule.train.Checkpoint, got "
            f"{type(checkpoint).__name__}"
        )
    given = list(callbacks)
    others = [cb for cb in given if not isinstance(cb, Checkpoint)]
    savers = [cb for cb in given if isinstance(cb, Checkpoint)]
    savers += [cb for cb in extra if all(cb is not saver for saver in savers)]
    for saver in savers:
        saver.check_target(where)
    return others + savers


# ---- what a checkpoint holds -------------------------------------------------------------------


def _keeps_state(callback: Any) -> bool:
    return (
        not isinstance(callback, Checkpoint)
        and callable(getattr(callback, "state_dict", None))
        and callable(getattr(callback, "load_state_dict", None))
    )


def capture(state: TrainingState, completed_epochs: int) -> dict[str, Any]:
    """The checkpoint of a run after ``completed_epochs`` epochs, as saved to a file."""
    scheduler, history = state.scheduler, state.history
    return {
        "format": FORMAT,
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "optimizer_class": type(state.optimizer).__name__,
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scheduler_class": None if scheduler is None else type(scheduler).__name__,
        "epoch": completed_epochs,
        "step": state.step,
        "history": {
            "epoch": list(history.epoch),
            "history": {name: list(column) for name, column in history.history.items()},
        },
        # A run that a callback (EarlyStopping...) or stop_at_loss stopped stays stopped when
        # resumed, as the run without the interruption would have.
        "stopped": (
            state.stop_reason if state.stop_training and not state.stopped_by_budget else None
        ),
        "rng": random.get_rng_state(),
        "loader": [g.bit_generator.state for g in loader_generators(*state.loaders)],
        "callbacks": [
            {"class": type(cb).__name__, "state": cb.state_dict()}
            for cb in state.callbacks
            if _keeps_state(cb)
        ],
    }


def _not_a_checkpoint(path: Any, reason: str) -> Exception:
    return LoadError("load_checkpoint", str(path), reason)


def _structure_problem(document: Any) -> str | None:
    """What makes ``document`` not a checkpoint of this layout, or None."""
    if not isinstance(document, Mapping):
        return f"it holds a {type(document).__name__}, not a training checkpoint"
    if "format" not in document:
        return (
            "it is not a training checkpoint (no 'format' entry); a model's state_dict loads "
            "with model.load_state_dict(chainrule.load(path))"
        )
    if document["format"] != FORMAT:
        return f"checkpoint format {document['format']!r}; this chainrule reads format {FORMAT}"
    missing = [key for key in _ENTRIES if key not in document]
    if missing:
        return f"the checkpoint lacks the entries {missing}"
    for key in ("epoch", "step"):
        value = document[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"its {key!r} must be an integer >= 0, got {value!r}"
    expected = {
        "model": Mapping,
        "optimizer": Mapping,
        "history": Mapping,
        "rng": Tensor,
        "loader": list,
    }
    for key, kind in expected.items():
        if not isinstance(document[key], kind):
            return f"its {key!r} entry is a {type(document[key]).__name__}"
    if not {"state", "param_groups"} <= set(document["optimizer"]):
        return "its 'optimizer' entry is not an optimizer's state_dict"
    if document["scheduler"] is not None and not isinstance(document["scheduler"], Mapping):
        return f"its 'scheduler' entry is a {type(document['scheduler']).__name__}"
    entries = document.get("callbacks", [])
    if not isinstance(entries, list) or not all(
        isinstance(entry, Mapping) and {"class", "state"} <= set(entry) for entry in entries
    ):
        return "its 'callbacks' entry is not a list of {'class', 'state'} entries"
    return None


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = None) -> dict[str, Any]:
    """The checkpoint that :class:`Checkpoint` wrote to ``path``, as a dict with the entries
    "model", "optimizer", "scheduler", "epoch" (completed epochs), "step", "history", "rng",
    "loader" and "callbacks". A file that cannot be read, or that is not a checkpoint, raises
    :class:`chainrule.io.LoadError`. ``map_location`` is :func:`chainrule.load`'s: by
    default the tensors of a run on a GPU come back there; ``"cpu"`` reads any on the host.

    ```pycon
    >>> import tempfile, os
    >>> import chainrule as cr
    >>> from chainrule import nn, train
    >>> _ = cr.manual_seed(0)
    >>> x = cr.linspace(-1, 1, 32).reshape(32, 1)
    >>> model, data = nn.Linear(1, 1), (x, 3 * x)
    >>> optimizer = cr.optim.SGD(model.parameters(), lr=0.5)
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "run.ckpt")
    >>> _ = train.fit(model, nn.MSELoss(), optimizer, data, epochs=2, progress=False,
    ...               callbacks=[train.Checkpoint(path)])
    >>> state = train.load_checkpoint(path)
    >>> state["epoch"], sorted(state["model"])
    (2, ['bias', 'weight'])

    ```
    """
    document = load(path, map_location=map_location)
    problem = _structure_problem(document)
    if problem is not None:
        raise _not_a_checkpoint(path, problem)
    return dict(document)


# ---- resuming ----------------------------------------------------------------------------------


def _check_model(saved: Mapping[str, Any], model: Any, where: str) -> None:
    own = model.state_dict()
    missing = [key for key in own if key not in saved]
    unexpected = [key for key in saved if key not in own]
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f"the checkpoint lacks the model's {missing}")
        if unexpected:
            problems.append(f"the model has no {unexpected}")
        raise ValueError(
            f"{where}: the checkpoint's model does not fit this model: {'; '.join(problems)}; "
            "resume with the model the checkpoint was written from"
        )
    for key, target in own.items():
        shape = tuple(getattr(saved[key], "shape", ()))
        if shape != tuple(target.shape):
            raise ValueError(
                f"{where}: the checkpoint's model does not fit this model: {key!r} has shape "
                f"{shape} in the checkpoint but {tuple(target.shape)} in the model"
            )


def _check_optimizer(checkpoint: Mapping[str, Any], state: TrainingState, where: str) -> None:
    kind = checkpoint.get("optimizer_class")
    own = type(state.optimizer).__name__
    if kind is not None and kind != own:
        raise ValueError(f"{where}: the checkpoint holds the state of {kind}, not of {own}")
    saved = [len(group["params"]) for group in checkpoint["optimizer"]["param_groups"]]
    mine = [len(group["params"]) for group in state.optimizer.param_groups]
    if saved != mine:
        raise ValueError(
            f"{where}: the checkpoint's optimizer has parameter groups of sizes {saved}, this "
            f"{own} has {mine}"
        )
    saved_kind = checkpoint.get("scheduler_class")
    scheduler = state.scheduler
    if (checkpoint["scheduler"] is None) != (scheduler is None):
        held = "no scheduler" if checkpoint["scheduler"] is None else f"a {saved_kind}'s state"
        given = "none was given" if scheduler is None else f"{type(scheduler).__name__} was"
        raise ValueError(
            f"{where}: the checkpoint holds {held}, but {given}; resume with the scheduler "
            "the run was trained with"
        )
    if scheduler is not None and saved_kind not in (None, type(scheduler).__name__):
        raise ValueError(
            f"{where}: the checkpoint holds the state of {saved_kind}, not of "
            f"{type(scheduler).__name__}"
        )


def _check_loaders(saved: list[Any], state: TrainingState, where: str) -> None:
    generators = loader_generators(*state.loaders)
    if len(saved) != len(generators):
        raise ValueError(
            f"{where}: the checkpoint holds the state of {len(saved)} data-loader generator(s), "
            f"but the data here draw their order from {len(generators)}; resume with the same "
            "data arguments (shuffle, seed, the DataLoader's generator)"
        )
    for generator, entry in zip(generators, saved):
        kind = type(generator.bit_generator).__name__
        if not isinstance(entry, Mapping) or entry.get("bit_generator") != kind:
            raise ValueError(
                f"{where}: the checkpoint's data-loader generator is not a {kind} generator"
            )


def resume(checkpoint: Mapping[str, Any], state: TrainingState, where: str) -> int:
    """Put the model, optimizer, scheduler, counters and history of ``checkpoint`` into the
    run of ``state``; returns the number of epochs it had completed. Everything is checked
    first: a checkpoint that does not fit changes nothing."""
    _check_model(checkpoint["model"], state.model, where)
    _check_optimizer(checkpoint, state, where)
    _check_loaders(checkpoint["loader"], state, where)
    state.model.load_state_dict(checkpoint["model"])
    state.optimizer.load_state_dict(checkpoint["optimizer"])
    if state.scheduler is not None:
        state.scheduler.load_state_dict(checkpoint["scheduler"])
    history = state.history
    saved = checkpoint["history"]
    history.epoch = list(saved.get("epoch", []))
    history.history = {name: list(column) for name, column in saved.get("history", {}).items()}
    state.step = history.steps = checkpoint["step"]
    state.epoch = max(checkpoint["epoch"] - 1, 0)
    stopped = checkpoint.get("stopped")  # absent from checkpoints of older chainrule
    if stopped:
        state.stop_training, state.stop_reason = True, stopped
    return checkpoint["epoch"]


def resume_streams(checkpoint: Mapping[str, Any], state: TrainingState) -> None:
    """Put back the random generators and the callbacks' state of ``checkpoint``: after the
    callbacks' ``on_train_begin``, which may reset them or draw numbers."""
    random.set_rng_state(checkpoint["rng"])
    for generator, entry in zip(loader_generators(*state.loaders), checkpoint["loader"]):
        generator.bit_generator.state = dict(entry)
    # The k-th callback of a class continues from the k-th saved state of that class.
    saved: dict[str, list[Any]] = {}
    for entry in checkpoint.get("callbacks") or []:
        saved.setdefault(entry["class"], []).append(entry["state"])
    for callback in state.callbacks:
        if _keeps_state(callback):
            states = saved.get(type(callback).__name__)
            if states:
                callback.load_state_dict(states.pop(0))
