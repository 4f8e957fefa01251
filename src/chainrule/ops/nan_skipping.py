"""Operations that read nan as a missing value: ``fmax`` and ``fmin`` take the other operand
where one is nan, ``nansum`` and ``nanmean`` leave nan out.

fmax and fmin are a ``where`` on a constant mask, so the gradient goes to the operand picked;
nansum is a sum of x with nan made 0, whose gradient is 1 where an element is not nan and 0
where it is; nanmean divides that by the count.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes, fp_errors
from chainrule.autograd.function import Function, OpError, not_a_tensor
from chainrule.ops.elementwise import Where
from chainrule.ops.operands import check_operands
from chainrule.ops.reduce import sum as sum_of
from chainrule.tensor import Tensor


def _pick_first(input: Any, other: Any, first_wins: Any) -> Tensor:  # noqa: A002
    """input where ``first_wins`` (an array), else other: a constant mask, so the gradient goes
    to the operand picked, as PyTorch's fmax and fmin route it."""
    condition = Tensor._make(first_wins, False, None)
    return Where.apply(condition, input, other)


def fmax(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The element-wise maximum, where a nan loses to a number (nan only where both are nan);
    ∂/∂input = 1 where input ≥ other or other is nan, else ∂/∂other = 1.

    ```pycon
    >>> import chainrule as cr
    >>> nan = float("nan")
    >>> cr.fmax(cr.tensor([1.0, nan, nan]), cr.tensor([nan, 2.0, nan])).tolist()
    [1.0, 2.0, nan]

    ```
    """
    check_operands("fmax", ("input", "other"), input, other, scalars=False)
    a, b = input.array, other.array
    return _pick_first(input, other, (a >= b) | backend.xp.isnan(b))


def fmin(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The element-wise minimum, where a nan loses to a number (nan only where both are nan);
    ∂/∂input = 1 where input ≤ other or other is nan, else ∂/∂other = 1.

    ```pycon
    >>> import chainrule as cr
    >>> cr.fmin(cr.tensor([1.0, float("nan")]), cr.tensor([0.5, 2.0])).tolist()
    [0.5, 2.0]

    ```
    """
    check_operands("fmin", ("input", "other"), input, other, scalars=False)
    a, b = input.array, other.array
    return _pick_first(input, other, (a <= b) | backend.xp.isnan(b))


class NanToZero(Function):
    """d/dx (x, or 0 where x is nan) = 1, and 0 where x is nan (a product with the mask, as in
    PyTorch's nansum: a nan incoming gradient stays nan there)"""

    def forward(self, x: Any) -> Any:
        missing = backend.xp.isnan(x)
        self.saved = (missing,)
        return backend.xp.where(missing, backend.xp.zeros((), x.dtype), x)

    def backward(self, grad: Any) -> tuple:
        (missing,) = self.saved
        return (grad * ~missing,)


def _without_nan(input: Any, where: str, dtype: Any) -> Tensor:  # noqa: A002
    """input (in ``dtype``) with its nan read as 0."""
    if not isinstance(input, Tensor):
        raise not_a_tensor(where, "input", input)
    x = input if dtype is None else input.to(dtype)
    if x.array.dtype.kind not in "fc":
        return x  # no nan in integers or bools
    return NanToZero.apply(x)


def nansum(
    input: Tensor,  # noqa: A002
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """Σ over ``dim`` (all elements by default) with nan read as 0; ∂/∂x = 1, and 0 at nan.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nansum(cr.tensor([[1.0, float("nan")], [2.0, 3.0]]), dim=1).tolist()
    [1.0, 5.0]

    ```
    """
    return sum_of(_without_nan(input, "nansum", dtype), dim, keepdim)


def nanmean(
    input: Tensor,  # noqa: A002
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """The mean over ``dim`` of the elements that are not nan (nan where all are); ∂/∂x =
    1/count, and 0 at nan.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nanmean(cr.tensor([1.0, float("nan"), 3.0])).item()
    2.0

    ```
    """
    if isinstance(input, Tensor) and not dtypes.is_floating(input.array.dtype) and dtype is None:
        raise OpError(f"nanmean: expected input to have a floating-point dtype, got {input.dtype}")
    total = nansum(input, dim, keepdim, dtype=dtype)
    present = Tensor._make(~backend.xp.isnan(input.array), False, None)
    with fp_errors.silenced():  # 0/0 where every element is nan: nan is the answer
        return total / sum_of(present, dim, keepdim).to(total.dtype)
