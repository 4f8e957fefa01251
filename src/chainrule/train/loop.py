"""``fit``, ``evaluate`` and ``predict``: the training process of the seed articles as one call.

Repeat forward pass, loss, backward pass and update until a stop condition holds — the epoch
budget (``epochs``), a step budget (``max_steps``), a loss threshold (``stop_at_loss``) or a
callback such as EarlyStopping. Per-sample training is ``batch_size=1``; full-batch training is
``batch_size=len(data)``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.grad_mode import no_grad
from chainrule.distributed.process_group import average_figures, is_main_process
from chainrule.tensor import Tensor
from chainrule.train.callback import CallbackList, TrainingState
from chainrule.train.checkpoint import arrange_callbacks, load_checkpoint, resume, resume_streams
from chainrule.train.checks import preflight
from chainrule.train.history import History
from chainrule.train.inputs import as_loader, check_batch_size, place_model, to_device
from chainrule.train.scoring import resolve, score
from chainrule.train.step import TrainStep


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite during ``fit``; ``.history`` holds the finished epochs.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn, train
    >>> _ = cr.manual_seed(0)
    >>> x = cr.linspace(-1, 1, 32).reshape(32, 1)
    >>> y = 3 * x
    >>> model = nn.Linear(1, 1)
    >>> optimizer = cr.optim.SGD(model.parameters(), lr=1e6)
    >>> loss_fn = nn.MSELoss()
    >>> data = cr.data.DataLoader(cr.data.TensorDataset(x, y), batch_size=8)
    >>> try:
    ...     train.fit(model, loss_fn, optimizer, data, epochs=5, progress=False)
    ... except train.TrainingDivergedError:
    ...     print("diverged")
    diverged

    ```
    """

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


def _takes_logits(loss_fn: Any) -> bool:
    return type(loss_fn).__name__ in ("BCEWithLogitsLoss", "CrossEntropyLoss")


def _numpy(tensor: Tensor) -> numpy.ndarray:
    return backend.to_numpy(tensor.array)


def _split(batch: Any) -> tuple[list[Any], Any]:
    items = list(batch) if isinstance(batch, (tuple, list)) else [batch]
    return items[:-1], items[-1]


def _progress_wanted(progress: bool | str) -> bool:
    if progress == "auto":
        return sys.stderr.isatty()
    if not isinstance(progress, bool):
        raise ValueError(f"fit: progress must be True, False or 'auto', got {progress!r}")
    return progress


