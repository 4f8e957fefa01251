"""The fully connected layer's math."""

from __future__ import annotations

from chainrule.nn.input_checks import check_input, require_tensor
from chainrule.ops import linalg
from chainrule.tensor import Tensor

__all__ = ["linear"]


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
