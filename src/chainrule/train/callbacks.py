"""Built-in callbacks of :func:`chainrule.train.fit`, with Keras's names and behaviour."""

from __future__ import annotations

import csv
import io
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chainrule.distributed.process_group import is_main_process
from chainrule.files import write_text_atomic
from chainrule.train.callback import Callback


def _improvement_mode(monitor: str, mode: str, where: str) -> str:
    """'min' or 'max': 'auto' means max for accuracy-like names (acc, f1, r2, precision...)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{where}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    higher_is_better = ("acc", "f1", "precision", "recall", "r2", "auc")
    return "max" if any(word in monitor for word in higher_is_better) else "min"


class _Monitored(Callback):
    """A callback that watches one logged figure and knows when it improved."""

    def __init__(self, monitor: str, mode: str, min_delta: float, where: str) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"{where}: monitor must be a figure's name, got {monitor!r}")
        if not (isinstance(min_delta, (int, float)) and math.isfinite(min_delta)):
            raise ValueError(f"{where}: min_delta must be a finite number, got {min_delta!r}")
        self.monitor = monitor
        self.mode = _improvement_mode(monitor, mode, where)
        self.min_delta = abs(min_delta)
        self.where = where
        self.best = math.inf if self.mode == "min" else -math.inf
        self._warned = False

    def _current(self, logs: dict[str, Any] | None) -> float | None:
        value = (logs or {}).get(self.monitor)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if not self._warned:
                available = ", ".join(sorted(logs or {})) or "none"
                warnings.warn(
                    f"{self.where}: the monitored figure {self.monitor!r} is not in the epoch's "
                    f"logs (available: {available}); it does nothing until it appears",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self._warned = True
            return None
        return float(value)

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitored):
    """Stops training when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs in a row (Keras's EarlyStopping).

    With ``restore_best=True`` the model's weights of the best epoch are put back when training
    ends, whether this callback stopped it or the epoch budget ran out. ``baseline``: stop unless
    the figure beats it within ``patience`` epochs. ``start_from_epoch``: epochs to wait before
    counting.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn, train
    >>> _ = cr.manual_seed(0)
    >>> x = cr.linspace(-1, 1, 32).reshape(32, 1)
    >>> y = 3 * x
    >>> model = nn.Linear(1, 1)
    >>> optimizer = cr.optim.SGD(model.parameters(), lr=0.5)
    >>> loss_fn = nn.MSELoss()
    >>> data = cr.data.DataLoader(cr.data.TensorDataset(x, y), batch_size=8)
    >>> stop = train.EarlyStopping(monitor="loss", patience=2, min_delta=0.5)
    >>> history = train.fit(model, loss_fn, optimizer, data, epochs=100, progress=False,
    ...           callbacks=[stop])
    >>> len(history.epoch) < 100
    True

    ```
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best: bool = False,
        baseline: float | None = None,
        start_from_epoch: int = 0,
        *,
        restore_best_weights: bool | None = None,
    ) -> None:
        super().__init__(monitor, mode, min_delta, "EarlyStopping")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 0, got {patience!r}")
        self.patience = patience
        # Keras spells it restore_best_weights; both are accepted.
        self.restore_best = bool(
            restore_best if restore_best_weights is None else restore_best_weights
        )
        self.baseline = baseline
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best_epoch: int | None = None
        self.best_weights: dict[str, Any] | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = None
        self.best_epoch = None
        self.best_weights = None
        self.best = math.inf if self.mode == "min" else -math.inf
        if self.baseline is not None:
            self.best = float(self.baseline)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = self._current(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_weights = {
                    name: tensor.numpy().copy() for name, tensor in self.model.state_dict().items()
                }
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.state.stop_training = True
            self.state.stop_reason = (
                f"EarlyStopping: {self.monitor} did not improve for {self.wait} epochs "
                f"(best {self.best:.6g} at epoch {self.best_epoch})"
            )

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.restore_best and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        """The count of epochs without improvement, the best figure, its epoch and (with
        ``restore_best``) its weights: what a resumed run continues from."""
        return {
            "wait": self.wait,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (``fit(resume_from=...)`` calls it)."""
        self.wait = state_dict["wait"]
        self.best = state_dict["best"]
        self.best_epoch = state_dict["best_epoch"]
        self.stopped_epoch = state_dict["stopped_epoch"]
        weights = state_dict["best_weights"]
        self.best_weights = None if weights is None else dict(weights)


class ModelCheckpoint(_Monitored):
    """Saves the model's ``state_dict`` (safetensors, atomically) at the end of epochs.

    ``path`` may hold format fields filled from the epoch's logs and ``epoch`` (counted from 1,
    as Keras names files), e.g. ``"ckpt-{epoch:03d}-{val_loss:.3f}.safetensors"``. With
    ``save_best_only`` a file is written only when ``monitor`` improved, so the file on disk is
    always the best model so far; an epoch that ends in a non-finite loss never overwrites it.

    ```pycon
    >>> import tempfile, os
    >>> import chainrule as cr
    >>> from chainrule import nn, train
    >>> _ = cr.manual_seed(0)
    >>> x = cr.linspace(-1, 1, 32).reshape(32, 1)
    >>> model, data = nn.Linear(1, 1), (x, 3 * x)
    >>> optimizer = cr.optim.SGD(model.parameters(), lr=0.5)
    >>> folder = tempfile.mkdtemp()
    >>> save = train.ModelCheckpoint(os.path.join(folder, "e{epoch}.safetensors"), monitor="loss")
    >>> _ = train.fit(model, nn.MSELoss(), optimizer, data, epochs=2, progress=False,
    ...               callbacks=[save])
    >>> sorted(os.listdir(folder))
    ['e1.safetensors', 'e2.safetensors']

    ```
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        min_delta: float = 0.0,
        verbose: bool = False,
    ) -> None:
        super().__init__(monitor, mode, min_delta, "ModelCheckpoint")
        self.path = str(path)
        self.save_best_only = save_best_only
        self.verbose = verbose
        self.saved: list[Path] = []

    def _filename(self, epoch: int, logs: dict[str, Any]) -> Path:
        try:
            return Path(self.path.format(epoch=epoch + 1, **logs))
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"ModelCheckpoint: cannot fill the path {self.path!r} from the epoch's figures "
                f"({', '.join(sorted(logs))}): {error}"
            ) from None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        if self.save_best_only:
            value = self._current(logs)
            if value is None or not math.isfinite(value) or not self._improved(value):
                return
            self.best = value
        if not is_main_process():  # under chainrule.distributed, rank 0 alone writes
            return
        from chainrule.io import save

        target = self._filename(epoch, logs)
        save(self.model.state_dict(), target)
        self.saved.append(target)
        if self.verbose:
            print(f"epoch {epoch + 1}: saved the model to {target}")

    def state_dict(self) -> dict[str, Any]:
        """The best figure so far and the files written: what a resumed run continues from."""
        return {"best": self.best, "saved": [str(path) for path in self.saved]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (``fit(resume_from=...)`` calls it)."""
        self.best = state_dict["best"]
        self.saved = [Path(path) for path in state_dict["saved"]]


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of every epoch (Keras's LearningRateScheduler).

    ``schedule`` is either a function ``(epoch, lr) -> new_lr`` (epoch from 0, lr the first
    group's current rate; every group gets the new rate) or a chainrule scheduler from
    :mod:`chainrule.optim.lr_scheduler`, stepped at the end of each epoch
    (``ReduceLROnPlateau`` with the figure named by ``monitor``).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn, train
    >>> _ = cr.manual_seed(0)
    >>> x = cr.linspace(-1, 1, 32).reshape(32, 1)
    >>> y = 3 * x
    >>> model = nn.Linear(1, 1)
    >>> optimizer = cr.optim.SGD(model.parameters(), lr=0.5)
    >>> loss_fn = nn.MSELoss()
    >>> data = cr.data.DataLoader(cr.data.TensorDataset(x, y), batch_size=8)
    >>> halve = train.LearningRateScheduler(lambda epoch, lr: lr / 2)
    >>> history = train.fit(model, loss_fn, optimizer, data, epochs=3, progress=False,
    ...           callbacks=[halve])
    >>> history.history["lr"]
    [0.25, 0.125, 0.0625]

    ```
    """

    def __init__(self, schedule: Any, monitor: str = "val_loss", verbose: bool = False) -> None:
        if not callable(schedule) and not hasattr(schedule, "step"):
            raise TypeError(
                "LearningRateScheduler: schedule must be a function (epoch, lr) -> lr or a "
                f"scheduler with .step(), got {type(schedule).__name__}"
            )
        self.schedule = schedule
        self.monitor = monitor
        self.verbose = verbose

    def _is_function(self) -> bool:
        return not hasattr(self.schedule, "step")

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self._is_function():
            return
        current = self.optimizer.param_groups[0]["lr"]
        new = self.schedule(epoch, current)
        try:
            new = float(new)
        except (TypeError, ValueError):
            raise TypeError(
                f"LearningRateScheduler: the schedule returned {new!r} at epoch {epoch}, "
                "not a number"
            ) from None
        if not math.isfinite(new) or new < 0:
            raise ValueError(
                f"LearningRateScheduler: the schedule returned {new} at epoch {epoch}; a "
                "learning rate must be a finite number >= 0"
            )
        for group in self.optimizer.param_groups:
            group["lr"] = new
        if self.verbose and is_main_process():
            print(f"epoch {epoch + 1}: learning rate {new:.6g}")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._is_function():
            return
        from chainrule.optim.lr_scheduler import ReduceLROnPlateau

        if isinstance(self.schedule, ReduceLROnPlateau):
            value = (logs or {}).get(self.monitor, (logs or {}).get("loss"))
            self.schedule.step(value)
        else:
            self.schedule.step()

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state (a function keeps none): what a resumed run continues from."""
        return {"schedule": None if self._is_function() else self.schedule.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (``fit(resume_from=...)`` calls it)."""
        if state_dict["schedule"] is not None and not self._is_function():
            self.schedule.load_state_dict(state_dict["schedule"])


class CSVLogger(Callback):
    """Writes one CSV row per epoch: ``epoch`` then every logged figure (Keras's CSVLogger).

    The whole file is rewritten atomically, so it is never half a row: after the first epoch,
    then at most once per ``interval`` seconds (thousands of one-millisecond epochs must not
    mean thousands of fsyncs), and always when training ends. With ``append=True`` the rows of
    an existing file are kept in front.

    ```pycon
    >>> import tempfile, os
    >>> import chainrule as cr
    >>> from chainrule import nn, train
    >>> _ = cr.manual_seed(0)
    >>> x = cr.linspace(-1, 1, 32).reshape(32, 1)
    >>> model, data = nn.Linear(1, 1), (x, 3 * x)
    >>> optimizer = cr.optim.SGD(model.parameters(), lr=0.5)
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "log.csv")
    >>> _ = train.fit(model, nn.MSELoss(), optimizer, data, epochs=3, progress=False,
    ...               callbacks=[train.CSVLogger(path)])
    >>> lines = open(path).read().splitlines()
    >>> len(lines), lines[0].split(",")[0]
    (4, 'epoch')

    ```
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        separator: str = ",",
        append: bool = False,
        interval: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self.interval = interval
        self._written_at = -math.inf
        self.separator = separator
        self.append = append
        self.rows: list[dict[str, Any]] = []
        self.columns: list[str] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.rows, self.columns = [], []
        self._written_at = -math.inf
        if self.append and self.path.exists():
            with open(self.path, newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle, delimiter=self.separator)
                self.columns = [c for c in reader.fieldnames or [] if c != "epoch"]
                self.rows = list(reader)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        for name in logs:
            if name not in self.columns:
                self.columns.append(name)
        self.rows.append({"epoch": epoch, **logs})
        if time.monotonic() - self._written_at >= self.interval:
            self._write()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._write()

    def state_dict(self) -> dict[str, Any]:
        """The rows so far, so that a resumed run's file holds the earlier epochs too."""
        return {"rows": [dict(row) for row in self.rows], "columns": list(self.columns)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (``fit(resume_from=...)`` calls it)."""
        self.rows = [dict(row) for row in state_dict["rows"]]
        self.columns = list(state_dict["columns"])

    def _write(self) -> None:
        self._written_at = time.monotonic()
        if not is_main_process():  # under chainrule.distributed, rank 0 alone writes
            return
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, ["epoch", *self.columns], delimiter=self.separator, lineterminator="\n"
        )
        writer.writeheader()
        for row in self.rows:
            writer.writerow({key: row.get(key, "") for key in ["epoch", *self.columns]})
        write_text_atomic(self.path, buffer.getvalue())


class LambdaCallback(Callback):
    """A callback made of plain functions, for one-off hooks (Keras's LambdaCallback).

    ```pycon
    >>> show = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))

    ```
    """

    _HOOKS = (
        "on_train_begin",
        "on_train_end",
        "on_epoch_begin",
        "on_epoch_end",
        "on_batch_begin",
        "on_backward_end",
        "on_batch_end",
    )

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        for name, function in hooks.items():
            if name not in self._HOOKS:
                raise TypeError(
                    f"LambdaCallback: unknown hook {name!r}; the hooks are {', '.join(self._HOOKS)}"
                )
            if not callable(function):
                raise TypeError(f"LambdaCallback: {name} must be callable")
            setattr(self, name, function)
