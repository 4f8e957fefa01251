"""TrainStep: one whole training step for a chain of layers, without eager mode's bookkeeping.

A training step is ``optimizer.zero_grad(); loss = loss_fn(model(x), y); loss.backward();
optimizer.step()``. Eager mode discovers the network anew on every call: each layer is a
module call that reaches an operation through ``Function.apply``, every result is a tensor with
a graph node, and ``backward`` searches and sorts the graph before walking it. On a small
network that bookkeeping costs more than the arithmetic.

When the model is a :class:`~chainrule.nn.Sequential` (nested ones are flattened), the order
of the layers is known before the step runs, so none of that is needed. A layer that is
exactly one operation (``Linear``, ``Sigmoid``, ``Tanh``, ``ReLU``; ``Identity`` is skipped;
``MSELoss`` as the loss) runs that operation's own ``forward`` and, in reverse order,
``backward``: the very code that eager mode runs, on the same arrays and in the same order, so
the parameters after any number of steps are bit for bit those of the eager step. Every other
layer, and every other loss, runs as an eager piece of the chain: its input is cut off as a
leaf that requires grad, and the engine walks that piece's own graph backwards.

A layer with hooks (or with a hooked parameter) runs as an eager piece, so its hooks run as
they would in eager mode. The whole call runs eagerly where the fast path could differ from
eager mode: gradient recording off, anomaly detection on, hooks on a container or on the loss,
an input that requires grad, several inputs, or a model that is not a Sequential. Errors name
the layer as eager mode does.

``fit`` runs its steps through a TrainStep (``begin``, then the pass's ``backward``), so that
its callbacks see the loss before the backward pass and the gradients before the update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule import backend, fp_errors
from chainrule.autograd import engine
from chainrule.autograd.grad_mode import Mode, current_mode
from chainrule.nn.containers import Sequential
from chainrule.nn.layers.linear import Identity, Linear
from chainrule.nn.module import Module
from chainrule.nn.rectifiers import ReLU
from chainrule.nn.regression_losses import MSELoss
from chainrule.nn.smooth_activations import Sigmoid, Tanh
from chainrule.ops import linalg, rectifiers, smooth_activations
from chainrule.ops import regression_losses as loss_ops
from chainrule.tensor import Tensor

_new = object.__new__


def _recording_plainly(mode: Mode) -> bool:
    """Gradients recorded and no anomaly detection: the fast path gives eager mode's result."""
    return mode.grad and not mode.anomaly


def _no_tensors(module: Module) -> tuple:
    return ()


def _weight_and_bias(module: Module) -> tuple:
    return (module.weight, module.bias)


# Layer types (exact: a subclass may override forward) whose forward is exactly one operation
# applied to (input, *tensors): the operation, and the module's tensors in that order. Each
# entry must say what the module's forward does; tests/train/test_step.py holds every entry to
# the eager step, bit for bit.
_ONE_OPERATION: dict[type, tuple[type, Callable[[Module], tuple]]] = {
    Linear: (linalg.Linear, _weight_and_bias),
    Sigmoid: (smooth_activations.Sigmoid, _no_tensors),
    Tanh: (smooth_activations.Tanh, _no_tensors),
    ReLU: (rectifiers.ReLU, _no_tensors),
}


