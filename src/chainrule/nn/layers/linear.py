"""Fully connected layers: linear and bilinear."""

from __future__ import annotations

import math
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.input_checks import check_input
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops import linalg
from chainrule.tensor import Tensor


class Linear(Module):
    """y = x Wᵀ + b: x (*, in_features) → y (*, out_features).

    ``weight`` (out_features, in_features) and ``bias`` (out_features,) start uniform in
    ±1/√in_features, PyTorch's default, so a PyTorch state_dict loads and computes the same.

    ```pycon
    >>> import chainrule as cr
    >>> layer = cr.nn.Linear(3, 2)
    >>> layer.weight.shape, layer(cr.zeros(4, 3)).shape
    (chainrule.Size([2, 3]), chainrule.Size([4, 2]))

    ```
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {value!r}")
        self.in_features, self.out_features = in_features, out_features
        dtype = dtypes.to_dtype(dtype)
        self.weight = Parameter(backend.xp.empty((out_features, in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(backend.xp.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        self._place(device)

    def reset_parameters(self) -> None:
        # kaiming_uniform_ with a = √5 gives bounds ±1/√fan_in: PyTorch's long-standing default.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        check_input(self, input, self.weight, self.bias)
        try:
            # The op itself: F.linear would check again what the line above checked, by name.
            return linalg.Linear.apply(input, self.weight, self.bias)
        except OpError:
            # The operation checks the shapes; the layer names itself only when it failed,
            # which keeps a second check off the hot path.
            if input.ndim == 0 or input.shape[-1] != self.in_features:
                raise OpError(
                    f"Linear(in_features={self.in_features}, out_features={self.out_features}): "
                    f"expected input of shape (*, {self.in_features}), got {input.shape}"
                ) from None
            raise

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Bilinear(Module):
    """y = x1ᵀ A x2 + b: x1 (*, in1_features) and x2 (*, in2_features) → y (*, out_features).

    ``weight`` (out_features, in1_features, in2_features) and ``bias`` (out_features,) start
    uniform in ±1/√in1_features, as PyTorch's do.

    ```pycon
    >>> import chainrule as cr
    >>> layer = cr.nn.Bilinear(3, 4, 2)
    >>> layer.weight.shape, layer(cr.zeros(5, 3), cr.zeros(5, 4)).shape
    (chainrule.Size([2, 3, 4]), chainrule.Size([5, 2]))

    ```
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        sizes = (
            ("in1_features", in1_features),
            ("in2_features", in2_features),
            ("out_features", out_features),
        )
        for name, value in sizes:
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"Bilinear: {name} must be a non-negative int, got {value!r}")
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        dtype = dtypes.to_dtype(dtype)
        shape = (out_features, in1_features, in2_features)
        self.weight = Parameter(backend.xp.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(backend.xp.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        self._place(device)

    def reset_parameters(self) -> None:
        # PyTorch bounds both by the first input's width alone, not by in1·in2.
        bound = 1 / math.sqrt(self.in1_features) if self.in1_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


class Identity(Module):
    """Returns its input unchanged (a placeholder layer).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Identity()(cr.tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]

    ```
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return input


class Flatten(Module):
    """Merge dimensions start_dim..end_dim (by default all but the batch dimension).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Flatten()(cr.zeros(2, 3, 4)).shape
    chainrule.Size([2, 12])

    ```
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
