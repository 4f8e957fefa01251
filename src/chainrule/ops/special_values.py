"""Infinities, nan and closeness: nan_to_num (which replaces nan and ±inf by finite numbers, and
is differentiable), the tests isinf, isposinf, isneginf and isclose (bool tensors, no
gradient), and equal (one Python bool for the whole tensors).

isclose tests |input − other| ≤ atol + rtol·|other| element by element, as PyTorch does: not
symmetric in its arguments, and true for equal infinities.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes, fp_errors
from chainrule.autograd.function import Function, not_a_tensor
from chainrule.ops.compare import on_one_device
from chainrule.ops.operands import check_operands
from chainrule.tensor import Tensor


class NanToNum(Function):
    """d/dx nan_to_num(x) = 1 where x is finite, else 0 (the replacement is a constant)"""

    def forward(self, x: Any, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
        if x.dtype.kind != "f":
            return x.copy()  # integers and bools have no nan or inf to replace
        self.saved = (backend.xp.isfinite(x),)
        # NumPy casts the replacements to x's dtype (1e300 to float32 is inf, as in PyTorch),
        # and its default for ±inf is the dtype's largest finite value, as PyTorch's.
        return backend.xp.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, grad: Any) -> tuple:
        (finite,) = self.saved
        return (grad * finite,)


def _bool_result(values: Any) -> Tensor:
    return Tensor._make(backend.as_array(values), False, None)


# ---- the public functions ----------------------------------------------------------------------


def nan_to_num(
    input: Tensor,  # noqa: A002
    nan: float = 0.0,
    posinf: float | None = None,
    neginf: float | None = None,
) -> Tensor:
    """The tensor with nan replaced by ``nan``, +inf by ``posinf`` and −inf by ``neginf``
    (by default the largest and the lowest finite values of the dtype).

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([float('nan'), float('inf'), -1.0])
    >>> cr.nan_to_num(x, nan=0.0, posinf=9.0).tolist()
    [0.0, 9.0, -1.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("nan_to_num", "input", input)
    return NanToNum.apply(input, nan=nan, posinf=posinf, neginf=neginf)


def isinf(input: Tensor) -> Tensor:  # noqa: A002
    """Where x is +inf or −inf (a bool tensor).

    ```pycon
    >>> import chainrule as cr
    >>> cr.isinf(cr.tensor([1.0, float('inf'), -float('inf'), float('nan')])).tolist()
    [False, True, True, False]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("isinf", "input", input)
    return _bool_result(backend.xp.isinf(input.array))


def isposinf(input: Tensor) -> Tensor:  # noqa: A002
    """Where x is +inf (a bool tensor).

    ```pycon
    >>> import chainrule as cr
    >>> cr.isposinf(cr.tensor([1.0, float('inf'), -float('inf')])).tolist()
    [False, True, False]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("isposinf", "input", input)
    return _bool_result(backend.xp.isposinf(input.array))


def isneginf(input: Tensor) -> Tensor:  # noqa: A002
    """Where x is −inf (a bool tensor).

    ```pycon
    >>> import chainrule as cr
    >>> cr.isneginf(cr.tensor([1.0, float('inf'), -float('inf')])).tolist()
    [False, False, True]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("isneginf", "input", input)
    return _bool_result(backend.xp.isneginf(input.array))


def isclose(
    input: Tensor,  # noqa: A002
    other: Tensor,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    equal_nan: bool = False,
) -> Tensor:
    """Where |input − other| ≤ atol + rtol·|other|, or input = other (equal infinities), or
    both are nan with ``equal_nan`` (a bool tensor, broadcast). The two must share a dtype.

    ```pycon
    >>> import chainrule as cr
    >>> cr.isclose(cr.tensor([1.0, 2.0]), cr.tensor([1.0 + 1e-9, 2.1])).tolist()
    [True, False]

    ```
    """
    check_operands("isclose", ("input", "other"), input, other, scalars=False)
    a, b = on_one_device("isclose", input.array, other.array)
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"isclose: {dtypes.torch_name(a.dtype)} did not match {dtypes.torch_name(b.dtype)} "
            f"(input is {a.dtype}, other is {b.dtype}); PyTorch compares tensors of one dtype "
            "only: convert one with .to(other.dtype)"
        )
    if rtol < 0 or atol < 0:
        which = "rtol" if rtol < 0 else "atol"
        raise RuntimeError(
            f"isclose: {which} must be greater than or equal to zero, but got "
            f"{rtol if rtol < 0 else atol}"
        )
    xp = backend.xp
    try:
        close = a == b
    except ValueError as error:
        raise ValueError(
            f"isclose: shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast: {error}"
        ) from None
    if equal_nan:
        close = close | (xp.isnan(a) & xp.isnan(b))
    if rtol or atol:
        if a.dtype.kind == "b":  # PyTorch measures bools as numbers of the default dtype
            a, b = a.astype(dtypes.get_default_dtype()), b.astype(dtypes.get_default_dtype())
        with fp_errors.silenced():  # inf − inf is nan, and not close: no warning needed
            allowed = atol + xp.abs(rtol * b)
            actual = xp.abs(a - b)
            close = close | (xp.isfinite(actual) & (actual <= allowed))
    return _bool_result(close)


def equal(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    """Whether the two tensors have the same shape and the same values (nan equals nothing);
    the dtypes may differ.

    ```pycon
    >>> import chainrule as cr
    >>> a = cr.tensor([1, 2])
    >>> cr.equal(a, cr.tensor([1, 2])), cr.equal(a, cr.tensor([1, 3]))
    (True, False)

    ```
    """
    check_operands("equal", ("input", "other"), input, other, scalars=False)
    a, b = on_one_device("equal", input.array, other.array)
    if input.shape != other.shape:
        return False
    return bool(backend.xp.array_equal(a, b))