class TrainStep:
    """``step(x, y)`` does ``optimizer.zero_grad()``, ``loss_fn(model(x), y).backward()`` and
    ``optimizer.step()``, and returns the loss as a tensor without a graph.

    The result is exactly that of the four eager lines. On a ``Sequential`` of ``Linear`` and
    activation layers it saves most of eager mode's per-operation cost: the XOR step takes about
    three quarters of the eager step's time, 0.28 of PyTorch's (see BENCHMARKS.md).

    >>> step = TrainStep(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    >>> for epoch in range(100):
    ...     loss = step(x, y)
    """

    def __init__(self, model: Callable[..., Any], loss_fn: Callable[..., Tensor], optimizer: Any):
        # Any callable model and any object with zero_grad() and step() will do, as in a
        # PyTorch loop; only a Sequential takes the fast path.
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
        self._containers: list[tuple[Sequential, tuple]] = []
        self._layers: list[tuple] = []

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
        if (
            len(inputs) == 1
            and _recording_plainly(current_mode())
            and isinstance(inputs[0], Tensor)
            and not inputs[0]._requires_grad
            and getattr(self.loss_fn, "_call_hooks", None) is None
        ):
            layers = self._chain()
            if layers is not None:
                self.optimizer.zero_grad()
                # NumPy's warnings silenced as a module call and backward silence them.
                token = fp_errors.enter()
                try:
                    tape, output, upstream = self._forward(layers, inputs[0].array)
                    loss, output_gradient = self._loss(output, upstream, target)
                finally:
                    fp_errors.leave(token)
                return ForwardPass(
                    Tensor._make(loss, False, None),
                    Tensor._make(output, False, None),
                    lambda: self._quiet_backward(tape, output_gradient),
                )
        return self.eager_forward(inputs, target)

    def _quiet_backward(self, tape: list, output_gradient: Callable[[], Any]) -> None:
        token = fp_errors.enter()
        try:
            self._backward(tape, output_gradient(), set())
        finally:
            fp_errors.leave(token)

    def eager_forward(self, inputs: tuple, target: Any) -> ForwardPass:
        """The same forward pass in eager mode: what every call falls back to."""
        self.optimizer.zero_grad()
        output = self.model(*inputs)
        loss = self.loss_fn(output, target)
        detached = output.detach() if isinstance(output, Tensor) else output
        return ForwardPass(loss.detach(), detached, loss.backward)

    def _forward(self, layers: list[tuple], a: Any) -> tuple[list, Any, bool]:
        """Run the chain on array ``a``; returns the tape for backward, the output, and whether
        anything so far requires grad."""
        upstream = False  # whether ∂C/∂(this layer's input) is wanted
        tape: list = []
        ndarray = backend.ndarray
        for layer, operation, tensors_of in layers:
            if operation is not None and layer._call_hooks is None:
                tensors = tensors_of(layer)
                arrays = [a]
                needs = [upstream]
                for tensor in tensors:
                    if tensor is None:
                        arrays.append(None)
                        needs.append(False)
                    elif tensor._hooks is None:
                        arrays.append(tensor.array)
                        needs.append(tensor._requires_grad)
                    else:  # a hooked parameter: the hook runs in an eager piece
                        break
                else:
                    node = _new(operation)
                    node.needs_input_grad = needs  # as Function.apply sets it, before forward
                    try:
                        out = node.forward(*arrays)
                    except (ValueError, IndexError, TypeError):
                        # Let the layer raise its own error, which names it and the shapes.
                        layer(Tensor._make(a, False, None))
                        raise
                    if type(out) is not ndarray:
                        out = backend.as_array(out)
                    if True in needs:
                        tape.append((node, tensors, a))
                        upstream = True
                    a = out
                    continue
            if type(layer) is Identity and layer._call_hooks is None:
                continue
            # An eager piece: its input becomes a leaf, and the engine walks its graph.
            leaf = Tensor._make(a, upstream, None)
            out = layer(leaf)
            if not isinstance(out, Tensor):
                raise TypeError(
                    f"TrainStep: {type(layer).__name__} returned {type(out).__name__}; the "
                    "layers of a Sequential must each return one tensor"
                )
            # A piece whose output needs no gradient (a detach, a no_grad inside) cuts the
            # chain: nothing before it gets a gradient through it, as in eager mode.
            upstream = out._requires_grad
            if upstream:
                tape.append((None, leaf, out))
            a = out.array
        return tape, a, upstream

    def _loss(self, output: Any, upstream: bool, target: Any) -> tuple[Any, Callable[[], Any]]:
        """The loss, and the function that gives ∂C/∂output (None where the loss does not
        depend on the output) when the backward pass runs."""
        loss_fn = self.loss_fn
        if (
            upstream
            and type(loss_fn) is MSELoss
            and loss_fn.reduction != "none"
            and isinstance(target, Tensor)
            and not target._requires_grad
            and target.array.shape == output.shape
        ):
            node = _new(loss_ops.SquaredError)
            node.needs_input_grad = [True, False]
            loss = node.forward(output, target.array, loss_fn.reduction)
            if type(loss) is not backend.ndarray:
                loss = backend.as_array(loss)

            def squared_error_gradient() -> Any:
                grad = node.backward(backend.xp.array(1, dtype=loss.dtype))[0]
                return engine.conform_gradient(node, grad, output)

            return loss, squared_error_gradient
        # Any other loss runs eagerly on the output cut off as a leaf; its backward raises
        # eager mode's own errors (a loss that is not a scalar, nothing that requires grad).
        prediction = Tensor._make(output, upstream, None)
        loss_tensor = self.loss_fn(prediction, target)

        def eager_gradient() -> Any:
            loss_tensor.backward()
            grad = prediction._grad
            return None if grad is None else grad.array

        return loss_tensor.array, eager_gradient

    def _backward(self, tape: list, grad: Any, lent: set) -> None:
        """Carry ∂C/∂output back through the tape, leaving every parameter's gradient."""
        deliver = engine.deliver_to_leaf
        for node, tensors, layer_input in reversed(tape):
            if grad is None:
                return
            if node is None:  # an eager piece: tensors is its input leaf, layer_input its output
                leaf, output = tensors, layer_input
                lent.add(id(grad.base if grad.base is not None else grad))
                engine.backward(output, grad)
                grad = None if leaf._grad is None else leaf._grad.array
                continue
            grads = node.backward(grad)
            needs = node.needs_input_grad
            for index in range(1, len(needs)):
                if needs[index] and grads[index] is not None:
                    deliver(tensors[index - 1], grads[index], node, lent)
            grad = grads[0] if needs[0] else None
            if grad is not None:
                grad = engine.conform_gradient(node, grad, layer_input)

    # ---- the chain of layers -----------------------------------------------------------------

    def _chain(self) -> list[tuple] | None:
        """The model's layers in order, each with its operation and the getter of its tensors
        (None for a layer that runs eagerly); None when the model is not a Sequential or a
        container in it has hooks. Rebuilt only when a container's contents change."""
        containers = self._containers
        if containers:
            for container, contents in containers:
                if tuple(container._modules.values()) != contents:
                    break
                if container._call_hooks is not None:
                    return None
            else:
                return self._layers
        containers.clear()
        if type(self.model) is not Sequential:
            return None
        modules: list[Module] = []
        self._flatten(self.model, modules)
        self._layers = [
            (module, *_ONE_OPERATION.get(type(module), (None, None))) for module in modules
        ]
        return self._chain()

    def _flatten(self, container: Sequential, layers: list[Module]) -> None:
        contents = tuple(container._modules.values())
        self._containers.append((container, contents))
        for module in contents:
            if type(module) is Sequential:
                self._flatten(module, layers)
            elif module is not None:
                layers.append(module)


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
