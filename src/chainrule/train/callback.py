"""The callback protocol of :func:`chainrule.train.fit`: hooks at train, epoch and batch edges.

A callback is an object with any of the hook methods below; :class:`Callback` gives empty ones
to override. ``fit`` calls them in this order::

    on_train_begin
      on_epoch_begin(epoch)
        on_batch_begin(step)  forward, loss, backward  on_backward_end(step)  optimizer.step()
        on_batch_end(step)
      on_epoch_end(epoch)        # logs hold the epoch's loss, metrics, val_*, lr and time
    on_train_end

Before ``on_train_begin`` each callback is given the :class:`TrainingState`, reachable as
``self.state`` and through the shortcuts ``self.model`` and ``self.optimizer``. A callback stops
training by setting ``self.state.stop_training = True``; ``fit`` finishes the current batch and
epoch hooks, then ``on_train_end``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainingState:
    """What a running ``fit`` shares with its callbacks.

    ``step`` counts optimizer steps from 0 across epochs; ``epoch`` counts from 0.
    ``history`` is the :class:`~chainrule.train.History` being filled. ``loaders`` are the
    training (and validation) DataLoaders and ``callbacks`` all of the run's callbacks: what a
    :class:`~chainrule.train.Checkpoint` saves besides the model and the optimizer.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn, train
    >>> _ = cr.manual_seed(0)
    >>> x = cr.linspace(-1, 1, 32).reshape(32, 1)
    >>> model = nn.Linear(1, 1)
    >>> optimizer = cr.optim.SGD(model.parameters(), lr=0.5)
    >>> class Steps(train.Callback):
    ...     def on_train_end(self, logs=None):
    ...         print(self.state.epoch, self.state.step)
    >>> _ = train.fit(model, nn.MSELoss(), optimizer, (x, 3 * x), epochs=2, batch_size=8,
    ...               progress=False, callbacks=[Steps()])
    1 8

    ```
    """

    model: Any
    optimizer: Any
    loss_fn: Any
    history: Any = None
    scheduler: Any = None
    epoch: int = 0
    step: int = 0
    stop_training: bool = False
    stop_reason: str | None = None
    # Whether the stop is the step budget's (max_steps), which a resumed run with a larger
    # budget goes past, rather than a decision about the run (a callback's, stop_at_loss).
    stopped_by_budget: bool = False
    loaders: tuple[Any, ...] = ()
    callbacks: list[Any] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class Callback:
    """Base class of callbacks: every hook does nothing until overridden.

    ``logs`` is a dict: in batch hooks ``{"loss": float, "lr": float, "batch_size": int}``
    (``on_batch_begin`` gets ``{}``); in ``on_epoch_end`` the epoch's means
    ``{"loss", <metric names>, "val_loss", "val_<metric>", "lr", "time"}``.

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
    >>> class Count(train.Callback):
    ...     epochs = 0
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         self.epochs += 1
    >>> count = Count()
    >>> _ = train.fit(model, loss_fn, optimizer, data, epochs=3, progress=False,
    ...           callbacks=[count])
    >>> count.epochs
    3

    ```
    """

    state: TrainingState

    def set_state(self, state: TrainingState) -> None:
        self.state = state

    @property
    def model(self) -> Any:
        return self.state.model

    @property
    def optimizer(self) -> Any:
        return self.state.optimizer

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Called once before the first epoch."""

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Called once after the last epoch, also when a callback or a stop condition ended it."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Called at the start of each epoch (``epoch`` from 0)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Called after each epoch's training and validation, with the epoch's figures."""

    def on_batch_begin(self, step: int, logs: dict[str, Any] | None = None) -> None:
        """Called before each batch's forward pass (``step`` counts batches across epochs)."""

    def on_backward_end(self, step: int, logs: dict[str, Any] | None = None) -> None:
        """Called after ``loss.backward()`` and before ``optimizer.step()``: gradients are set."""

    def on_batch_end(self, step: int, logs: dict[str, Any] | None = None) -> None:
        """Called after the optimizer step, with the batch's loss."""


class CallbackList:
    """Calls one hook on every callback in order; hooks a callback lacks are skipped."""

    def __init__(self, callbacks: Iterable[Any], state: TrainingState) -> None:
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if hasattr(callback, "set_state"):
                callback.set_state(state)
            else:
                callback.state = state

    def call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(*args)
