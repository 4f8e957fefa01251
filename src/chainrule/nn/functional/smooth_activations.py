"""Smooth activations: sigmoid, tanh, GELU (exact or tanh), SiLU, Mish and Softplus, each one
fused operation of ``ops.smooth_activations``; Softsign and Tanhshrink, compositions of
primitives.

SiLU and Mish take ``inplace=True`` as in PyTorch: the result is written into the input's
memory, with the autograd rules of :mod:`chainrule.ops.inplace`.
"""

from __future__ import annotations

from chainrule.ops import elementwise
from chainrule.ops import smooth_activations as ops
from chainrule.ops.inplace import modify
from chainrule.ops.smooth_activations import sigmoid, tanh
from chainrule.tensor import Tensor

__all__ = ["gelu", "mish", "sigmoid", "silu", "softplus", "softsign", "tanh", "tanhshrink"]

GELU_APPROXIMATIONS = ("none", "tanh")


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """x Φ(x), Φ the standard normal cdf (Hendrycks & Gimpel, 2016), with an exact erf; or,
    with ``approximate="tanh"``, ½x(1 + tanh(√(2/π)(x + 0.044715x³))).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([-1.0, 0.0, 1.0])
    >>> [round(v, 4) for v in F.gelu(x).tolist()]
    [-0.1587, 0.0, 0.8413]
    >>> [round(v, 4) for v in F.gelu(x, approximate='tanh').tolist()]
    [-0.1588, 0.0, 0.8412]

    ```
    """
    check_approximate(approximate, "gelu")
    return ops.GELU.apply(input, approximate=approximate)


def check_approximate(approximate: str, where: str) -> None:
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(f"{where}: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x σ(x), also called swish (Ramachandran et al., 2017).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> [round(v, 4) for v in F.silu(cr.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.2689, 0.0, 0.7311]

    ```
    """
    if inplace:
        return modify(input, "silu_", ops.SiLU.apply)
    return ops.SiLU.apply(input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x tanh(softplus(x)) (Misra, 2019): a self-gated activation like SiLU, with a gate that
    approaches 1 faster.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> [round(v, 4) for v in F.mish(cr.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.3034, 0.0, 0.8651]

    ```
    """
    if inplace:
        return modify(input, "mish_", ops.Mish.apply)
    return ops.Mish.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """(1/β) log(1 + e^{βx}), a smooth relu; x itself where βx > ``threshold``, as PyTorch, for
    stability.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> [round(v, 4) for v in F.softplus(cr.tensor([-1.0, 0.0, 30.0])).tolist()]
    [0.3133, 0.6931, 30.0]

    ```
    """
    return ops.Softplus.apply(input, beta=beta, threshold=threshold)


def softsign(input: Tensor) -> Tensor:  # noqa: A002
    """x / (1 + |x|): a sigmoid-shaped curve in (−1, 1) with polynomial tails.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.softsign(cr.tensor([-3.0, 0.0, 1.0])).tolist()
    [-0.75, 0.0, 0.5]

    ```
    """
    return input / (elementwise.abs(input) + 1)


def tanhshrink(input: Tensor) -> Tensor:  # noqa: A002
    """x − tanh(x): near 0 it is x³/3, far from it x ∓ 1.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> [round(v, 4) for v in F.tanhshrink(cr.tensor([-1.0, 0.0, 2.0])).tolist()]
    [-0.2384, 0.0, 1.036]

    ```
    """
    return input - tanh(input)
