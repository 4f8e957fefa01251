"""Arithmetic fused into one operation, as optimisers and schedules use it: lerp (the linear
interpolation start + w·(end − start)), addcmul (input + value·t₁·t₂) and addcdiv
(input + value·t₁/t₂).

Each could be built from +, − and ×, but then as three or four nodes with their temporaries;
fused, each is one node whose backward is one line per input. They follow PyTorch's dtype
rules, which the composition would not: lerp wants ``end`` (and a weight tensor with axes) in
``start``'s dtype, addcmul of integers casts ``value`` to an integer, and addcdiv refuses to
divide two integer tensors. All inputs broadcast together.
"""

from __future__ import annotations

import numbers
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import Function, not_a_tensor, saved_as_tensors
from chainrule.ops.broadcast import shape_of, unbroadcast
from chainrule.ops.operands import check_operands, not_implemented_for
from chainrule.tensor import Tensor


class Lerp(Function):
    """∂lerp/∂start = 1 − w, ∂lerp/∂end = w, ∂lerp/∂weight = end − start"""

    argument_names = ("input", "end", "weight")

    def forward(self, start: Any, end: Any, weight: Any) -> Any:
        weight = _check_lerp_dtypes(start, end, weight)
        xp = backend.xp
        difference = end - start
        # Only what the wanted gradients need: start and end may then change in place.
        needs = self.needs_input_grad or (False, False, False)
        self.saved = (weight, difference if needs[2] else None)
        self.shapes = shape_of(start), shape_of(end), shape_of(weight)
        # PyTorch's two forms: start + w·(end − start) for |w| < ½, end − (end − start)·(1 − w)
        # above, so that w = 1 gives end exactly, as w = 0 gives start.
        if not hasattr(weight, "shape"):
            if abs(weight) < 0.5:
                return start + weight * difference
            return end - difference * (1 - weight)
        near_start = xp.abs(weight) < 0.5
        return xp.where(near_start, start + weight * difference, end - difference * (1 - weight))

    def saved_in_graph(self, output: Tensor) -> tuple:
        # end − start again, from the input tensors, so that its derivative is recorded too.
        start, end, _ = self.inputs
        weight, difference = self.saved
        weight = saved_as_tensors(self, weight, output)
        return (weight, None if difference is None else end - start)

    def backward(self, grad: Any) -> tuple:
        weight, difference = self.saved
        need_start, need_end, need_weight = self.needs_input_grad
        shape_start, shape_end, shape_weight = self.shapes
        return (
            unbroadcast(grad * (1 - weight), shape_start) if need_start else None,
            unbroadcast(grad * weight, shape_end) if need_end else None,
            unbroadcast(grad * difference, shape_weight) if need_weight else None,
        )


def _check_lerp_dtypes(start: Any, end: Any, weight: Any) -> Any:
    """PyTorch's rules; the weight returned in start's dtype (a 0-d tensor may differ)."""
    if start.dtype.kind != "f":
        raise not_implemented_for("lerp", start.dtype)
    if end.dtype != start.dtype:
        raise RuntimeError(_dtype_mismatch("end", start.dtype, end.dtype))
    if not hasattr(weight, "dtype"):
        return weight
    if weight.ndim and weight.dtype != start.dtype:
        raise RuntimeError(_dtype_mismatch("weight", start.dtype, weight.dtype))
    # The weight itself where no cast is due, not astype(copy=False): a backward recording a
    # graph recognises the input by identity, which not every array module's astype keeps.
    return weight if weight.dtype == start.dtype else weight.astype(start.dtype)


def _dtype_mismatch(name: str, expected: Any, got: Any) -> str:
    return (
        f"lerp: expected dtype {dtypes.torch_name(expected)} ({expected}) for `{name}` but got "
        f"{dtypes.torch_name(got)} ({got}), as PyTorch requires; convert it with "
        f".to({expected})"
    )


class Addcmul(Function):
    """∂/∂input = 1, ∂/∂t₁ = value·t₂, ∂/∂t₂ = value·t₁ of input + value·t₁·t₂"""

    argument_names = ("input", "tensor1", "tensor2")

    def forward(self, input: Any, t1: Any, t2: Any, value: float = 1) -> Any:  # noqa: A002
        input, t1, t2, value = _common("addcmul", input, t1, t2, value)  # noqa: A001
        _, need_t1, need_t2 = self.needs_input_grad or (False, False, False)
        # Each factor only for the other's gradient (see Mul).
        self.saved = (t1 if need_t2 else None, t2 if need_t1 else None)
        self.shapes = shape_of(input), shape_of(t1), shape_of(t2)
        self.value = value
        return input + value * t1 * t2

    def backward(self, grad: Any) -> tuple:
        t1, t2 = self.saved
        need_input, need_t1, need_t2 = self.needs_input_grad
        shape_input, shape_t1, shape_t2 = self.shapes
        scaled = grad * self.value
        return (
            unbroadcast(grad, shape_input) if need_input else None,
            unbroadcast(scaled * t2, shape_t1) if need_t1 else None,
            unbroadcast(scaled * t1, shape_t2) if need_t2 else None,
        )


