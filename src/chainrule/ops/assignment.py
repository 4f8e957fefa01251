"""Writing into tensors: ``x[index] = value``, and a view's change carried over to its base.

Both operations write the memory they are given instead of making a new array: they are the
graph's record of an in-place change (see :mod:`chainrule.ops.inplace`), not functions to call
on their own.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.autograd.views import replay, view_of
from chainrule.ops.broadcast import shape_of, unbroadcast
from chainrule.ops.movement import zeroed
from chainrule.tensor import Tensor


class SetItem(Function):
    """x[index] = value: ∂C/∂x = ∂C/∂out with the indexed positions zeroed (they were
    overwritten), ∂C/∂value = ∂C/∂out[index] summed back over value's broadcast axes"""

    def forward(self, x: Any, value: Any, index: Any) -> Any:
        x[index] = value  # in place: the output is x's own memory
        self.index, self.value_shape = index, shape_of(value)
        return x

    def backward(self, grad: Any) -> tuple:
        need_x, need_value = self.needs_input_grad[:2]
        grad_x = grad_value = None
        if need_x:
            grad_x = zeroed(grad, self.index)
        if need_value:
            grad_value = _to_shape(grad[self.index], self.value_shape)
        return grad_x, grad_value, None


def _to_shape(grad: Any, shape: tuple) -> Any:
    """``grad`` summed to ``shape``, which may have more leading 1s than ``grad`` has axes (NumPy
    assigns a (1, 3) value to a (3,) slot)."""
    extra = len(shape) - grad.ndim
    if extra <= 0:
        return unbroadcast(grad, shape)
    return unbroadcast(grad, shape[extra:]).reshape(shape)


class CopySlices(Function):
    """A view of base was changed in place to ``region``: base now holds region at the view's
    place. ∂C/∂base = ∂C/∂out with the view's place zeroed, ∂C/∂region = the view of ∂C/∂out"""

    def forward(self, base: Any, region: Any, steps: tuple) -> Any:
        # The values are there already: region is the very view of base that was written.
        self.steps = steps
        self.shape, self.dtype = base.shape, base.dtype
        # Replaying the view on the gradient needs the base's memory layout: a reshape that
        # views a transposed array may have to copy a C-ordered one.
        self.axis_order = sorted(range(base.ndim), key=lambda axis: -abs(base.strides[axis]))
        return base

    def backward(self, grad: Any) -> tuple:
        need_base, need_region = self.needs_input_grad[:2]
        if isinstance(grad, Tensor):
            return self._backward_in_graph(grad, need_base, need_region)
        grad_base = grad_region = None
        if need_base:
            grad_base = self._laid_out_like_base(grad)
            place = view_of(grad_base, self.steps)
            if not backend.xp.shares_memory(place, grad_base):
                raise RuntimeError(
                    f"backward of CopySlices: the view {self.steps} of a base of shape "
                    f"{self.shape} could not be taken again without a copy (a bug)"
                )
            place[...] = 0
        if need_region:
            grad_region = view_of(grad, self.steps)
        return grad_base, grad_region, None

    def _backward_in_graph(self, grad: Tensor, need_base: bool, need_region: bool) -> tuple:
        """The same gradients as tensors, for a backward that records a graph: the view's
        place is found on a mask laid out like the base, and the view of ∂C/∂out is taken
        with the view operations themselves."""
        grad_base = grad_region = None
        if need_base:
            keep = self._laid_out_like_base(backend.xp.ones(self.shape, dtype=bool))
            view_of(keep, self.steps)[...] = False
            grad_base = backend.xp.where(keep, grad, backend.xp.zeros((), dtype=grad.dtype))
        if need_region:
            grad_region = replay(grad, self.steps)
        return grad_base, grad_region, None

    def _laid_out_like_base(self, grad: Any) -> Any:
        order = self.axis_order
        dense = backend.xp.empty([self.shape[axis] for axis in order], dtype=grad.dtype)
        copy = dense.transpose(sorted(range(len(order)), key=order.__getitem__))
        copy[...] = grad
        return copy


class RepeatedSelfCopy(Function):
    """``x.copy_(x)`` in a graph where an expand repeats x's elements: nothing changes, as in
    PyTorch, and as in PyTorch the gradient through it is refused (written back to memory that
    holds one element in several places, it would be ambiguous)."""

    def forward(self, x: Any) -> Any:
        self.shape = x.shape
        return x.copy()

    def backward(self, grad: Any) -> tuple:
        raise RuntimeError(
            f"copy_: unsupported operation: more than one element of the written-to tensor "
            f"refers to a single memory location (an expand()ed tensor of shape {self.shape}, "
            "copied into itself in a graph); clone() it before changing it in place"
        )
