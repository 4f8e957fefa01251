"""The base class of every differentiable operation: a forward and its vector-Jacobian product.

An operation subclasses :class:`Function` and writes two methods side by side::

    class Exp(Function):
        '''d/dx exp(x) = exp(x)'''

        def forward(self, x):
            out = xp.exp(x)
            self.saved = (out,)
            return out

        def backward(self, grad):
            (out,) = self.saved
            return (grad * out,)

``forward`` receives arrays (and Python scalars or options) and returns one array; it keeps
what ``backward`` needs in ``self.saved`` (freed after the backward pass) and small options as
attributes. ``backward`` receives ∂C/∂out and returns ∂C/∂input for each forward input, or
``None`` where ``self.needs_input_grad`` says no gradient is wanted. Both are pure functions of
arrays: no global state, so the same code runs on NumPy and CuPy arrays.

The instance itself is the graph node: it remembers its ``inputs`` (tensors and constants) so
that the engine can walk backwards without knowing what any operation does.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.anomaly_mode import AnomalyMode
from chainrule.autograd.grad_mode import current_mode
from chainrule.autograd.versions import clock
from chainrule.tensor import Tensor


class _Freed(tuple):
    """Marks a node whose saved arrays were released by a backward pass."""


FREED = _Freed()

_new = object.__new__


class Function:
    """A differentiable operation and, once applied, the graph node that records it."""

    saved: tuple = ()
    inputs: tuple = ()
    needs_input_grad: list = []  # noqa: RUF012 - replaced per node, never mutated
    # Scratch space of the engine's reverse walk: the search mark and the gradient summed so
    # far for this node's output.
    visit: object = None
    pending: Any = None
    # Set on the node of an in-place change: the tensor as it was before (autograd/engine.py).
    previous: Tensor | None = None

    def forward(self, *args: Any, **options: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no forward")

    def backward(self, grad: Any) -> tuple:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        """Run ``forward`` on the arrays inside ``inputs``; record a node if a gradient is due."""
        node = _new(cls)
        mode = current_mode()
        if mode.grad:
            arrays = []
            needs = []
            for value in inputs:
                if isinstance(value, Tensor):
                    arrays.append(value.array)
                    needs.append(value._requires_grad)
                else:
                    arrays.append(value)
                    needs.append(False)
            # Set before forward, so that a forward saves only what the wanted gradients need
            # (an array nobody saved may then be changed in place, as in PyTorch).
            node.needs_input_grad = needs
        else:  # no graph: the arrays are all that forward needs
            arrays = [value.array if isinstance(value, Tensor) else value for value in inputs]
            needs = None
        try:
            # Most operations take no options, and a call without ** is measurably cheaper.
            out = node.forward(*arrays, **options) if options else node.forward(*arrays)
        except (ValueError, IndexError, TypeError) as error:
            raise _with_context(cls, inputs, error) from error
        if type(out) is not backend.ndarray:
            out = backend.as_array(out)
        if mode.anomaly:
            AnomalyMode.watch(node, inputs, out)
        # Tensor._make written out: this runs once per operation.
        result = _new(Tensor)
        result.array = out
        result._grad = None
        result._hooks = None
        if needs is not None and True in needs:
            node.sequence_number = next(clock)
            node.inputs = inputs
            result._requires_grad = True
            result._ctx = node
        else:
            result._requires_grad = False
            result._ctx = None
        return result

    @classmethod
    def op_name(cls) -> str:
        """The operation's name in messages: ``Mul`` -> ``mul``."""
        return cls.__name__.lower()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"


class OpError(ValueError):
    """A bad-input error that an operation raised with a message that already says where."""


def _with_context(cls: type, inputs: tuple, error: Exception) -> Exception:
    """Re-raise an array library's error with the operation's name and the input shapes."""
    if isinstance(error, OpError) or getattr(error, "_chainrule_context", False):
        return error
    shapes = ", ".join(_describe(value) for value in inputs)
    message = f"{cls.op_name()}: {error} (inputs: {shapes})"
    # Keep the error's own class where it can be built from a message (NumPy's AxisError can);
    # some NumPy errors need other constructor arguments, so fall back to the builtin base.
    try:
        wrapped = type(error)(message)
    except TypeError:
        base = next(k for k in (IndexError, ValueError, TypeError) if isinstance(error, k))
        wrapped = base(message)
    wrapped._chainrule_context = True  # type: ignore[attr-defined]
    return wrapped


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return str(tuple(value.shape))
    if hasattr(value, "shape"):
        return f"array of shape {tuple(value.shape)}"
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."
