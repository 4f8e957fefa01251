"""Smooth activations: sigmoid, tanh, GELU (exact or tanh), SiLU, Mish, Softplus and log σ, each
one fused operation of ``ops.smooth_activations``; Softsign, Tanhshrink and the gated linear
unit, compositions of primitives.

SiLU and Mish take ``inplace=True`` as in PyTorch: the result is written into the input's
memory, with the autograd rules of :mod:`chainrule.ops.inplace`.
"""

from __future__ import annotations

from chainrule.autograd.function import OpError, not_a_tensor
from chainrule.ops import elementwise
from chainrule.ops import smooth_activations as ops
from chainrule.ops.inplace import modify
from chainrule.ops.movement import chunk, normalise_axis
from chainrule.ops.shrinkage import check_floating
from chainrule.ops.smooth_activations import sigmoid, tanh
from chainrule.tensor import Tensor

__all__ = [
    "gelu",
    "glu",
    "logsigmoid",
    "mish",
    "sigmoid",
    "silu",
    "softplus",
    "softsign",
    "tanh",
    "tanhshrink",
]

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


def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """log σ(x) = −log(1 + e⁻ˣ), element-wise, without overflow at either end.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> [round(v, 4) for v in F.logsigmoid(cr.tensor([-100.0, 0.0, 100.0])).tolist()]
    [-100.0, -0.6931, -0.0]

    ```
    """
    check_floating(input, "logsigmoid")
    return ops.LogSigmoid.apply(input)


def glu(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """The gated linear unit (Dauphin et al., 2017): input split in two halves a and b along
    ``dim``, a ⊙ σ(b); (…, 2n, …) → (…, n, …).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.glu(cr.tensor([[2.0, 4.0, 0.0, 100.0]])).tolist()
    [[1.0, 4.0]]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("glu", "input", input)
    check_floating(input, "glu")
    if input.ndim == 0:
        raise OpError("glu: a scalar has no dimension to halve")
    axis = normalise_axis(dim, input.ndim, "glu")
    if input.shape[axis] % 2:
        raise OpError(
            f"glu: halving dimension must be even, but dimension {axis} is size {input.shape[axis]}"
        )
    a, b = chunk(input, 2, axis)
    return a * sigmoid(b)
