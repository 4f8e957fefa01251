"""chainrule.special: PyTorch's ``torch.special`` namespace, by the same names.

The gamma family (gammaln, digamma, psi, polygamma, multigammaln) is in ops/gamma_functions.py,
the inverse error function and the normal distribution's functions (erfinv, erfcx, ndtri,
log_ndtr) in ops/erfinv.py, the modified Bessel functions (i0, i0e, i1, i1e) in ops/bessel.py;
the rest are chainrule's own operations under torch.special's names, and three small ones
defined here: xlog1py, entr and ndtr. Every function is differentiable, twice.

```pycon
>>> import chainrule as cr
>>> from chainrule import special
>>> x = cr.tensor([0.5, 2.0], requires_grad=True)
>>> special.gammaln(x).sum().backward()
>>> x.grad.to(cr.float64).round(decimals=4).tolist()  # digamma
[-1.9635, 0.4228]

```
"""

from __future__ import annotations

import math
from typing import Any

from chainrule import backend, fp_errors
from chainrule.autograd.function import Function, not_a_tensor
from chainrule.ops.bessel import i0, i0e, i1, i1e
from chainrule.ops.broadcast import shape_of, unbroadcast
from chainrule.ops.elementwise import as_float, saved_operands
from chainrule.ops.erf import erf, erfc
from chainrule.ops.erfinv import erfcx, erfinv, log_ndtr, ndtri
from chainrule.ops.exponential import _float_operands, exp2, expm1, log1p, logit, xlogy
from chainrule.ops.gamma_functions import digamma, polygamma
from chainrule.ops.gamma_functions import lgamma as gammaln
from chainrule.ops.gamma_functions import mvlgamma as multigammaln
from chainrule.ops.operands import check_operands
from chainrule.ops.reduce import logsumexp
from chainrule.ops.rounding import round  # noqa: A004 - torch.special.round
from chainrule.ops.smooth_activations import sigmoid as expit
from chainrule.ops.softmax import log_softmax as _log_softmax
from chainrule.ops.softmax import softmax as _softmax
from chainrule.ops.trigonometric import sinc
from chainrule.tensor import Tensor

__all__ = [
    "digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammaln",
    "i0", "i0e", "i1", "i1e", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp",
    "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round", "sinc", "softmax", "xlog1py",
    "xlogy",
]  # fmt: skip

psi = digamma
_SQRT_HALF = math.sqrt(0.5)


def softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """exp(x) / Σ exp(x) along ``dim`` (``torch.special.softmax``: dtype by keyword only).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> special.softmax(cr.tensor([0.0, 0.0]), dim=0).tolist()
    [0.5, 0.5]

    ```
    """
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """x − logsumexp(x) along ``dim`` (``torch.special.log_softmax``: dtype by keyword only).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> out = special.log_softmax(cr.tensor([0.0, 0.0], dtype=cr.float64), dim=0)
    >>> out.round(decimals=4).tolist()
    [-0.6931, -0.6931]

    ```
    """
    return _log_softmax(input, dim, dtype=dtype)


class Xlog1py(Function):
    """∂(x · ln(1 + y))/∂x = ln(1 + y) (0 where x = 0 and y ≤ −1), ∂/∂y = x/(1 + y)"""

    argument_names = ("input", "other")

    def forward(self, x: Any, y: Any) -> Any:
        x, y = _float_operands(x, y)
        self.saved = (x, y)
        xp = backend.xp
        with fp_errors.silenced():
            out = x * xp.log1p(y)
        # 0 · ln(1 + y) is 0 even where the logarithm is −inf or inf; nan stays nan.
        return xp.where((x == 0) & ~xp.isnan(y), 0, out)

    def backward(self, grad: Any) -> tuple:
        x, y = self.saved
        need_x, need_y = self.needs_input_grad
        xp = backend.xp
        grad_x = grad_y = None
        if need_x:
            grad_x = xp.where((x == 0) & (y <= -1), 0.0, grad * xp.log1p(y))
            grad_x = unbroadcast(grad_x, shape_of(x))
        if need_y:
            grad_y = unbroadcast(grad * x / (y + 1), shape_of(y))
        return grad_x, grad_y

    def saved_in_graph(self, output: Tensor) -> tuple:
        return saved_operands(self, output)


def xlog1py(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input · ln(1 + other), element-wise and broadcast, 0 where input is 0; either may be a
    Python number.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> special.xlog1py(cr.tensor([0.0, 2.0]), cr.tensor([-1.0, 0.0])).tolist()
    [0.0, 0.0]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("xlog1py", ("input", "other"), input, other)
    return Xlog1py.apply(input, other)


class Entr(Function):
    """d/dx (−x ln x) = −(1 + ln x) (inf at 0, nan below, as PyTorch's)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        xp = backend.xp
        with fp_errors.silenced():
            out = -x * xp.log(xp.where(x > 0, x, 1))
        return xp.where(x < 0, -math.inf, xp.where(x == 0, 0, out))

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad * -(backend.xp.log(x) + 1),)


def entr(input: Tensor) -> Tensor:  # noqa: A002
    """The entropy term −x ln x element-wise: 0 at x = 0, −inf for x < 0.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> special.entr(cr.tensor([0.0, 0.5, -1.0], dtype=cr.float64)).round(decimals=4).tolist()
    [0.0, 0.3466, -inf]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("entr", "input", input)
    return Entr.apply(input)


def ndtr(input: Tensor) -> Tensor:  # noqa: A002
    """The standard normal CDF Φ(x) = erfc(−x/√2)/2, element-wise; Φ'(x) = e^{−x²/2}/√(2π).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> special.ndtr(cr.tensor([0.0, 1.96], dtype=cr.float64)).round(decimals=4).tolist()
    [0.5, 0.975]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("ndtr", "input", input)
    if input.array.dtype.kind != "f":
        input = input.to(as_float(input.array).dtype)  # noqa: A001
    return erfc(input * -_SQRT_HALF) * 0.5
