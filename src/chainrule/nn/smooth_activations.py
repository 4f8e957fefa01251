"""Smooth activations as modules: Sigmoid, LogSigmoid, Tanh, GELU, SiLU, Mish, Softplus,
Softsign, Tanhshrink and the gated linear unit (GLU). Each calls :mod:`chainrule.nn.functional`."""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.functional.smooth_activations import check_approximate
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e⁻ˣ); σ' = σ(1 − σ).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Sigmoid()(cr.tensor([0.0])).tolist()
    [0.5]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x); tanh' = 1 − tanh².

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.Tanh()(cr.tensor([0.0, 1.0])).tolist()]
    [0.0, 0.7616]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.tanh(input)


class GELU(Module):
    """x Φ(x) (exact, with erf), or its tanh approximation with ``approximate="tanh"``.

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.GELU()(cr.tensor([0.0, 1.0])).tolist()]
    [0.0, 0.8413]

    ```
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        check_approximate(approximate, "GELU")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x σ(x). ``inplace=True`` writes the result into the input.

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.SiLU()(cr.tensor([0.0, 1.0])).tolist()]
    [0.0, 0.7311]

    ```
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.silu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Mish(SiLU):
    """x tanh(softplus(x)). ``inplace=True`` writes the result into the input.

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.Mish()(cr.tensor([0.0, 1.0])).tolist()]
    [0.0, 0.8651]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.mish(input, self.inplace)


class Softplus(Module):
    """(1/β) log(1 + e^{βx}), and x where βx > threshold.

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.Softplus()(cr.tensor([0.0, 1.0])).tolist()]
    [0.6931, 1.3133]

    ```
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(Module):
    """x / (1 + |x|).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Softsign()(cr.tensor([-1.0, 3.0])).tolist()
    [-0.5, 0.75]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softsign(input)


class Tanhshrink(Module):
    """x − tanh(x).

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.Tanhshrink()(cr.tensor([0.0, 1.0])).tolist()]
    [0.0, 0.2384]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.tanhshrink(input)


class LogSigmoid(Module):
    """log σ(x) = −log(1 + e⁻ˣ); its derivative is σ(−x).

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.LogSigmoid()(cr.tensor([0.0, -50.0])).tolist()]
    [-0.6931, -50.0]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.logsigmoid(input)


class GLU(Module):
    """The gated linear unit: the input's halves a and b along ``dim``, a ⊙ σ(b).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.GLU()(cr.tensor([[3.0, 100.0]])).tolist()
    [[3.0]]

    ```
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
