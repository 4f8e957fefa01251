"""Rectifiers: ReLU, leaky ReLU, randomized leaky ReLU, PReLU, hardtanh and ReLU6, the ELU family
(ELU, SELU, CELU), the hard sigmoid and the hard swish, each a fused operation of
``ops.rectifiers`` (randomized leaky ReLU in training: a product with the slopes drawn).

Those that take ``inplace=True`` in PyTorch take it here too, and so have a trailing-underscore
twin (``relu_``...): the result is written into the input's memory and the input is returned,
with PyTorch's autograd rules for in-place changes (:mod:`chainrule.ops.inplace`): the gradient
is exact, a leaf that requires grad is refused, and a graph that saved the old values for its
backward pass refuses to run it.
"""

from __future__ import annotations

from collections.abc import Callable

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.ops import rectifiers as ops
from chainrule.ops.inplace import modify
from chainrule.ops.shrinkage import check_floating
from chainrule.random import default_generator
from chainrule.tensor import Tensor

__all__ = [
    "celu",
    "celu_",
    "elu",
    "elu_",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hardtanh_",
    "identity",
    "leaky_relu",
    "leaky_relu_",
    "prelu",
    "relu",
    "relu6",
    "relu_",
    "rrelu",
    "rrelu_",
    "selu",
    "selu_",
]


def _maybe_inplace(
    input: Tensor,  # noqa: A002
    inplace: bool,
    name: str,
    compute: Callable[[Tensor], Tensor],
) -> Tensor:
    """``compute(input)``, or, with ``inplace``, the same written into ``input``."""
    if inplace:
        return modify(input, name, compute)
    return compute(input)


