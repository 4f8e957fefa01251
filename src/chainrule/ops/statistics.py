"""Statistics of samples: median (and nanmedian), mode, var_mean and std_mean, histc and
bincount.

A median or a mode along a dimension returns ``(values, indices)``, the values gathered from
the input at the indices, so that each value's gradient goes to the element it is. The median
of a whole tensor returns the value alone, whose gradient is shared evenly by the elements
equal to it, as in PyTorch. The median is the lower of the two middle values of an even count.
NaN counts as larger than every number; ``median`` returns NaN for a slice holding one,
``nanmedian`` leaves NaNs out. Among tied elements the index is found by a stable sort, so it
may differ from PyTorch's, whose choice among ties is unspecified.

Counting (histc, bincount) has no gradient: its result records no graph.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from chainrule import backend, dtypes, fp_errors
from chainrule.autograd.function import Function, OpError, as_index, not_a_tensor
from chainrule.ops.indexing import Gather
from chainrule.ops.movement import normalise_axis, squeeze
from chainrule.ops.reduce import mean, shared_by_hits, std, var
from chainrule.tensor import Tensor

# PyTorch's results of the same names: tuples whose fields can be read by name.
median_result = namedtuple("median_result", ["values", "indices"])
nanmedian_result = namedtuple("nanmedian_result", ["values", "indices"])
mode_result = namedtuple("mode_result", ["values", "indices"])

# ---- median ------------------------------------------------------------------------------------


def _median_position(array: Any, axis: int, skip_nan: bool) -> Any:
    """Where along ``axis`` the (lower) median of each slice of ``array`` is, keepdim-shaped."""
    xp = backend.xp
    order = xp.argsort(array, axis=axis, kind="stable")  # NaNs last, in their own order
    count = array.shape[axis]
    if array.dtype.kind == "f":
        nans = xp.isnan(array).sum(axis=axis, keepdims=True)
    else:
        nans = xp.zeros((1,) * array.ndim, dtype="int64")
    if skip_nan:  # the median of the numbers; a slice of only NaNs gives its first NaN
        rank = xp.maximum((count - nans - 1) // 2, 0)
    else:  # any NaN makes the median NaN: the first NaN, right after the numbers
        rank = xp.where(nans > 0, count - nans, (count - 1) // 2)
    return xp.take_along_axis(order, rank.astype("int64"), axis=axis)


class WholeMedian(Function):
    """out = the median of all of x: ∂C/∂xᵢ = ∂C/∂out / k for each of the k elements equal to
    it (the k NaNs, for a NaN median), 0 elsewhere"""

    def forward(self, x: Any, skip_nan: bool) -> Any:
        xp = backend.xp
        flat = x.reshape(-1)
        if flat.size == 0:
            return xp.asarray(xp.nan, dtype=x.dtype)
        out = flat[_median_position(flat, 0, skip_nan)[0]]
        self.saved = (x, out)
        return xp.asarray(out)

    def saved_in_graph(self, output: Tensor) -> Any:
        return self.saved  # only compared, to find the median: constants of the derivative

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        if not self.saved:  # an empty input has an empty gradient
            return (None,)
        x, out = self.saved
        hits = xp.isnan(x) if out != out else x == out
        return (shared_by_hits(grad, hits),)


def _median(input: Tensor, dim: Any, keepdim: bool, skip_nan: bool) -> Any:  # noqa: A002
    name = "nanmedian" if skip_nan else "median"
    if not isinstance(input, Tensor):
        raise not_a_tensor(name, "input", input)
    if dim is None:
        if input.numel() == 0 and not dtypes.is_floating(input.dtype):
            raise OpError(f"{name}: an empty {input.dtype} tensor has no median")
        return WholeMedian.apply(input, skip_nan=skip_nan)
    axis = normalise_axis(dim, max(input.ndim, 1), name)
    array = input.array.reshape(1) if input.ndim == 0 else input.array
    if array.shape[axis] == 0:
        raise IndexError(f"{name}: expected reduction dim {axis} to have non-zero size")
    indices = _median_position(array, axis, skip_nan).astype("int64")
    result = nanmedian_result if skip_nan else median_result
    return _selected(result, input, indices, axis, keepdim)


def _selected(result: type, input: Tensor, indices: Any, axis: int, keepdim: bool) -> Any:  # noqa: A002
    """``result(values, indices)`` from keepdim-shaped ``indices`` along ``axis``."""
    if input.ndim == 0:
        indices = indices.reshape(())
    values = Gather.apply(input, indices, dim=axis)
    positions = Tensor._make(indices, False, None)
    if not keepdim and input.ndim > 0:
        values, positions = squeeze(values, axis), squeeze(positions, axis)
    return result(values, positions)


def median(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A002
    """The median of all elements (a 0-d tensor), or ``(values, indices)`` along ``dim``. Of an
    even count, the lower of the two middle values; NaN where a NaN is present.

    ```pycon
    >>> import chainrule as cr
    >>> cr.tensor([3.0, 1.0, 4.0, 2.0]).median().item()
    2.0

    ```
    """
    return _median(input, dim, keepdim, skip_nan=False)


def nanmedian(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A002
    """:func:`median` with NaNs left out (NaN only where a slice holds nothing else).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nanmedian(cr.tensor([1.0, float('nan'), 3.0, 2.0])).item()
    2.0

    ```
    """
    return _median(input, dim, keepdim, skip_nan=True)


# ---- mode --------------------------------------------------------------------------------------


def _mode_indices(array: Any) -> Any:
    """For each row of a 2-d ``array``: the position of its most frequent value (of the
    smallest such value, for ties in frequency), the last position holding it. NaNs count as
    equal to each other."""
    xp = backend.module_of(array)  # called outside an operation: the module of the data
    ordered = xp.sort(array, axis=1)
    same = ordered[:, 1:] == ordered[:, :-1]
    if array.dtype.kind == "f":
        same |= xp.isnan(ordered[:, 1:]) & xp.isnan(ordered[:, :-1])
    place = xp.arange(array.shape[1])
    starts = xp.concatenate([xp.ones((array.shape[0], 1), dtype=bool), ~same], axis=1)
    run_start = xp.maximum.accumulate(xp.where(starts, place, 0), axis=1)
    # The run length so far peaks first inside the smallest of the most frequent values.
    best = xp.argmax(place - run_start, axis=1)
    value = ordered[xp.arange(array.shape[0]), best][:, None]
    equal = array == value
    if array.dtype.kind == "f":
        equal |= xp.isnan(array) & xp.isnan(value)
    return xp.where(equal, place, -1).max(axis=1)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> Any:  # noqa: A002
    """``(values, indices)``: the most frequent value of each slice along ``dim`` (the smallest
    of equally frequent ones) and the last position where it occurs.

    ```pycon
    >>> import chainrule as cr
    >>> cr.tensor([1, 2, 2, 3, 1, 1]).mode().values.item()
    1

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("mode", "input", input)
    axis = normalise_axis(dim, max(input.ndim, 1), "mode")
    xp = backend.module_of(input.array)  # outside an operation: the module of the data
    array = input.array.reshape(1) if input.ndim == 0 else input.array
    if array.shape[axis] == 0:
        raise IndexError(f"mode: expected reduction dim {axis} to have non-zero size")
    rows = xp.moveaxis(array, axis, -1)
    flat = rows.reshape(-1, rows.shape[-1])
    if flat.shape[0]:
        found = _mode_indices(flat)
    else:
        found = xp.zeros(0, dtype="int64")
    indices = xp.expand_dims(found.reshape(rows.shape[:-1]), axis).astype("int64")
    return _selected(mode_result, input, indices, axis, keepdim)


