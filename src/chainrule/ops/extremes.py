"""Largest and smallest elements: amax and amin over dimensions, and the running cummax and
cummin along one.

``amax`` differs from ``max(dim)`` in its gradient: ties share it evenly (each of the k tied
elements gets 1/k), where ``max(dim)`` sends it all to the one index it returns. A maximum that
is NaN gives a NaN gradient to its whole slice, as in PyTorch. The running extremes return
``(values, indices)``; the gradient of each value goes to the element it was taken from.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from chainrule import backend, fp_errors
from chainrule.autograd.function import Function, OpError, not_a_tensor
from chainrule.ops.indexing import Gather
from chainrule.ops.movement import normalise_axis
from chainrule.ops.reduce import normalise_dims
from chainrule.tensor import Tensor

# PyTorch's results of the same names: tuples whose fields can be read by name.
cummax_result = namedtuple("cummax_result", ["values", "indices"])
cummin_result = namedtuple("cummin_result", ["values", "indices"])


class Amax(Function):
    """out = max of x over the axes: ∂C/∂xᵢ = ∂C/∂out / k where xᵢ is one of the k elements equal
    to the maximum of its slice, 0 elsewhere (the same for amin)"""

    def forward(self, x: Any, axes: tuple, keepdim: bool, largest: bool) -> Any:
        kept = x.max(axis=axes, keepdims=True) if largest else x.min(axis=axes, keepdims=True)
        self.saved = (x, kept)
        self.axes = axes
        return (
            kept if keepdim else kept.reshape([n for i, n in enumerate(x.shape) if i not in axes])
        )

    def saved_in_graph(self, output: Tensor) -> Any:
        return self.saved  # only compared, to find the extremes: constants of the derivative

    def backward(self, grad: Any) -> tuple:
        x, kept = self.saved
        hits = x == kept
        count = hits.sum(axis=self.axes, keepdims=True)
        # A NaN extreme matches no element: 0/0 gives its slice a NaN gradient, as in PyTorch.
        token = fp_errors.enter()
        try:
            return (grad.reshape(kept.shape) * hits / count.astype(grad.dtype),)
        finally:
            fp_errors.leave(token)


def _extreme(input: Tensor, dim: Any, keepdim: bool, largest: bool) -> Tensor:  # noqa: A002
    name = "amax" if largest else "amin"
    if not isinstance(input, Tensor):
        raise not_a_tensor(name, "input", input)
    axes = normalise_dims(dim, input.ndim, name)
    for axis in axes:
        if input.shape[axis] == 0:
            raise OpError(
                f"{name}: expected reduction dim {axis} to have non-zero size (input of shape "
                f"{input.shape})"
            )
    return Amax.apply(input, axes=axes, keepdim=keepdim, largest=largest)


def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:  # noqa: A002
    """The largest element over ``dim`` (an int or a tuple; all dimensions by default). Ties
    share the gradient evenly.

    ```pycon
    >>> import chainrule as cr
    >>> cr.tensor([[1.0, 5.0], [4.0, 2.0]]).amax(1).tolist()
    [5.0, 4.0]

    ```
    """
    return _extreme(input, dim, keepdim, largest=True)


def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:  # noqa: A002
    """The smallest element over ``dim`` (an int or a tuple; all dimensions by default). Ties
    share the gradient evenly.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[3.0, 1.0], [2.0, 5.0]])
    >>> cr.amin(x).item(), cr.amin(x, dim=0).tolist()
    (1.0, [2.0, 1.0])

    ```
    """
    return _extreme(input, dim, keepdim, largest=False)


# ---- running extremes --------------------------------------------------------------------------


def running_indices(array: Any, values: Any, axis: int) -> Any:
    """Where each running extreme along ``axis`` was taken: the latest position k at which
    ``array[k]`` equals the running extreme (PyTorch takes the later of equal elements), or is
    NaN (a NaN, once met, is the extreme from then on)."""
    xp = backend.module_of(array)  # called outside an operation: the module of the data
    hits = array == values
    if array.dtype.kind == "f":
        hits |= xp.isnan(array)
    place = xp.arange(array.shape[axis]).reshape(
        [-1 if a == axis else 1 for a in range(array.ndim)]
    )
    return xp.maximum.accumulate(xp.where(hits, place, 0), axis=axis).astype("int64")


def _running(input: Tensor, dim: int, largest: bool) -> Any:  # noqa: A002
    name = "cummax" if largest else "cummin"
    if not isinstance(input, Tensor):
        raise not_a_tensor(name, "input", input)
    axis = normalise_axis(dim, max(input.ndim, 1), name)
    xp = backend.module_of(input.array)  # outside an operation: the module of the data
    array = input.array.reshape(1) if input.ndim == 0 else input.array
    ufunc = xp.maximum if largest else xp.minimum  # both carry a NaN forward
    if array.size:
        values = ufunc.accumulate(array, axis=axis)
        indices = running_indices(array, values, axis).reshape(input.shape)
    else:
        indices = xp.zeros(input.shape, dtype="int64")
    result = cummax_result if largest else cummin_result
    # The values are gathered from the input at the indices: Gather's gradient sends each
    # one's ∂C/∂value to the element it came from (summed where one element leads a run).
    values = Gather.apply(input, indices, dim=axis)
    return result(values, Tensor._make(indices, False, None))


def cummax(input: Tensor, dim: int) -> Any:  # noqa: A002
    """``(values, indices)``: the largest element of ``input[0..k]`` along ``dim`` for every k,
    and where it is (the latest of equal elements).

    ```pycon
    >>> import chainrule as cr
    >>> cr.cummax(cr.tensor([1.0, 3.0, 2.0, 3.0]), 0).indices.tolist()
    [0, 1, 1, 3]

    ```
    """
    return _running(input, dim, largest=True)


def cummin(input: Tensor, dim: int) -> Any:  # noqa: A002
    """``(values, indices)``: the smallest element of ``input[0..k]`` along ``dim`` for every k,
    and where it is (the latest of equal elements).

    ```pycon
    >>> import chainrule as cr
    >>> values, indices = cr.cummin(cr.tensor([3.0, 1.0, 2.0]), 0)
    >>> values.tolist(), indices.tolist()
    ([3.0, 1.0, 1.0], [0, 1, 1])

    ```
    """
    return _running(input, dim, largest=False)


aminmax_result = namedtuple("aminmax", ["min", "max"])


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A002
    """(amin, amax) over ``dim`` (every element by default) as a named pair ``.min``, ``.max``;
    each gradient is shared evenly by the elements that tie for the extreme, as amin's and
    amax's are.

    ```pycon
    >>> import chainrule as cr
    >>> low, high = cr.aminmax(cr.tensor([[1.0, 5.0], [3.0, -2.0]]), dim=1)
    >>> low.tolist(), high.tolist()
    ([1.0, -2.0], [5.0, 3.0])

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("aminmax", "input", input)
    dims: Any = () if dim is None else dim
    return aminmax_result(amin(input, dims, keepdim), amax(input, dims, keepdim))