# ---- piecewise linear ----------------------------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(x, 0), element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.relu(cr.tensor([-1.0, 0.0, 2.0])).tolist()
    [0.0, 0.0, 2.0]

    ```
    """
    return _maybe_inplace(input, inplace, "relu_", ops.relu)


def relu_(input: Tensor) -> Tensor:  # noqa: A002
    """max(x, 0), written into ``input``.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([-1.0, 2.0])
    >>> F.relu_(x) is x, x.tolist()
    (True, [0.0, 2.0])

    ```
    """
    return relu(input, inplace=True)


def leaky_relu(
    input: Tensor,  # noqa: A002
    negative_slope: float = 0.01,
    inplace: bool = False,
) -> Tensor:
    """x where x > 0, else negative_slope·x (Maas et al., 2013): negative inputs keep a small
    gradient.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.leaky_relu(cr.tensor([-2.0, 3.0]), negative_slope=0.25).tolist()
    [-0.5, 3.0]

    ```
    """
    return _maybe_inplace(
        input,
        inplace,
        "leaky_relu_",
        lambda x: ops.LeakyReLU.apply(x, negative_slope=negative_slope),
    )


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    """:func:`leaky_relu`, written into ``input``.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([-2.0, 3.0])
    >>> F.leaky_relu_(x, 0.5).tolist(), x.tolist()
    ([-1.0, 3.0], [-1.0, 3.0])

    ```
    """
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002
    """x where x > 0, else w·x, with learned slopes w (He et al., 2015): one shared slope
    (``weight`` of one element) or one per channel, axis 1 of the input (``weight`` of shape
    (C,)). The gradient reaches ``weight`` too.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[-1.0, -1.0], [2.0, -4.0]])  # (N, C) = (2, 2)
    >>> F.prelu(x, cr.tensor([0.5, 0.25])).tolist()  # one slope per channel
    [[-0.5, -0.25], [2.0, -1.0]]

    ```
    """
    return ops.prelu(input, weight)


def hardtanh(
    input: Tensor,  # noqa: A002
    min_val: float = -1.0,
    max_val: float = 1.0,
    inplace: bool = False,
) -> Tensor:
    """x clipped to [min_val, max_val]: a piecewise-linear tanh.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.hardtanh(cr.tensor([-3.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]

    ```
    """
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val cannot be greater than max_val, got {min_val} > {max_val}"
        )
    return _maybe_inplace(
        input,
        inplace,
        "hardtanh_",
        lambda x: ops.Hardtanh.apply(x, min_val=min_val, max_val=max_val),
    )


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:  # noqa: A002
    """:func:`hardtanh`, written into ``input``.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([-3.0, 0.5, 3.0])
    >>> F.hardtanh_(x, min_val=0.0, max_val=2.0) is x, x.tolist()
    (True, [0.0, 0.5, 2.0])

    ```
    """
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x, 0), 6) (Krizhevsky, 2010; MobileNets): hardtanh with bounds 0 and 6.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.relu6(cr.tensor([-1.0, 3.0, 8.0])).tolist()
    [0.0, 3.0, 6.0]

    ```
    """
    return _maybe_inplace(
        input, inplace, "relu6_", lambda x: ops.Hardtanh.apply(x, min_val=0.0, max_val=6.0)
    )


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x + 3, 0), 6)/6: 0 below −3, 1 above 3, linear between (MobileNetV3).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.hardsigmoid(cr.tensor([-4.0, 0.0, 1.5, 4.0])).tolist()
    [0.0, 0.5, 0.75, 1.0]

    ```
    """
    return _maybe_inplace(input, inplace, "hardsigmoid_", ops.Hardsigmoid.apply)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x · hardsigmoid(x) (Howard et al., 2019, MobileNetV3): SiLU with a piecewise gate.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.hardswish(cr.tensor([-1.5, 0.0, 3.0, 4.0])).tolist()
    [-0.375, 0.0, 3.0, 4.0]

    ```
    """
    return _maybe_inplace(input, inplace, "hardswish_", ops.Hardswish.apply)


def rrelu(
    input: Tensor,  # noqa: A002
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Randomized leaky ReLU (Xu et al., 2015): x where x > 0, else a·x. In training each
    element x ≤ 0 draws its own slope a from U(lower, upper) (the gradient there is that a);
    in evaluation a is the mean slope (lower + upper)/2, a leaky ReLU.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.rrelu(cr.tensor([-2.0, 3.0]), 0.25, 0.75).tolist()
    [-1.0, 3.0]

    ```
    """
    check_floating(input, "rrelu")
    if not lower <= upper:
        raise OpError(f"rrelu: lower bound {lower} should be at most the upper bound {upper}")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)

    def compute(x: Tensor) -> Tensor:
        # The slopes are constants of the graph: ∂/∂x is the slope drawn, as in PyTorch.
        # Drawn on the host from the library's generator, as dropout's masks are, then moved
        # to x's device.
        values = x.detach().cpu().numpy()
        slopes = default_generator().uniform(lower, upper, values.shape).astype(values.dtype)
        slopes[~(values <= 0)] = 1  # x > 0 (and nan) keeps its value and its gradient
        return x * Tensor._make(backend.as_array(slopes), False, None).to(x.device)

    return _maybe_inplace(input, inplace, "rrelu_", compute)


def rrelu_(
    input: Tensor,  # noqa: A002
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
) -> Tensor:
    """:func:`rrelu`, written into ``input``.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([-2.0, 3.0])
    >>> F.rrelu_(x, 0.5, 0.5) is x, x.tolist()
    (True, [-1.0, 3.0])

    ```
    """
    return rrelu(input, lower, upper, training, inplace=True)


def identity(input: Tensor) -> Tensor:  # noqa: A002
    """x itself: the 'linear' activation.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([1.0, -2.0])
    >>> F.identity(x) is x
    True

    ```
    """
    return input


# ---- exponential linear --------------------------------------------------------------------------


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > 0, else α(eˣ − 1) (Clevert et al., 2016).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> [round(v, 4) for v in F.elu(cr.tensor([-1.0, 0.0, 2.0])).tolist()]
    [-0.6321, 0.0, 2.0]

    ```
    """
    return _maybe_inplace(input, inplace, "elu_", lambda x: ops.ELU.apply(x, alpha=alpha))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """:func:`elu`, written into ``input``.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([-1.0, 2.0])
    >>> F.elu_(x) is x, [round(v, 4) for v in x.tolist()]
    (True, [-0.6321, 2.0])

    ```
    """
    return elu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """λx where x > 0, else λα(eˣ − 1), with the λ ≈ 1.0507 and α ≈ 1.6733 of Klambauer et al.
    (2017) that keep activations at mean 0 and variance 1.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> [round(v, 4) for v in F.selu(cr.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-1.1113, 0.0, 1.0507]

    ```
    """

    return _maybe_inplace(input, inplace, "selu_", ops.selu)


def selu_(input: Tensor) -> Tensor:  # noqa: A002
    """:func:`selu`, written into ``input``.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([-1.0, 1.0])
    >>> F.selu_(x) is x, [round(v, 4) for v in x.tolist()]
    (True, [-1.1113, 1.0507])

    ```
    """
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > 0, else α(e^{x/α} − 1) (Barron, 2017): ELU whose slope at 0 is 1 for any
    α, so the function is continuously differentiable.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> [round(v, 4) for v in F.celu(cr.tensor([-1.0, 0.0, 2.0]), alpha=2.0).tolist()]
    [-0.7869, 0.0, 2.0]

    ```
    """
    return _maybe_inplace(input, inplace, "celu_", lambda x: ops.celu(x, alpha))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """:func:`celu`, written into ``input``.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([-1.0, 2.0])
    >>> F.celu_(x, alpha=2.0) is x, [round(v, 4) for v in x.tolist()]
    (True, [-0.7869, 2.0])

    ```
    """
    return celu(input, alpha, inplace=True)