def fit(
    model: Any,
    loss_fn: Any,
    optimizer: Any,
    train_data: Any,
    epochs: int = 1,
    val_data: Any = None,
    batch_size: int = 32,
    scheduler: Any = None,
    callbacks: Sequence[Any] = (),
    metrics: Sequence[Any] = (),
    stop_at_loss: float | None = None,
    max_steps: int | None = None,
    progress: bool | str = True,
    shuffle: bool = True,
    seed: int | None = None,
    scheduler_interval: str = "epoch",
    checkpoint: Any = None,
    resume_from: str | os.PathLike[str] | None = None,
    compile: bool | str | None = None,  # noqa: A002 - torch.compile's name
    device: Any = None,
) -> History:
    """Train ``model`` on ``train_data`` and return a :class:`History` of per-epoch figures.

    Args:
        train_data, val_data: a DataLoader, a Dataset of ``(inputs..., target)`` samples, or a
            pair ``(x, y)`` of arrays/tensors (batched with ``batch_size``, shuffled each epoch
            when ``shuffle``, reproducibly from ``seed`` or from ``chainrule.manual_seed``).
        epochs: the epoch budget, counting the epochs of a run resumed from (as Keras's
            ``initial_epoch``). ``max_steps``: a budget of optimizer steps, checked after every
            step. ``stop_at_loss``: stop once an epoch's mean training loss is at or below it.
        scheduler: a learning-rate scheduler stepped after every epoch (``scheduler_interval=
            "step"``: after every optimizer step); ``ReduceLROnPlateau`` gets ``val_loss`` when
            there are validation data, else ``loss``.
        metrics: names (``"accuracy"``, ``"f1"``, ``"precision"``, ``"recall"``, ``"mse"``,
            ``"mae"``, ``"r2"``) or functions ``f(y_true, y_pred)``; see
            :mod:`chainrule.train.scoring`.
        callbacks: objects with the hooks of :class:`chainrule.train.Callback`.
        progress: a tqdm progress bar over all steps on stderr with the loss and metrics;
            ``False`` is silent, ``"auto"`` shows it only when stderr is a terminal.
        checkpoint: a file path, rewritten at the end of every epoch with the whole training
            state, or a :class:`chainrule.train.Checkpoint`; its directory is checked first.
        resume_from: the path of such a checkpoint: the model, optimizer, scheduler, counters,
            history, callbacks' state and random generators are put back and training goes on
            from the next epoch, as if it had never stopped (bit for bit, given the same model,
            optimizer, scheduler, data and arguments). A checkpoint at or past ``epochs``
            trains nothing. Files that cannot be read raise :class:`chainrule.io.LoadError`.
        compile: ``True`` replays the steps with :func:`chainrule.compile`, whatever the model:
            the array operations of the eager step, recorded on its first two calls, bit for bit
            the eager result (callbacks run as usual: ``on_backward_end`` sees the gradients
            before the update). ``None`` (the default) does so for a ``Sequential`` model (see
            :class:`chainrule.train.TrainStep`), ``False`` never. ``"kernels"`` replays as
            ``True`` does, through numba's kernels (``chainrule.compile(kernels=True)``; the
            ``[numba]`` extra): faster on small networks, and equal to eager mode to a few
            units in the last place instead of bit for bit.
        device: where to train ("cpu", "cuda" or a :class:`chainrule.device`): the model (and
            the optimizer's state) are moved there first, in place, and every batch is moved
            there with ``.to(device)`` as it comes from the loader, so that the data can stay
            on the CPU. None trains where the model's parameters are, moving the batches there.

    The data are checked before the first step (finite values, the model's input size, labels
    within the model's classes, target shapes the loss can take). A loss that becomes NaN or
    infinite stops training with :class:`TrainingDivergedError` naming the step, the epoch and
    the last finite loss; the update that would have used it is not made.

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
    >>> history = train.fit(model, loss_fn, optimizer, data, epochs=20, progress=False)
    >>> len(history.epoch), history.history["loss"][-1] < 1e-4
    (20, True)

    ```
    """
    where = "fit"
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    if max_steps is not None and (
        isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1
    ):
        raise ValueError(f"fit: max_steps must be a positive integer or None, got {max_steps!r}")
    if stop_at_loss is not None and not (
        isinstance(stop_at_loss, (int, float)) and math.isfinite(stop_at_loss)
    ):
        raise ValueError(f"fit: stop_at_loss must be a finite number or None, got {stop_at_loss!r}")
    if scheduler_interval not in ("epoch", "step"):
        raise ValueError(
            f"fit: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}"
        )
    batch_size = check_batch_size(batch_size, where)
    show_progress = _progress_wanted(progress) and is_main_process()  # one bar, rank 0's
    chosen_metrics = resolve(metrics, where)
    callbacks = arrange_callbacks(callbacks, checkpoint, where)
    device = place_model(model, optimizer, device, where)
    # On the host: load_state_dict copies each value to where its parameter is.
    resumed = None if resume_from is None else load_checkpoint(resume_from, map_location="cpu")
    loader = as_loader(train_data, "train_data", where, batch_size, shuffle, seed)
    val_loader = (
        None
        if val_data is None
        else as_loader(val_data, "val_data", where, batch_size, False, None)
    )
    preflight(model, loss_fn, loader, "train_data", where, device)
    if val_loader is not None:
        preflight(model, loss_fn, val_loader, "val_data", where, device)

    history = History()
    history.params = {
        "epochs": epochs,
        "batch_size": loader.batch_size,
        "steps_per_epoch": len(loader),
        "samples": len(loader.dataset),
    }
    loaders = (loader,) if val_loader is None else (loader, val_loader)
    state = TrainingState(
        model,
        optimizer,
        loss_fn,
        history=history,
        scheduler=scheduler,
        loaders=loaders,
        callbacks=callbacks,
    )
    start = (
        0
        if resumed is None
        else resume(resumed, state, f"{where}: resume_from {str(resume_from)!r}")
    )
    if max_steps is not None and state.step >= max_steps:
        start = max(start, epochs)  # the step budget was spent before the checkpoint
    losses = history.history.get("loss")
    if resumed is not None and stop_at_loss is not None and losses and losses[-1] <= stop_at_loss:
        state.stop_training = True  # the run reached stop_at_loss at its checkpoint's epoch
        state.stop_reason = (
            f"the loss {losses[-1]:.6g} reached stop_at_loss={stop_at_loss} at epoch {start}"
        )
    if state.stop_training:
        start = max(start, epochs)  # the run was stopped before the checkpoint
    runner = TrainStep(model, loss_fn, optimizer, compile=compile)
    hooks = CallbackList(callbacks, state)
    logits = _takes_logits(loss_fn)
    total = max(epochs - start, 0) * len(loader)
    if max_steps is not None:
        total = max(min(max_steps - state.step, total), 0)
    bar = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="step", dynamic_ncols=True, mininterval=0.2, file=sys.stderr)
    last_finite: tuple[int, float] | None = None
    try:
        hooks.call("on_train_begin", {})
        if resumed is not None:
            resume_streams(resumed, state)
        for epoch in range(start, epochs):
            state.epoch = epoch
            if epoch == start or not model.training:  # evaluate() restores the mode it found
                model.train()
            hooks.call("on_epoch_begin", epoch, {})
            if hasattr(loader.sampler, "set_epoch"):  # DistributedSampler: a new order
                loader.sampler.set_epoch(epoch)
            lr = float(optimizer.param_groups[0]["lr"])
            started = time.perf_counter()
            loss_sum, seen = 0.0, 0
            outputs: list[numpy.ndarray] = []
            targets: list[numpy.ndarray] = []
            next_postfix = 0.0
            for batch in loader:
                step = state.step
                inputs, target = _split(batch if device is None else to_device(batch, device))
                hooks.call("on_batch_begin", step, {})
                # zero_grad, forward and loss; TrainStep gives eager mode's result bit for bit,
                # without its per-operation bookkeeping where the model is a Sequential.
                run = runner.begin(inputs, target)
                loss = run.loss
                value = float(loss.item())
                if not math.isfinite(value):
                    history.stop_reason = f"the loss became {value} at step {step}"
                    hooks.call("on_train_end", {"loss": value})
                    raise TrainingDivergedError(
                        _divergence_message(value, step, epoch, last_finite, callbacks), history
                    )
                last_finite = (step, value)
                run.backward()
                count = len(target)
                logs = {"loss": value, "lr": lr, "batch_size": count}
                hooks.call("on_backward_end", step, logs)
                _optimizer_step(optimizer, runner, inputs, target)
                if scheduler is not None and scheduler_interval == "step":
                    _step_scheduler(scheduler, value)
                loss_sum += value * count
                seen += count
                if chosen_metrics:
                    outputs.append(_numpy(run.output))
                    targets.append(_numpy(target) if isinstance(target, Tensor) else target)
                state.step = history.steps = step + 1
                hooks.call("on_batch_end", step, logs)
                if bar is not None:
                    bar.update(1)
                    now = time.perf_counter()
                    if now >= next_postfix:
                        bar.set_postfix(epoch=epoch + 1, loss=f"{value:.4g}", refresh=False)
                        next_postfix = now + 0.2
                if max_steps is not None and state.step >= max_steps:
                    state.stop_training = state.stopped_by_budget = True
                    state.stop_reason = state.stop_reason or f"reached max_steps={max_steps}"
                if state.stop_training:
                    break
            epoch_logs = {"loss": loss_sum / seen}
            if chosen_metrics:
                epoch_logs.update(
                    score(
                        chosen_metrics,
                        numpy.concatenate(outputs),
                        numpy.concatenate(targets),
                        logits,
                    )
                )
            # Under chainrule.distributed every rank logs, and stops on, the mean over ranks.
            epoch_logs = average_figures(epoch_logs, weight=seen)
            if val_loader is not None:
                figures = evaluate(model, val_loader, chosen_metrics, loss_fn, device=device)
                figures = average_figures(figures)
                epoch_logs.update({f"val_{name}": value for name, value in figures.items()})
            epoch_logs["lr"] = lr
            epoch_logs["time"] = time.perf_counter() - started
            if scheduler is not None and scheduler_interval == "epoch":
                _step_scheduler(scheduler, epoch_logs.get("val_loss", epoch_logs["loss"]))
            history.append(epoch, epoch_logs)
            hooks.call("on_epoch_end", epoch, epoch_logs)
            if bar is not None:
                bar.set_postfix(_postfix(epoch, epoch_logs), refresh=False)
            if stop_at_loss is not None and epoch_logs["loss"] <= stop_at_loss:
                state.stop_training = True
                state.stop_reason = state.stop_reason or (
                    f"the loss {epoch_logs['loss']:.6g} reached stop_at_loss={stop_at_loss} "
                    f"at epoch {epoch + 1}"
                )
            if state.stop_training:
                break
        history.stop_reason = state.stop_reason or f"finished {len(history)} epochs"
        hooks.call("on_train_end", history.last())
    finally:
        if bar is not None:
            bar.close()
    return history


