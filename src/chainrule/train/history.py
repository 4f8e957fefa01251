"""History: what :func:`chainrule.train.fit` measured, one value per epoch (Keras's layout)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any


class History:
    """Per-epoch figures of a training run.

    ``history`` maps a name to one value per epoch: ``"loss"`` (mean training loss over the
    epoch's samples), each metric by name, their ``"val_"`` twins when validation data were
    given, ``"lr"`` (the first parameter group's rate during the epoch) and ``"time"`` (seconds
    the epoch took). ``epoch`` lists the epoch numbers (from 0); ``steps`` counts optimizer steps;
    ``stop_reason`` says why training ended.

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
    >>> history = train.fit(model, loss_fn, optimizer, data, epochs=3, progress=False)
    >>> history.epoch, sorted(history.history), history.steps
    ([0, 1, 2], ['loss', 'lr', 'time'], 12)

    ```
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.steps = 0
        self.stop_reason = ""
        self.params: dict[str, Any] = {}

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        """Record one epoch's figures; a name first seen late is padded with NaN before."""
        self.epoch.append(epoch)
        for name, value in logs.items():
            column = self.history.get(name)
            if column is None:
                column = self.history[name] = [math.nan] * (len(self.epoch) - 1)
            column.append(float(value))
        for column in self.history.values():
            if len(column) < len(self.epoch):
                column.append(math.nan)

    def __getitem__(self, name: str) -> list[float]:
        return self.history[name]

    def __contains__(self, name: str) -> bool:
        return name in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def last(self) -> dict[str, float]:
        """The last epoch's figures, by name (empty before the first epoch ends)."""
        return {name: column[-1] for name, column in self.history.items() if column}

    def plot(self, path: str | os.PathLike[str], title: str | None = None) -> Path:
        """Write a PNG of loss and metrics per epoch (needs matplotlib); returns the path."""
        from chainrule.plot import loss_curve

        return loss_curve(self, path, title=title)

    def __repr__(self) -> str:
        last = ", ".join(f"{name}={value:.4g}" for name, value in self.last().items())
        return f"History({len(self.epoch)} epochs, {self.steps} steps{', ' if last else ''}{last})"
