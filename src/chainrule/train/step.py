"""TrainStep: one whole training step, replayed by ``chainrule.compile`` where it can be.

A training step is ``optimizer.zero_grad(); loss = loss_fn(model(x), y); loss.backward();
optimizer.step()``. Eager mode discovers the network anew on every call: each layer is a
module call that reaches an operation through ``Function.apply``, every result is a tensor with
a graph node, and ``backward`` searches and sorts the graph before walking it. On a small
network that bookkeeping costs more than the arithmetic.

TrainStep hands the step to :func:`chainrule.compile`, which records the array operations the
eager step runs on its first two calls and replays them afterwards, bit for bit, whatever the
layers, loss and optimiser (compiled/). Which models take that path is TrainStep's contract
from before the general mechanism existed: a :class:`~chainrule.nn.Sequential` (nested ones
included) called on one input tensor that does not require grad, with gradient recording on,
no anomaly detection and no hooks on the containers or the loss. ``compile=True`` (what
``fit(compile=True)`` uses) replays any model, ``compile="kernels"`` too, through numba's
kernels (``chainrule.compile(kernels=True)``), ``compile=False`` none. Every other call runs
eagerly (:meth:`TrainStep.eager_forward`), and so does every call that ``chainrule.compile``
itself declines to replay (with ``compile=True``, it warns why; ``compiled.reasons`` lists it).

``fit`` runs its steps through a TrainStep (``begin``, then the pass's ``backward``), so that
its callbacks see the loss before the backward pass and the gradients before the update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.autograd.grad_mode import current_mode
from chainrule.compiled import CompiledStep
from chainrule.nn.containers import Sequential
from chainrule.tensor import Tensor


class TrainStep:
    """``step(x, y)`` does ``optimizer.zero_grad()``, ``loss_fn(model(x), y).backward()`` and
    ``optimizer.step()``, and returns the loss as a tensor without a graph.

    The result is exactly that of the four eager lines; after its first two calls (eager, and
    recorded) the step runs as a replay of their array operations.

    ```pycon
    >>> import chainrule
    >>> from chainrule import nn, optim
    >>> model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    >>> x, y = chainrule.randn(16, 2), chainrule.randn(16, 1)
    >>> step = TrainStep(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    >>> losses = [step(x, y).item() for epoch in range(20)]
    >>> losses[-1] < losses[0]
    True

    ```
    """

    def __init__(
        self,
        model: Callable[..., Any],
        loss_fn: Callable[..., Tensor],
        optimizer: Any,
        *,
        compile: bool | str | None = None,  # noqa: A002 - as fit's argument
    ) -> None:
        # Any callable model and any object with zero_grad() and step() will do, as in a
        # PyTorch loop.
        if not callable(model):
            raise TypeError(f"TrainStep: model must be callable, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"TrainStep: loss_fn must be callable, got {type(loss_fn).__name__}")
        if not (
            callable(getattr(optimizer, "zero_grad", None))
            and callable(getattr(optimizer, "step", None))
        ):
            raise TypeError(
                "TrainStep: optimizer must have zero_grad() and step(), got "
                f"{type(optimizer).__name__}"
            )
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        if compile not in (None, True, False, "kernels"):
            raise TypeError(
                f"TrainStep: compile must be None, True, False or 'kernels', got {compile!r}"
            )
        kernels = compile == "kernels"
        self.compile = True if kernels else compile
        # Asked for, compile says why a step runs eagerly; by default it quietly does.
        self.compiled = CompiledStep(
            self._forward_and_backward, warn=self.compile is True, kernels=kernels
        )

    def __repr__(self) -> str:
        return f"TrainStep(model={type(self.model).__name__}, loss_fn={self.loss_fn!r})"

    # ---- the step ----------------------------------------------------------------------------

    def __call__(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        run = self.forward(input, target)
        run.backward()
        self.optimizer.step()
        return run.loss

    def forward(self, input: Any, target: Any) -> ForwardPass:  # noqa: A002
        """``optimizer.zero_grad()``, the forward pass and the loss; the result's ``backward()``
        leaves every parameter's gradient, and ``optimizer.step()`` is the caller's."""
        return self.begin((input,), target)

    def begin(self, inputs: tuple, target: Any) -> ForwardPass:
        """:meth:`forward` for a model that takes ``inputs`` as its positional arguments."""
        if not self._replayable(inputs):
            return self.eager_forward(inputs, target)
        loss, output = self.compiled(*inputs, target)
        # The replay has run the backward pass already: its gradients wait until the caller
        # asks for them, as an eager backward would leave them only then.
        held = [(p, p._grad) for group in self.optimizer.param_groups for p in group["params"]]
        for p, _ in held:
            p._grad = None
        return ForwardPass(_detached(loss), _detached(output), lambda: _give_back(held))

    def eager_forward(self, inputs: tuple, target: Any) -> ForwardPass:
        """The same forward pass in eager mode: what the calls TrainStep does not replay run."""
        self.optimizer.zero_grad()
        output = self.model(*inputs)
        loss = self.loss_fn(output, target)
        detached = output.detach() if isinstance(output, Tensor) else output
        return ForwardPass(loss.detach(), detached, loss.backward)

    def _forward_and_backward(self, *inputs_and_target: Any) -> tuple[Any, Any]:
        """What ``chainrule.compile`` records: zero_grad, forward, loss and backward."""
        *inputs, target = inputs_and_target
        self.optimizer.zero_grad()
        output = self.model(*inputs)
        loss = self.loss_fn(output, target)
        loss.backward()
        return loss, output

    def _replayable(self, inputs: tuple) -> bool:
        mode = current_mode()
        if not mode.grad or mode.anomaly or getattr(self.loss_fn, "_call_hooks", None):
            return False
        if self.compile is not None:
            return self.compile and getattr(self.model, "_call_hooks", None) is None
        return (
            len(inputs) == 1
            and isinstance(inputs[0], Tensor)
            and not inputs[0]._requires_grad
            and type(self.model) is Sequential
            and _without_container_hooks(self.model)
        )


def _without_container_hooks(container: Sequential) -> bool:
    if container._call_hooks is not None:
        return False
    return all(
        _without_container_hooks(module)
        for module in container._modules.values()
        if type(module) is Sequential
    )


def _detached(value: Any) -> Any:
    if isinstance(value, Tensor) and (value._requires_grad or value._ctx is not None):
        return value.detach()
    return value


def _give_back(held: list) -> None:
    for p, grad in held:
        p._grad = grad


class ForwardPass:
    """A forward pass of a :class:`TrainStep` waiting for its backward: ``loss`` and ``output``
    as tensors without a graph, and ``backward()``, which may run once."""

    __slots__ = ("_pending", "loss", "output")

    def __init__(self, loss: Tensor, output: Any, backward: Callable[[], Any]) -> None:
        self.loss, self.output, self._pending = loss, output, backward

    def backward(self) -> None:
        """Leave ∂C/∂p in the ``.grad`` of every parameter p, as ``loss.backward()`` does."""
        pending = self._pending
        if pending is None:
            raise RuntimeError("ForwardPass.backward: this pass has already been carried back")
        self._pending = None
        pending()
