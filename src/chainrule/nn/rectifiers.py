"""Rectifier activations as modules, for use inside Sequential: ReLU, LeakyReLU, RReLU, PReLU,
Hardtanh and ReLU6, ELU, SELU and CELU, Hardsigmoid and Hardswish.

Each calls :mod:`chainrule.nn.functional`; ``inplace=True`` writes the result into the input,
as in PyTorch.
"""

from __future__ import annotations

import warnings
from typing import Any

from chainrule import backend, dtypes
from chainrule.nn import functional as F
from chainrule.nn.init import constant_
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


class _Inplace(Module):
    """An activation with PyTorch's ``inplace`` flag, shown in the repr when set."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Inplace):
    """max(x, 0).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ReLU()(cr.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.relu(input, inplace=self.inplace)


class LeakyReLU(Module):
    """x where x > 0, else negative_slope·x.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.LeakyReLU(0.5)(cr.tensor([-2.0, 2.0])).tolist()
    [-1.0, 2.0]

    ```
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """x where x > 0, else a·x with learned slopes a: one shared slope (``num_parameters=1``)
    or one per channel (axis 1 of the input), all starting at ``init``.

    ``weight`` (num_parameters,) is a parameter; weight decay on it is usually unwanted.

    ```pycon
    >>> import chainrule as cr
    >>> prelu = cr.nn.PReLU()  # one learnable slope, starting at 0.25
    >>> prelu(cr.tensor([-4.0, 2.0])).tolist()
    [-1.0, 2.0]

    ```
    """

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        if not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(
                f"PReLU: num_parameters must be a positive int, got {num_parameters!r}"
            )
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(backend.xp.empty(num_parameters, dtype=dtypes.to_dtype(dtype)))
        self.reset_parameters()
        self._place(device)

    def reset_parameters(self) -> None:
        constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Hardtanh(Module):
    """x clipped to [min_val, max_val] (−1 and 1 by default). ``min_value`` and ``max_value``
    are PyTorch's deprecated names for the bounds.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Hardtanh()(cr.tensor([-2.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]

    ```
    """

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
        min_value: float | None = None,
        max_value: float | None = None,
    ) -> None:
        super().__init__()
        if min_value is not None:
            warnings.warn(
                "Hardtanh: keyword argument `min_value` is deprecated and renamed to `min_val`",
                FutureWarning,
                stacklevel=2,
            )
            min_val = min_value
        if max_value is not None:
            warnings.warn(
                "Hardtanh: keyword argument `max_value` is deprecated and renamed to `max_val`",
                FutureWarning,
                stacklevel=2,
            )
            max_val = max_value
        if max_val <= min_val:
            raise ValueError(
                f"{type(self).__name__}: max_val ({max_val}) must be greater than min_val "
                f"({min_val})"
            )
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{inplace}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6): Hardtanh with bounds 0 and 6.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ReLU6()(cr.tensor([-1.0, 3.0, 8.0])).tolist()
    [0.0, 3.0, 6.0]

    ```
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.relu6(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Hardsigmoid(_Inplace):
    """min(max(x + 3, 0), 6)/6.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Hardsigmoid()(cr.tensor([-3.0, 0.0, 3.0])).tolist()
    [0.0, 0.5, 1.0]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.hardsigmoid(input, self.inplace)

    def extra_repr(self) -> str:
        return ""  # PyTorch's repr leaves inplace out


class Hardswish(Hardsigmoid):
    """x · min(max(x + 3, 0), 6)/6.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Hardswish()(cr.tensor([0.0, 3.0, 4.0])).tolist()
    [0.0, 3.0, 4.0]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.hardswish(input, self.inplace)


class ELU(Module):
    """x where x > 0, else α(eˣ − 1).

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.ELU()(cr.tensor([-1.0, 2.0])).tolist()]
    [-0.6321, 2.0]

    ```
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """x where x > 0, else α(e^{x/α} − 1).

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.CELU(alpha=2.0)(cr.tensor([-2.0, 2.0])).tolist()]
    [-1.2642, 2.0]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.celu(input, self.alpha, self.inplace)


class SELU(_Inplace):
    """λx where x > 0, else λα(eˣ − 1), with the self-normalising λ and α.

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.SELU()(cr.tensor([0.0, 1.0])).tolist()]
    [0.0, 1.0507]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.selu(input, self.inplace)


class RReLU(Module):
    """x where x > 0, else a·x: in training a fresh slope a ~ U(lower, upper) for each element
    and call, in evaluation the mean slope (lower + upper)/2.

    ```pycon
    >>> import chainrule as cr
    >>> rrelu = cr.nn.RReLU(0.25, 0.75).eval()
    >>> rrelu(cr.tensor([-2.0, 3.0])).tolist()
    [-1.0, 3.0]

    ```
    """

    def __init__(
        self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False
    ) -> None:
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (
            ", inplace=True" if self.inplace else ""
        )
