"""More activations: ELU, GELU (exact or tanh), SiLU and Softplus, each one fused operation of
``ops.extra_activation``."""

from __future__ import annotations

from chainrule.ops import extra_activation as ops
from chainrule.tensor import Tensor

__all__ = ["elu", "gelu", "silu", "softplus"]

GELU_APPROXIMATIONS = ("none", "tanh")


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > 0, else α(eˣ − 1) (Clevert et al., 2016). ``inplace`` is accepted for
    compatibility; the result is always a new tensor."""
    return ops.ELU.apply(input, alpha=alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """x Φ(x), Φ the standard normal cdf (Hendrycks & Gimpel, 2016), with an exact erf; or,
    with ``approximate="tanh"``, ½x(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    check_approximate(approximate, "gelu")
    return ops.GELU.apply(input, approximate=approximate)


def check_approximate(approximate: str, where: str) -> None:
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(f"{where}: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x σ(x), also called swish (Ramachandran et al., 2017). ``inplace`` is accepted for
    compatibility; the result is always a new tensor."""
    return ops.SiLU.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """(1/β) log(1 + e^{βx}), a smooth relu; x itself where βx > ``threshold``, as PyTorch, for
    stability."""
    return ops.Softplus.apply(input, beta=beta, threshold=threshold)