class Addcdiv(Function):
    """∂/∂input = 1, ∂/∂t₁ = value/t₂, ∂/∂t₂ = −value·t₁/t₂² of input + value·t₁/t₂"""

    argument_names = ("input", "tensor1", "tensor2")

    def forward(self, input: Any, t1: Any, t2: Any, value: float = 1) -> Any:  # noqa: A002
        if t1.dtype.kind in "biu" and t2.dtype.kind in "biu":
            raise RuntimeError(
                f"addcdiv: integer division of tensor1 ({t1.dtype}) by tensor2 ({t2.dtype}) "
                "is not supported, as in PyTorch; for true division convert one of them with "
                ".float(), for floor division use (tensor1 // tensor2)"
            )
        input, t1, t2, value = _common("addcdiv", input, t1, t2, value)  # noqa: A001
        _, need_t1, need_t2 = self.needs_input_grad or (False, False, False)
        # t₁ only for ∂/∂t₂; t₂ for both.
        self.saved = (t1 if need_t2 else None, t2 if need_t1 or need_t2 else None)
        self.shapes = shape_of(input), shape_of(t1), shape_of(t2)
        self.value = value
        return input + value * t1 / t2

    def backward(self, grad: Any) -> tuple:
        t1, t2 = self.saved
        need_input, need_t1, need_t2 = self.needs_input_grad
        shape_input, shape_t1, shape_t2 = self.shapes
        scaled = grad * self.value / t2 if need_t1 or need_t2 else None
        return (
            unbroadcast(grad, shape_input) if need_input else None,
            unbroadcast(scaled, shape_t1) if need_t1 else None,
            unbroadcast(-scaled * t1 / t2, shape_t2) if need_t2 else None,
        )


def _common(op: str, input: Any, t1: Any, t2: Any, value: float) -> tuple:  # noqa: A002
    """The three tensors in their common dtype, and ``value`` as that dtype holds it (an
    integer tensor truncates 2.5 to 2, as PyTorch casts the scalar)."""
    dtype = dtypes.result_type(input, t1, t2)
    if dtype.kind == "b":
        raise not_implemented_for(op, dtype, "convert the tensors with .int() or .float()")
    input, t1, t2 = (a if a.dtype == dtype else a.astype(dtype) for a in (input, t1, t2))  # noqa: A001
    if dtype.kind in "iu":
        value = int(value)
    return input, t1, t2, value


# ---- the public functions ----------------------------------------------------------------------


def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:  # noqa: A002
    """input + weight·(end − input), element-wise and broadcast: the point a fraction
    ``weight`` (a number or a tensor) of the way from input to end.

    ```pycon
    >>> import chainrule as cr
    >>> cr.lerp(cr.tensor([0.0, 10.0]), cr.tensor([4.0, 20.0]), 0.25).tolist()
    [1.0, 12.5]

    ```
    """
    check_operands("lerp", ("input", "end"), input, end, scalars=False)
    if not isinstance(weight, (Tensor, numbers.Number)):
        raise not_a_tensor("lerp", "weight", weight)
    return Lerp.apply(input, end, weight)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:  # noqa: A002
    """input + value·tensor1·tensor2, element-wise and broadcast.

    ```pycon
    >>> import chainrule as cr
    >>> one = cr.tensor([1.0, 1.0])
    >>> cr.addcmul(one, cr.tensor([2.0, 3.0]), cr.tensor([4.0, 5.0]), value=0.5).tolist()
    [5.0, 8.5]

    ```
    """
    check_operands(
        "addcmul", ("input", "tensor1", "tensor2"), input, tensor1, tensor2, scalars=False
    )
    if value == 1:
        return Addcmul.apply(input, tensor1, tensor2)
    return Addcmul.apply(input, tensor1, tensor2, value=value)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:  # noqa: A002
    """input + value·tensor1/tensor2, element-wise and broadcast (Adam's update has this
    form).

    ```pycon
    >>> import chainrule as cr
    >>> one = cr.tensor([1.0, 1.0])
    >>> cr.addcdiv(one, cr.tensor([2.0, 3.0]), cr.tensor([4.0, 2.0]), value=2).tolist()
    [2.0, 4.0]

    ```
    """
    check_operands(
        "addcdiv", ("input", "tensor1", "tensor2"), input, tensor1, tensor2, scalars=False
    )
    if value == 1:
        return Addcdiv.apply(input, tensor1, tensor2)
    return Addcdiv.apply(input, tensor1, tensor2, value=value)
