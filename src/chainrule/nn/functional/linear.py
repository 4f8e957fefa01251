"""The fully connected layers' math: linear and bilinear."""

from __future__ import annotations

from chainrule.nn.input_checks import InputShapeError, check_input, require_tensor
from chainrule.ops import linalg
from chainrule.ops.matrix import einsum
from chainrule.tensor import Tensor

__all__ = ["bilinear", "linear"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """y = x Wᵀ + b for x of shape (*, in_features), W (out_features, in_features), b
    (out_features,); y has shape (*, out_features).

    Each argument must be a Tensor (TypeError naming it, as PyTorch) and all must have one dtype
    (as PyTorch: "mat1 and mat2 must have the same dtype").

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x, w, b = cr.ones(4, 3), cr.ones(2, 3), cr.tensor([0.0, 1.0])
    >>> y = F.linear(x, w, b)
    >>> y.shape, y[0].tolist()
    (chainrule.Size([4, 2]), [3.0, 4.0])

    ```
    """
    require_tensor(weight, "linear", "weight", 2)
    if bias is not None:
        require_tensor(bias, "linear", "bias", 3)
    check_input("linear", input, weight, bias)
    return linalg.Linear.apply(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y[..., o] = Σ_ij x1[..., i] A[o, i, j] x2[..., j] + b[o] for x1 (*, in1_features), x2
    (*, in2_features) with the same leading shape, A (out_features, in1_features,
    in2_features) and b (out_features,); y has shape (*, out_features).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x1, x2, w = cr.ones(4, 2), cr.ones(4, 3), cr.ones(5, 2, 3)
    >>> y = F.bilinear(x1, x2, w, cr.zeros(5))
    >>> y.shape, y[0, 0].item()
    (chainrule.Size([4, 5]), 6.0)

    ```
    """
    where = "bilinear()"
    require_tensor(input1, "bilinear", "input1", 1)
    require_tensor(input2, "bilinear", "input2", 2)
    require_tensor(weight, "bilinear", "weight", 3)
    if bias is not None:
        require_tensor(bias, "bilinear", "bias", 4)
    check_input("bilinear", input1, weight, bias)
    check_input("bilinear", input2, weight)
    if input1.ndim != input2.ndim:
        raise InputShapeError(
            f"{where}: input dimensions do not match: got {input1.ndim} and {input2.ndim}"
        )
    for dim in range(input1.ndim - 1):
        if input1.shape[dim] != input2.shape[dim]:
            raise InputShapeError(
                f"{where}: input batch dimensions do not match at dim {dim}: got "
                f"{input1.shape[dim]} and {input2.shape[dim]}"
            )
    if weight.ndim != 3:
        raise InputShapeError(f"{where}: weight must be three-dimensional, got {weight.ndim}")
    for name, x, dim in (("input1", input1, 1), ("input2", input2, 2)):
        if x.ndim == 0 or x.shape[-1] != weight.shape[dim]:
            got = x.shape[-1] if x.ndim else "a scalar"
            raise InputShapeError(
                f"{where}: {name} size does not match weight size: got {got} but expected "
                f"{weight.shape[dim]}"
            )
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != weight.shape[0]):
        got = bias.shape[-1] if bias.ndim else "a scalar"
        raise InputShapeError(
            f"{where}: bias size does not match weight size: got {got} but expected "
            f"{weight.shape[0]}"
        )
    out = einsum("...i,oij,...j->...o", input1, weight, input2)
    return out if bias is None else out + bias