def _optimizer_step(optimizer: Any, runner: TrainStep, inputs: list[Any], target: Any) -> None:
    """``optimizer.step()``, or for an optimiser that evaluates the loss itself several times
    per step (LBFGS), ``step(closure)`` with a closure that recomputes loss and gradients."""
    if not getattr(optimizer, "needs_closure", False):
        optimizer.step()
        return

    def closure() -> Tensor:
        run = runner.begin(inputs, target)
        run.backward()
        return run.loss

    optimizer.step(closure)


def _postfix(epoch: int, logs: dict[str, float]) -> dict[str, str]:
    shown = {"epoch": str(epoch + 1)}
    shown.update({k: f"{v:.4g}" for k, v in logs.items() if k not in ("lr", "time")})
    return shown


def _step_scheduler(scheduler: Any, figure: float) -> None:
    from chainrule.optim.lr_scheduler import ReduceLROnPlateau

    if isinstance(scheduler, ReduceLROnPlateau):
        scheduler.step(figure)
    else:
        scheduler.step()


def _divergence_message(
    value: float, step: int, epoch: int, last: tuple[int, float] | None, callbacks: Sequence[Any]
) -> str:
    before = (
        f"the last finite loss was {last[1]:.6g} at step {last[0]}"
        if last is not None
        else "no step had a finite loss"
    )
    message = (
        f"fit: the loss became {value} at step {step} (epoch {epoch + 1}); {before}. "
        "Training stopped before this step's update. Try a lower learning rate, gradient "
        "clipping (chainrule.nn.utils.clip_grad_norm_), or check the data and the loss."
    )
    saved = [path for cb in callbacks for path in getattr(cb, "saved", [])]
    if saved:
        message += f" The last good checkpoint is {saved[-1]}."
    return message