# ---- moments together --------------------------------------------------------------------------


def var_mean(
    input: Tensor,  # noqa: A002
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> tuple[Tensor, Tensor]:
    """``(var, mean)`` over ``dim``: :func:`~chainrule.var` (correction 1 by default) and
    :func:`~chainrule.mean`, each with its own gradient.

    ```pycon
    >>> import chainrule as cr
    >>> var, mean = cr.var_mean(cr.tensor([1.0, 2.0, 3.0, 4.0]))
    >>> round(var.item(), 4), mean.item()
    (1.6667, 2.5)

    ```
    """
    variance = var(input, dim, unbiased, keepdim, correction=correction)
    return variance, mean(input, None if isinstance(dim, bool) else dim, keepdim)


def std_mean(
    input: Tensor,  # noqa: A002
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> tuple[Tensor, Tensor]:
    """``(std, mean)`` over ``dim``: :func:`~chainrule.std` (correction 1 by default) and
    :func:`~chainrule.mean`, each with its own gradient.

    ```pycon
    >>> import chainrule as cr
    >>> std, mean = cr.std_mean(cr.tensor([1.0, 3.0]))
    >>> round(std.item(), 4), mean.item()
    (1.4142, 2.0)

    ```
    """
    spread = std(input, dim, unbiased, keepdim, correction=correction)
    return spread, mean(input, None if isinstance(dim, bool) else dim, keepdim)


# ---- counting ----------------------------------------------------------------------------------


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """A histogram of ``bins`` equal-width bins over [min, max], in ``input``'s float dtype;
    elements outside are left out, and ``max`` itself falls in the last bin. With min = max
    (the default) the range is the data's own (widened by 1 on each side if that is a point).

    ```pycon
    >>> import chainrule as cr
    >>> cr.histc(cr.tensor([1.0, 2.0, 1.0, 4.0]), bins=4).tolist()
    [2.0, 1.0, 0.0, 1.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("histc", "input", input)
    if not dtypes.is_floating(input.dtype):
        raise TypeError(f"histc: expects a floating-point input, got {input.dtype}")
    bins = as_index(bins, "histc", "bins")
    if bins <= 0:
        raise OpError(f"histc: bins must be > 0, got {bins}")
    xp = backend.xp
    data = input.array.reshape(-1)
    low, high = float(min), float(max)
    if low == high and data.size:
        low, high = float(data.min()), float(data.max())
    if low == high:
        low, high = low - 1, high + 1
    if low > high:
        raise OpError(f"histc: max must be larger than min, got min={min}, max={max}")
    if not (xp.isfinite(low) and xp.isfinite(high)):
        raise OpError(f"histc: range of [{low}, {high}] is not finite")
    inside = data[(data >= low) & (data <= high)]
    token = fp_errors.enter()
    try:
        place = ((inside - low) * bins / (high - low)).astype("int64")
    finally:
        fp_errors.leave(token)
    counts = xp.bincount(xp.minimum(place, bins - 1), minlength=bins)
    return Tensor._make(counts.astype(input.dtype), False, None)


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:  # noqa: A002
    """How often each value 0, 1, …, max(input) occurs in the 1-d, non-negative integer
    ``input`` (at least ``minlength`` counts). With ``weights``, each occurrence adds its weight
    instead of 1: float32 weights give float32, others float64, as in PyTorch.

    ```pycon
    >>> import chainrule as cr
    >>> cr.bincount(cr.tensor([0, 1, 1, 3])).tolist()
    [1, 2, 0, 1]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("bincount", "input", input)
    if input.dtype.kind not in "iu":
        raise TypeError(f"bincount: expects an integer input, got {input.dtype}")
    data = input.array
    if data.ndim != 1 or (data.size and data.min() < 0):
        raise OpError(
            f"bincount: only supports 1-d non-negative integral inputs, got shape {input.shape}"
        )
    minlength = as_index(minlength, "bincount", "minlength")
    if minlength < 0:
        raise OpError(f"bincount: minlength should be >= 0, got {minlength}")
    xp = backend.xp
    if weights is None:
        counts = xp.bincount(data, minlength=minlength).astype("int64")
        return Tensor._make(counts, False, None)
    if not isinstance(weights, Tensor):
        raise not_a_tensor("bincount", "weights", weights)
    if weights.shape != input.shape:
        raise OpError(
            f"bincount: weights should be 1-d and have the same length as input, got shapes "
            f"{weights.shape} and {input.shape}"
        )
    dtype = "float32" if weights.dtype == dtypes.float32 else "float64"
    counts = xp.bincount(data, weights=weights.array.astype("float64"), minlength=minlength)
    return Tensor._make(counts.astype(dtype), False, None)


def cov(
    input: Tensor,  # noqa: A002
    *,
    correction: int = 1,
    fweights: Tensor | None = None,
    aweights: Tensor | None = None,
) -> Tensor:
    """The covariance matrix (V, V) of V variables observed N times, input (V, N) (a 1-d input
    is one variable: a 0-d result): Σ w (x − x̄)(x − x̄)ᵀ / (Σw − correction·Σw·a/Σw), with the
    weights w = fweights·aweights (1 without them) and x̄ the weighted mean, as NumPy's cov.

    ```pycon
    >>> import chainrule as cr
    >>> cr.cov(cr.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("cov", "input", input)
    if input.ndim > 2:
        raise OpError(f"cov: expected input to have two or fewer dimensions but got {input.ndim}")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    if not dtypes.is_floating(x.array.dtype):
        x = x.to(dtypes.get_default_dtype())
    observations = x.shape[1]
    weights = None
    for name, given in (("fweights", fweights), ("aweights", aweights)):
        if given is None:
            continue
        if not isinstance(given, Tensor) or given.ndim > 1 or given.numel() != observations:
            raise OpError(
                f"cov: expected {name} to be a 1-d tensor of {observations} elements, got "
                f"{given if not isinstance(given, Tensor) else tuple(given.shape)}"
            )
        if name == "fweights" and given.array.dtype.kind not in "iu":
            raise OpError(f"cov: expected fweights to have an integral dtype, got {given.dtype}")
        if bool((given.array < 0).any()):
            raise OpError(f"cov: {name} cannot be negative")
        weights = given if weights is None else weights * given
    if weights is None:
        total = observations
        mean_x = x.mean(1, keepdim=True)
        scale = correction
    else:
        weights = weights.to(x.dtype)
        total = weights.sum()
        mean_x = (x * weights).sum(1, keepdim=True) / total
        scale = correction if aweights is None else correction * (weights * aweights).sum() / total
    dof = total - scale
    if float(dof) <= 0:
        dof = 0 * dof  # PyTorch's answer where the degrees of freedom run out: inf and nan
    centred = x - mean_x
    products = centred @ (centred if weights is None else centred * weights).mT
    return (products / dof).squeeze()


def corrcoef(input: Tensor) -> Tensor:  # noqa: A002
    """Pearson's correlation coefficients (V, V) of the variables in the rows of input (V, N):
    the covariance over the product of the standard deviations, clipped to [−1, 1].

    ```pycon
    >>> import chainrule as cr
    >>> cr.corrcoef(cr.tensor([[0.0, 1.0, 2.0], [4.0, 2.0, 0.0]])).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]

    ```
    """
    covariance = cov(input)
    if covariance.ndim == 0:
        return covariance / covariance
    spread = covariance.diagonal().sqrt()
    return ((covariance / spread.unsqueeze(1)) / spread.unsqueeze(0)).clamp(-1, 1)