def evaluate(
    model: Any,
    data: Any,
    metrics: Sequence[Any] = (),
    loss_fn: Any = None,
    batch_size: int = 256,
    device: Any = None,
) -> dict[str, float]:
    """The model's mean loss (when ``loss_fn`` is given) and metrics on ``data``, in eval mode
    without a graph. ``data`` and ``device`` as for :func:`fit`. Returns ``{"loss": ...,
    name: ...}``; the loss is the mean over samples of a ``reduction="mean"`` loss's batch
    values.

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
    >>> _ = train.fit(model, loss_fn, optimizer, data, epochs=20, progress=False)
    >>> scores = train.evaluate(model, data, metrics=["mae"], loss_fn=loss_fn)
    >>> sorted(scores), scores["mae"] < 0.01
    (['loss', 'mae'], True)

    ```
    """
    where = "evaluate"
    chosen = metrics if metrics and hasattr(metrics[0], "wants_labels") else resolve(metrics, where)
    loader = as_loader(data, "data", where, check_batch_size(batch_size, where), False, None)
    device = place_model(model, None, device, where)
    outputs, targets = [], []
    loss_sum, seen = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for batch in loader:
                inputs, target = _split(batch if device is None else to_device(batch, device))
                output = model(*inputs)
                count = len(target)
                if loss_fn is not None:
                    loss_sum += float(loss_fn(output, target).item()) * count
                seen += count
                if chosen:
                    outputs.append(_numpy(output))
                    targets.append(_numpy(target) if isinstance(target, Tensor) else target)
    finally:
        model.train(was_training)
    figures = {} if loss_fn is None else {"loss": loss_sum / seen}
    if chosen:
        figures.update(
            score(
                chosen,
                numpy.concatenate(outputs),
                numpy.concatenate(targets),
                _takes_logits(loss_fn),
            )
        )
    return figures


def predict(model: Any, data: Any, batch_size: int = 256, device: Any = None) -> numpy.ndarray:
    """The model's outputs on ``data`` as one NumPy array (N, ...), in eval mode, no graph;
    ``device`` as for :func:`fit` (the outputs are copied back to the host).

    ``data``: an array or tensor of inputs; a Dataset or DataLoader whose samples are
    ``(inputs..., target)`` (the target is ignored) or a single input tensor.

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
    >>> _ = train.fit(model, loss_fn, optimizer, data, epochs=20, progress=False)
    >>> out = train.predict(model, x)
    >>> out.shape, round(float(out[-1, 0]), 2)
    ((32, 1), 3.0)

    ```
    """
    where = "predict"
    batch_size = check_batch_size(batch_size, where)
    if isinstance(data, (Tensor, numpy.ndarray)) or (
        isinstance(data, list) and not hasattr(data, "dataset")
    ):
        data = (data, numpy.zeros(len(data), dtype=numpy.int8))
        strip_target = True
    else:
        strip_target = None
    loader = as_loader(data, "data", where, batch_size, False, None)
    device = place_model(model, None, device, where)
    results = []
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for batch in loader:
                if device is not None:
                    batch = to_device(batch, device)
                items = list(batch) if isinstance(batch, (tuple, list)) else [batch]
                inputs = items[:-1] if (strip_target or len(items) > 1) else items
                results.append(_numpy(model(*inputs)))
    finally:
        model.train(was_training)
    return numpy.concatenate(results)
