"""The table of operation cases that drives tests/test_ops.py.

Each :class:`Case` names one use of one operation: ``cr`` runs it with chainrule and ``th``
with PyTorch. Most cases are written once as ``fn(m, *inputs)`` and called with ``m=chainrule``
and ``m=torch``, so both libraries run literally the same expression; ``th_fn`` is given only
where PyTorch spells the operation differently. ``shapes`` are the shapes of the inputs and
``domain`` says where their values are drawn from: one domain for all inputs or one per input.

Cases are of three kinds:

- differentiable and smooth (the default): gradcheck in float64, and forward and backward
  compared with PyTorch in float32 and float64;
- differentiable at a kink or a tie (``smooth=False``): the inputs sit exactly where the
  derivative is not defined, so only the convention (the gradient PyTorch picks) is compared;
- not differentiable (``differentiable=False``: argmax, indices, comparisons): the forward
  values and their integer or bool dtype are compared with PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch

import chainrule

# ---- domains: where the input values come from --------------------------------------------
#
# A domain is ``domain(rng, shape, index) -> float64 array``; ``index`` is the position of the
# input among the case's inputs (the distinct domain offsets each input so that no two inputs
# ever tie).

Domain = Callable[[np.random.Generator, tuple, int], np.ndarray]


def normal(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
    """Standard normal values."""
    return np.asarray(rng.standard_normal(shape))


def positive(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
    """Values in [0.5, 2]: for log, sqrt, the base of pow and denominators."""
    return np.asarray(rng.uniform(0.5, 2.0, shape))


def above_one(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
    """Values in [1, 2]: exponents for which x**y has a finite derivative at x = 0."""
    return np.asarray(rng.uniform(1.0, 2.0, shape))


def nonzero(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
    """Values at least 0.3 away from zero, of either sign: for 1/x and x**-2."""
    magnitude = rng.uniform(0.3, 2.0, shape)
    return np.asarray(np.where(rng.random(shape) < 0.5, -magnitude, magnitude))


def distinct(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
    """All values different by at least 0.015, within an input and across up to four inputs
    (input ``index`` lives on a grid shifted by index/4 of the spacing): max, min, maximum and
    clamp with tensor bounds are then differentiable everywhere finite differences look."""
    size = int(np.prod(shape, dtype=np.int64))
    grid = (rng.permutation(size) - size / 2) * 0.1 + 0.025 * index
    return np.asarray(grid + rng.uniform(-0.005, 0.005, size)).reshape(shape)


def away_from(*points: float, margin: float = 0.15) -> Domain:
    """Standard normal values pushed at least ``margin`` away from each kink in ``points``."""

    def domain(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
        x = np.asarray(rng.standard_normal(shape))
        for p in points:
            d = x - p
            x = np.where(np.abs(d) < margin, p + np.where(d >= 0, margin, -margin) + d, x)
        return np.asarray(x)

    domain.__name__ = f"away_from{points}"
    return domain


def at(*points: float, rest: Domain = normal) -> Domain:
    """Every other value exactly on one of the kinks in ``points``, the rest from ``rest``."""

    def domain(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
        x = np.array(rest(rng, shape, index), dtype=np.float64).reshape(-1)
        on_kink = x[::2]
        on_kink[:] = np.resize(np.asarray(points, dtype=np.float64), on_kink.shape)
        return x.reshape(shape)

    domain.__name__ = f"at{points}"
    return domain


def ties(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
    """Integers in {-1, 0, 1} as floats: many equal values (for comparisons and tie-breaking)."""
    return np.asarray(rng.integers(-1, 2, shape)).astype(np.float64)


# ---- the case record ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    cr: Callable[..., Any]  # chainrule: cr(*inputs)
    th: Callable[..., Any]  # PyTorch: th(*inputs)
    shapes: tuple[tuple[int, ...], ...]
    domain: Domain | tuple[Domain, ...] = normal
    differentiable: bool = True
    smooth: bool = True
    gradcheck_kw: dict = field(default_factory=dict)

    def domains(self) -> tuple[Domain, ...]:
        if isinstance(self.domain, tuple):
            assert len(self.domain) == len(self.shapes), self.id
            return self.domain
        return (self.domain,) * len(self.shapes)

    def inputs(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Fresh float64 input values for this case."""
        return [d(rng, s, i) for i, (s, d) in enumerate(zip(self.shapes, self.domains()))]


CASES: list[Case] = []


def case(
    id: str,  # noqa: A002
    fn: Callable[..., Any],
    *shapes: tuple[int, ...],
    th_fn: Callable[..., Any] | None = None,
    **options: Any,
) -> None:
    """Add a case: ``fn(m, *inputs)`` with m = chainrule and m = torch (or ``th_fn(torch, ...)``
    where PyTorch needs different code)."""
    CASES.append(
        Case(id, partial(fn, chainrule), partial(th_fn or fn, torch), tuple(shapes), **options)
    )


# Constant, non-differentiable arguments, shared by both libraries.
MASK_34 = np.array(
    [[True, False, True, True], [False, False, True, False], [True, True, False, True]]
)
ROWS_3 = np.array([True, False, True])
REPEATED = np.array([2, 0, 2, 2])

A, B = (3, 4), (3, 4)
X3 = (2, 3, 4)
ONE = {"smooth": False}  # inputs sit on kinks or ties: compare PyTorch's convention only
NOGRAD = {"differentiable": False}
EPS_F32 = {"gradcheck_kw": {"eps": 1e-3}}  # the function rounds through float32

# ---- arithmetic: + - * / and their reflected forms ------------------------------------------

case("add", lambda m, x, y: x + y, A, B)
case("add_bcast_col_row", lambda m, x, y: x + y, (3, 1), (1, 4))
case("add_bcast_3d_1d", lambda m, x, y: x + y, X3, (4,))
case("add_bcast_1d_3d", lambda m, x, y: x + y, (4,), X3)
case("add_0d_left", lambda m, x, y: x + y, (), (3,))
case("add_0d_right", lambda m, x, y: x + y, (2, 3), ())
case("add_same_input_twice", lambda m, x: x + x, A)
case("add_scalar", lambda m, x: x + 2.5, A)
case("add_int_scalar", lambda m, x: x + 2, A)
case("radd_scalar", lambda m, x: 2.5 + x, A)
case("add_fn_alpha", lambda m, x, y: m.add(x, y, alpha=2), (3, 1), (4,))
case("add_method", lambda m, x, y: x.add(y), A, B)
case("sub", lambda m, x, y: x - y, A, B)
case("sub_bcast_col_row", lambda m, x, y: x - y, (3, 1), (1, 4))
case("sub_bcast_3d_1d", lambda m, x, y: x - y, X3, (4,))
case("sub_scalar", lambda m, x: x - 1, A)
case("rsub_scalar", lambda m, x: 2.0 - x, A)
case("sub_fn_alpha", lambda m, x, y: m.sub(x, y, alpha=0.5), A, (1, 4))
case("mul", lambda m, x, y: x * y, A, B)
case("mul_bcast_col_row", lambda m, x, y: x * y, (3, 1), (1, 4))
case("mul_bcast_3d_1d", lambda m, x, y: x * y, X3, (4,))
case("mul_0d", lambda m, x, y: x * y, (), X3)
case("mul_square", lambda m, x: x * x, A)
case("mul_scalar", lambda m, x: x * 0.5, A)
case("rmul_scalar", lambda m, x: 3 * x, A)
case("mul_fn", lambda m, x, y: m.mul(x, y), (2, 1, 4), (3, 1))
case("div", lambda m, x, y: x / y, A, B, domain=(normal, positive))
case("div_bcast_col_row", lambda m, x, y: x / y, (3, 1), (1, 4), domain=(normal, nonzero))
case("div_bcast_3d_1d", lambda m, x, y: x / y, X3, (4,), domain=(normal, positive))
case("div_bcast_1d_3d", lambda m, x, y: x / y, (4,), X3, domain=(normal, nonzero))
case("div_scalar", lambda m, x: x / 4, A)
case("rdiv_scalar", lambda m, x: 2.0 / x, A, domain=nonzero)
case("rdiv_int_scalar", lambda m, x: 1 / x, A, domain=positive)
case("div_fn", lambda m, x, y: m.div(x, y), A, (), domain=(normal, positive))
# Integer tensors as constants: PyTorch's promotion (int64 with float32 is float32).
case("add_int_tensor", lambda m, x: x + m.tensor([1, 2, 3, 4]), A)
case("mul_int_0d_tensor", lambda m, x: m.tensor(3) * x, X3)
case("div_by_int_tensor", lambda m, x: x / m.tensor([[1], [2], [3]]), A)
case("sub_bool_0d_tensor", lambda m, x: x - m.tensor(True).int(), A)
case("neg", lambda m, x: -x, A)
case("neg_fn", lambda m, x: m.neg(x), X3)
case("neg_method", lambda m, x: x.neg(), ())

# ---- pow: tensor**scalar, scalar**tensor, tensor**tensor ------------------------------------

case("pow_int", lambda m, x: x**3, A)
case("pow_square", lambda m, x: x**2, X3)
case("pow_float", lambda m, x: x**2.5, A, domain=positive)
case("pow_half_method", lambda m, x: x.pow(0.5), A, domain=positive)
case("pow_negative", lambda m, x: x**-2, A, domain=nonzero)
case("pow_zero", lambda m, x: x**0, A)
case("pow_fn_scalar", lambda m, x: m.pow(x, 2), A)
case("rpow_int", lambda m, x: 2**x, A)
case("rpow_float", lambda m, x: 2.5**x, A)
case("pow_fn_scalar_base", lambda m, x: m.pow(2.0, x), A)
case("pow_tensor", lambda m, x, y: x**y, A, B, domain=positive)
case("pow_tensor_bcast", lambda m, x, y: x**y, (3, 1), (1, 4), domain=positive)
case("pow_tensor_0d_exponent", lambda m, x, y: x**y, A, (), domain=positive)
case("pow_int_tensor_exponent", lambda m, x: x ** m.tensor([1, 2, 3, 2]), A)
case("rpow_int_tensor_base", lambda m, x: m.tensor([2, 3, 2, 4]) ** x, A)
case("pow_fn_tensor", lambda m, x, y: m.pow(x, y), X3, (4,), domain=(positive, normal))

# ---- unary math and activations --------------------------------------------------------------

case("exp", lambda m, x: m.exp(x), A)
case("exp_method", lambda m, x: x.exp(), X3)
case("log", lambda m, x: m.log(x), A, domain=positive)
case("log_method", lambda m, x: x.log(), (), domain=positive)
case("sqrt", lambda m, x: m.sqrt(x), A, domain=positive)
case("sqrt_method", lambda m, x: x.sqrt(), X3, domain=positive)
case("abs", lambda m, x: m.abs(x), A, domain=away_from(0.0))
case("abs_builtin", lambda m, x: abs(x), X3, domain=away_from(0.0))
case("abs_method", lambda m, x: x.abs(), A, domain=away_from(0.0))
case("sin", lambda m, x: m.sin(x), A)
case("sin_method", lambda m, x: x.sin(), X3)
case("cos", lambda m, x: m.cos(x), A)
case("cos_method", lambda m, x: x.cos(), X3)
case("tanh", lambda m, x: m.tanh(x), A)
case("tanh_method", lambda m, x: (3 * x).tanh(), X3)
case("sigmoid", lambda m, x: m.sigmoid(x), A)
case("sigmoid_method", lambda m, x: (4 * x).sigmoid(), X3)
case("relu", lambda m, x: m.relu(x), A, domain=away_from(0.0))
case("relu_method", lambda m, x: x.relu(), X3, domain=away_from(0.0))

# ---- clamp, maximum, minimum, where ------------------------------------------------------------

case("clamp_min", lambda m, x: x.clamp(min=-0.5), A, domain=away_from(-0.5))
case("clamp_max", lambda m, x: x.clamp(max=0.5), A, domain=away_from(0.5))
case("clamp_both", lambda m, x: m.clamp(x, -0.5, 0.5), X3, domain=away_from(-0.5, 0.5))
case("clip_both", lambda m, x: x.clip(-0.5, 0.5), A, domain=away_from(-0.5, 0.5))
case("clamp_tensor_min", lambda m, x, y: m.clamp(x, min=y), A, B, domain=distinct)
case("clamp_tensor_max", lambda m, x, y: x.clamp(max=y), A, (4,), domain=distinct)
case("clamp_tensor_both", lambda m, x, lo, hi: m.clamp(x, lo, hi), A, B, B, domain=distinct)
case("maximum", lambda m, x, y: m.maximum(x, y), A, B, domain=distinct)
case("maximum_bcast_col_row", lambda m, x, y: m.maximum(x, y), (3, 1), (1, 4), domain=distinct)
case("maximum_bcast_3d_1d", lambda m, x, y: x.maximum(y), X3, (4,), domain=distinct)
case("max_of_two", lambda m, x, y: m.max(x, y), A, B, domain=distinct)
case("minimum", lambda m, x, y: m.minimum(x, y), A, B, domain=distinct)
case("minimum_bcast_col_row", lambda m, x, y: m.minimum(x, y), (3, 1), (1, 4), domain=distinct)
case("minimum_bcast_3d_1d", lambda m, x, y: x.minimum(y), X3, (4,), domain=distinct)
case("min_of_two", lambda m, x, y: m.min(x, y), A, B, domain=distinct)
case("where", lambda m, x, y: m.where(m.tensor(MASK_34), x, y), A, B)
case("where_bcast", lambda m, x, y: m.where(m.tensor(MASK_34), x, y), (3, 1), (4,))
case("where_int_other", lambda m, x: m.where(m.tensor(MASK_34), x, m.tensor(2)), A)
case("where_scalar_other", lambda m, x: m.where(x > 0, x, 0.0), A, domain=away_from(0.0))
case("where_scalar_input", lambda m, x: m.where(x > 0, 1.0, x), A, domain=away_from(0.0))
case("clamp_min_above_max", lambda m, x: x.clamp(0.5, -0.5), A, domain=away_from(-0.5, 0.5))
# At the kinks: the gradient PyTorch chooses where the derivative is undefined.
case("abs_at_zero", lambda m, x: x.abs(), A, domain=at(0.0), **ONE)
case("relu_at_zero", lambda m, x: x.relu(), A, domain=at(0.0), **ONE)
case("clamp_at_bounds", lambda m, x: x.clamp(-0.5, 0.5), A, domain=at(-0.5, 0.5), **ONE)
case("pow_zero_base", lambda m, x, y: x**y, A, B, domain=(at(0.0, rest=positive), above_one), **ONE)
case("pow_scalar_zero_base", lambda m, x: x**2.5, A, domain=at(0.0, rest=positive), **ONE)
case("maximum_ties", lambda m, x, y: m.maximum(x, y), A, B, domain=ties, **ONE)
case("minimum_ties", lambda m, x, y: m.minimum(x, y), (3, 1), (4,), domain=ties, **ONE)

# ---- zero-dimensional inputs ---------------------------------------------------------------

Z = ()
case("exp_0d", lambda m, x: x.exp(), Z)
case("sqrt_0d", lambda m, x: m.sqrt(x), Z, domain=positive)
case("sin_cos_0d", lambda m, x: x.sin() * m.cos(x), Z)
case("abs_0d", lambda m, x: x.abs(), Z, domain=away_from(0.0))
case("tanh_0d", lambda m, x: m.tanh(x), Z)
case("sigmoid_0d", lambda m, x: x.sigmoid(), Z)
case("relu_0d", lambda m, x: m.relu(x), Z, domain=away_from(0.0))
case("clamp_0d", lambda m, x: x.clamp(-0.5, 0.5), Z, domain=away_from(-0.5, 0.5))
case("pow_0d", lambda m, x, y: x**y, Z, Z, domain=positive)
case("rpow_0d", lambda m, x: 3**x, Z)
case("div_0d", lambda m, x, y: x / y, Z, Z, domain=(normal, positive))
case("maximum_0d", lambda m, x, y: m.maximum(x, y), Z, Z, domain=distinct)
case("where_0d", lambda m, x, y: m.where(m.tensor(True), x, y), Z, Z)
case("mean_0d", lambda m, x: x.mean(), Z)
case("max_0d", lambda m, x: x.max(), Z)
case("max_dim_0d", lambda m, x: x.max(dim=0).values, Z)
case("logsumexp_0d", lambda m, x: x.logsumexp(0), Z)
case("softmax_0d", lambda m, x: x.softmax(0), Z)
case("log_softmax_0d", lambda m, x: x.log_softmax(-1), Z)
case("matmul_0d_result", lambda m, x, y: (x @ y) * 2, (3,), (3,))
case("unsqueeze_0d", lambda m, x: x.unsqueeze(0), Z)
case("index_0d_none", lambda m, x: x[None], Z)
case("index_0d_ellipsis", lambda m, x: x[...], Z)
case("stack_0d", lambda m, x, y: m.stack([x, y]), Z, Z)

# ---- empty tensors ---------------------------------------------------------------------------

case("sum_empty", lambda m, x: x.sum(), (0, 3))
case("sum_empty_dim", lambda m, x: x.sum(0), (0, 3))
case("add_empty_bcast", lambda m, x, y: x + y, (0, 3), (3,))
case("mul_empty_bcast", lambda m, x, y: x * y, (2, 0, 3), (1, 3))
case("matmul_empty_inner", lambda m, x, y: x @ y, (3, 0), (0, 4))
case("matmul_empty_batch", lambda m, x, y: x @ y, (0, 2, 3), (3, 4))
case("cat_empty", lambda m, x, y: m.cat([x, y]), (0, 4), A)
case("reshape_empty", lambda m, x: x.reshape(3, 0, 2), (0, 6))
case("index_empty_list", lambda m, x: x[m.tensor([], dtype=m.int64)], A)
case("softmax_empty", lambda m, x: x.softmax(1), (0, 4))

# ---- reductions ------------------------------------------------------------------------------

case("sum", lambda m, x: x.sum(), X3)
case("sum_fn", lambda m, x: m.sum(x), A)
case("sum_0d", lambda m, x: x.sum(), ())
case("sum_dim", lambda m, x: x.sum(dim=1), X3)
case("sum_dim_negative_keepdim", lambda m, x: x.sum(-1, keepdim=True), X3)
case("sum_dim_tuple", lambda m, x: m.sum(x, (0, 2)), X3)
case("sum_dim_tuple_keepdim", lambda m, x: x.sum(dim=(0, -1), keepdim=True), X3)
case("mean", lambda m, x: x.mean(), X3)
case("mean_fn", lambda m, x: m.mean(x), (5,))
case("mean_dim", lambda m, x: x.mean(0), X3)
case("mean_dim_keepdim", lambda m, x: m.mean(x, dim=-2, keepdim=True), X3)
case("mean_dim_tuple", lambda m, x: x.mean(dim=(1, 2)), X3)
case("max_full", lambda m, x: x.max(), X3, domain=distinct)
case("max_fn_full", lambda m, x: m.max(x), A, domain=distinct)
case("min_full", lambda m, x: x.min(), X3, domain=distinct)
case("max_dim_values", lambda m, x: x.max(dim=1).values, X3, domain=distinct)
case("max_dim_keepdim", lambda m, x: x.max(1, keepdim=True)[0], A, domain=distinct)
case("max_fn_dim_negative", lambda m, x: m.max(x, -1).values, X3, domain=distinct)
case("min_dim_values", lambda m, x: m.min(x, dim=0).values, X3, domain=distinct)
case("min_dim_keepdim", lambda m, x: x.min(-1, keepdim=True).values, X3, domain=distinct)
case("max_full_ties", lambda m, x: x.max(), A, domain=ties, **ONE)
case("min_full_ties", lambda m, x: x.min(), A, domain=ties, **ONE)
case("max_dim_ties", lambda m, x: x.max(dim=1).values, A, domain=ties, **ONE)
case("min_dim_ties", lambda m, x: x.min(0, keepdim=True).values, A, domain=ties, **ONE)
case("var", lambda m, x: x.var(), X3)
case("var_fn_dim", lambda m, x: m.var(x, 1), X3)
case("var_dim_tuple_keepdim", lambda m, x: x.var(dim=(0, 2), keepdim=True), X3)
case("var_dim_none", lambda m, x: x.var(dim=None), A)
case("var_unbiased_false", lambda m, x: x.var(1, unbiased=False), X3)
case("var_positional_unbiased", lambda m, x: x.var(False), A)
case("var_correction_0", lambda m, x: x.var(-1, correction=0), X3)
case("var_correction_2_keepdim", lambda m, x: x.var(0, keepdim=True, correction=2), (5, 3))
case("std", lambda m, x: x.std(), X3)
case("std_fn_dim", lambda m, x: m.std(x, -1), X3)
case("std_dim_tuple", lambda m, x: x.std(dim=(1, 2)), X3)
case("std_dim_none_keepdim", lambda m, x: x.std(dim=None, keepdim=True), A)
case("std_unbiased_false_keepdim", lambda m, x: x.std(0, unbiased=False, keepdim=True), X3)
case("std_correction_0", lambda m, x: x.std(correction=0), A)
case("logsumexp", lambda m, x: x.logsumexp(dim=1), X3)
case("logsumexp_fn_tuple", lambda m, x: m.logsumexp(x, (0, 2)), X3)
case("logsumexp_keepdim", lambda m, x: x.logsumexp(-1, keepdim=True), X3)
case("logsumexp_1d", lambda m, x: m.logsumexp(x, 0), (5,))
case("logsumexp_large", lambda m, x: (50 * x).logsumexp(1), A)

# ---- softmax family --------------------------------------------------------------------------

case("softmax_dim0", lambda m, x: m.softmax(x, dim=0), X3)
case("softmax_dim1", lambda m, x: x.softmax(1), X3)
case("softmax_dim_last", lambda m, x: x.softmax(dim=-1), X3)
case("softmax_1d", lambda m, x: m.softmax(x, 0), (5,))
case("softmax_large", lambda m, x: (30 * x).softmax(-1), A)
case("softmax_dtype", lambda m, x: x.softmax(1, dtype=m.float64), A)
case("log_softmax_dim0", lambda m, x: m.log_softmax(x, dim=0), X3)
case("log_softmax_dim1", lambda m, x: x.log_softmax(1), X3)
case("log_softmax_dim_last", lambda m, x: x.log_softmax(-1), X3)
case("log_softmax_large", lambda m, x: (30 * x).log_softmax(1), A)
case("log_softmax_dtype", lambda m, x: m.log_softmax(x, -1, dtype=m.float64), A)

# ---- matmul in all its forms -----------------------------------------------------------------

case("matmul_1d_1d", lambda m, x, y: x @ y, (4,), (4,))
case("matmul_2d_1d", lambda m, x, y: x @ y, (3, 4), (4,))
case("matmul_1d_2d", lambda m, x, y: x @ y, (4,), (4, 5))
case("matmul_2d_2d", lambda m, x, y: x @ y, (3, 4), (4, 5))
case("matmul_3d_3d", lambda m, x, y: x @ y, (2, 3, 4), (2, 4, 5))
case("matmul_batch_bcast", lambda m, x, y: x @ y, (2, 1, 3, 4), (5, 4, 2))
case("matmul_3d_2d", lambda m, x, y: x @ y, (2, 3, 4), (4, 5))
case("matmul_2d_3d", lambda m, x, y: x @ y, (3, 4), (2, 4, 5))
case("matmul_1d_3d", lambda m, x, y: x @ y, (4,), (2, 4, 3))
case("matmul_3d_1d", lambda m, x, y: x @ y, (2, 3, 4), (4,))
case("matmul_same_input", lambda m, x: x @ x, (3, 3))
case("matmul_fn", lambda m, x, y: m.matmul(x, y), (2, 3, 4), (1, 4, 2))
case("matmul_method", lambda m, x, y: x.matmul(y), (3, 4), (4, 2))
case("mm", lambda m, x, y: m.mm(x, y), (3, 4), (4, 2))
case("mm_method", lambda m, x, y: x.mm(y), (1, 4), (4, 3))
case("dot", lambda m, x, y: m.dot(x, y), (5,), (5,))

# ---- reshaping and moving axes ---------------------------------------------------------------

case("reshape", lambda m, x: x.reshape(4, -1), X3)
case("reshape_tuple", lambda m, x: x.reshape((3, 8)), X3)
case("reshape_fn", lambda m, x: m.reshape(x, (2, 2, 3)), A)
case("reshape_to_0d", lambda m, x: x.reshape(()), (1, 1))
case("view", lambda m, x: x.view(2, 6), A)
case("view_flat", lambda m, x: x.view(-1), X3)
case("view_as", lambda m, x, y: x.view_as(y) * y, A, (6, 2))
case("flatten", lambda m, x: x.flatten(), X3)
case("flatten_start", lambda m, x: x.flatten(1), X3)
case("flatten_start_end", lambda m, x: x.flatten(0, 1), X3)
case("flatten_fn_negative_end", lambda m, x: m.flatten(x, start_dim=1, end_dim=-2), (2, 3, 2, 2))
case("flatten_0d", lambda m, x: x.flatten(), ())
case("transpose", lambda m, x: x.transpose(0, 2), X3)
case("transpose_negative", lambda m, x: x.transpose(-1, -2), X3)
case("transpose_fn", lambda m, x: m.transpose(x, 0, 1), A)
case("t_2d", lambda m, x: x.t(), A)
case("t_1d", lambda m, x: x.t(), (4,))
case("T_2d", lambda m, x: x.T, A)
# PyTorch deprecates .T on tensors of other than 2 dimensions; it reverses the axes.
case("T_3d", lambda m, x: x.T, X3, th_fn=lambda m, x: x.permute(2, 1, 0))
case("mT", lambda m, x: x.mT, X3)
case("permute", lambda m, x: x.permute(2, 0, 1), X3)
case("permute_tuple", lambda m, x: x.permute((1, 0, 2)), X3)
case("permute_negative", lambda m, x: x.permute(-1, 0, 1), X3)
case("permute_fn", lambda m, x: m.permute(x, (2, 1, 0)), X3)
case("squeeze_all", lambda m, x: x.squeeze(), (1, 3, 1, 4))
case("squeeze_dim", lambda m, x: x.squeeze(0), (1, 3, 1, 4))
case("squeeze_negative_dim", lambda m, x: x.squeeze(-2), (1, 3, 1, 4))
case("squeeze_dim_not_one", lambda m, x: x.squeeze(1), (1, 3, 1, 4))
case("squeeze_fn_tuple", lambda m, x: m.squeeze(x, (0, 2)), (1, 3, 1, 4))
case("unsqueeze_front", lambda m, x: x.unsqueeze(0), A)
case("unsqueeze_negative_1", lambda m, x: x.unsqueeze(-1), A)
case("unsqueeze_negative_2", lambda m, x: x.unsqueeze(-2), A)
case("unsqueeze_fn", lambda m, x: m.unsqueeze(x, 1), (4,))
case("expand", lambda m, x: x.expand(3, 4), (3, 1))
case("expand_minus_one", lambda m, x: x.expand(-1, 4), (3, 1))
case("expand_new_dims", lambda m, x: x.expand(2, 3, 4), (3, 1))
case("expand_new_and_minus_one", lambda m, x: x.expand(2, -1, -1), A)
case("expand_tuple_0d", lambda m, x: x.expand((2, 3)), ())
case("expand_as", lambda m, x, y: x.expand_as(y) * y, (1, 4), A)

# ---- joining and splitting -------------------------------------------------------------------

case("cat", lambda m, x, y: m.cat([x, y]), (2, 4), A)
case("cat_dim1", lambda m, x, y: m.cat((x, y), dim=1), (3, 2), A)
case("cat_dim_negative_3", lambda m, x, y, z: m.cat([x, y, z], -1), (2, 3, 1), X3, (2, 3, 2))
case("cat_repeated_input", lambda m, x, y: m.cat([x, y, x], dim=0), A, (1, 4))
case("concat", lambda m, x, y: m.concat([x, y], dim=1), (3, 2), A)
case("stack", lambda m, x, y: m.stack([x, y]), A, B)
case("stack_dim1", lambda m, x, y, z: m.stack((x, y, z), dim=1), A, A, A)
case("stack_dim_negative", lambda m, x, y: m.stack([x, y], dim=-1), X3, X3)
case("cat_mixed_float_dtypes", lambda m, x, y: m.cat([x.float(), y.double()], 1), A, A, **EPS_F32)
case("cat_with_int_tensor", lambda m, x: m.cat([x, m.tensor([[1, 2, 3, 4]])]), A)
case("stack_with_int_tensor", lambda m, x: m.stack([m.tensor([1, 2, 3, 4]), x], 1), (4,))
case("stack_repeated_input", lambda m, x: m.stack([x, 2 * x, x], dim=0), (4,))
case("split_int", lambda m, x: x.split(2), (5, 3))
case("split_int_dim", lambda m, x: x.split(3, dim=1), (2, 7))
case("split_list", lambda m, x: x.split([1, 3], dim=1), A)
case("split_fn", lambda m, x: m.split(x, [2, 1, 2], dim=-1), (2, 5))
case("split_used_twice", lambda m, x: x.split(2)[0] * x.split(2)[1], (4, 3))
case("chunk", lambda m, x: x.chunk(3), (5, 2))
case("chunk_uneven_count", lambda m, x: x.chunk(4), (6, 2))
case("chunk_more_than_length", lambda m, x: x.chunk(10), (3, 2))
case("split_larger_than_length", lambda m, x: x.split(5), (3, 2))
case("chunk_fn_dim", lambda m, x: m.chunk(x, 2, dim=1), X3)

# ---- indexing --------------------------------------------------------------------------------

case("index_int", lambda m, x: x[1], A)
case("index_negative_int", lambda m, x: x[-1], X3)
case("index_two_ints", lambda m, x: x[1, 2], A)
case("index_slice", lambda m, x: x[1:3], A)
case("index_slice_step", lambda m, x: x[::2], (5, 3))
case("index_slices_steps", lambda m, x: x[0:5:2, 1::3], (5, 7))
case("index_none", lambda m, x: x[None], A)
case("index_none_middle", lambda m, x: x[:, None, 1], A)
case("index_ellipsis", lambda m, x: x[..., 1], X3)
case("index_ellipsis_none_slice", lambda m, x: x[..., None, 1:], X3)
case("index_int_ellipsis_step", lambda m, x: x[1, ..., ::2], X3)
case("index_list_repeated", lambda m, x: x[[0, 2, 0, 0]], A)
case("index_list_repeated_columns", lambda m, x: x[:, [1, 1, 3]], A)
case("index_array_repeated", lambda m, x: x[REPEATED], A)
case("index_tensor_repeated", lambda m, x: x[m.tensor([0, 1, 1, 2])], A)
case("index_tensor_2d_repeated", lambda m, x: x[m.tensor([[0, 1], [1, 1]])], A)
case("index_tensor_0d", lambda m, x: x[m.tensor(1)], A)
case("index_pairs_repeated", lambda m, x: x[[0, 2, 2], [1, 1, 1]], A)
case("index_list_then_slice", lambda m, x: x[m.tensor([2, 2, 0]), 1:], A)
case("index_slice_then_list", lambda m, x: x[1:, [0, 0, 2]], A)
case("index_ellipsis_list", lambda m, x: x[..., [3, 0, 3]], X3)
case("index_list_negative_repeated", lambda m, x: x[[-1, 0, -1]], A)
case("index_negative_slices", lambda m, x: x[-2:, :-1], A)
case("index_bool_list", lambda m, x: x[[True, False, True]], A)
case("index_mask", lambda m, x: x[m.tensor(MASK_34)], A)
case("index_mask_rows", lambda m, x: x[m.tensor(ROWS_3)], A)
case("index_mask_from_values", lambda m, x: x[x > 0], A, domain=away_from(0.0))
case("index_mask_then_slice", lambda m, x: x[m.tensor(ROWS_3), 1:], A)
case("index_mask_and_list", lambda m, x: x[m.tensor(ROWS_3), [0, 0]], A)
case("index_mask_3d_ellipsis", lambda m, x: x[m.tensor([True, False, True]), ...], (3, 2, 2))

# ---- casts and copies ------------------------------------------------------------------------

case("float", lambda m, x: x.float(), A, **EPS_F32)
case("double", lambda m, x: x.double(), A)
case("to_float64", lambda m, x, y: x.to(m.float64) * y, A, B)
case("to_dtype_keyword", lambda m, x: x.to(dtype=m.float32) * 2, A, **EPS_F32)
case("float_times_double", lambda m, x, y: x.float() * y.double(), A, B, **EPS_F32)
case("clone", lambda m, x: x.clone(), A)
case("clone_fn", lambda m, x: m.clone(x) * x, X3)

# ---- not differentiable: indices and comparisons (values and dtypes only) -------------------

case("argmax_full", lambda m, x: x.argmax(), X3, domain=distinct, **NOGRAD)
case("argmax_dim", lambda m, x: x.argmax(dim=1), X3, domain=distinct, **NOGRAD)
case("argmax_fn_dim_keepdim", lambda m, x: m.argmax(x, -1, keepdim=True), X3, **NOGRAD)
case("argmin_full", lambda m, x: m.argmin(x), A, domain=distinct, **NOGRAD)
case("argmin_dim_keepdim", lambda m, x: x.argmin(0, keepdim=True), X3, **NOGRAD)
case("argmax_ties", lambda m, x: x.argmax(dim=0), A, domain=ties, **NOGRAD)
case("argmin_ties_full", lambda m, x: x.argmin(), A, domain=ties, **NOGRAD)
case("max_dim_indices", lambda m, x: x.max(dim=1).indices, X3, domain=distinct, **NOGRAD)
case("max_dim_keepdim_indices", lambda m, x: x.max(-1, keepdim=True)[1], X3, **NOGRAD)
case("min_dim_indices", lambda m, x: m.min(x, 0).indices, X3, domain=distinct, **NOGRAD)
case("min_dim_keepdim_indices", lambda m, x: x.min(1, keepdim=True).indices, A, **NOGRAD)
case("max_dim_ties_indices", lambda m, x: x.max(dim=1).indices, A, domain=ties, **NOGRAD)
case("min_dim_ties_indices", lambda m, x: x.min(dim=0)[1], A, domain=ties, **NOGRAD)
for _name, _op in [
    ("eq", lambda x, y: x == y),
    ("ne", lambda x, y: x != y),
    ("lt", lambda x, y: x < y),
    ("le", lambda x, y: x <= y),
    ("gt", lambda x, y: x > y),
    ("ge", lambda x, y: x >= y),
]:
    case(f"{_name}_op", lambda m, x, y, op=_op: op(x, y), A, B, domain=ties, **NOGRAD)
    case(f"{_name}_op_bcast", lambda m, x, y, op=_op: op(x, y), (3, 1), (4,), domain=ties, **NOGRAD)
    case(f"{_name}_scalar_right", lambda m, x, op=_op: op(x, 0), A, domain=ties, **NOGRAD)
    case(f"{_name}_scalar_left", lambda m, x, op=_op: op(1.0, x), A, domain=ties, **NOGRAD)
    case(
        f"{_name}_fn",
        lambda m, x, y, name=_name: getattr(m, name)(x, y),
        X3,
        (4,),
        domain=ties,
        **NOGRAD,
    )
    case(
        f"{_name}_method",
        lambda m, x, y, name=_name: getattr(x, name)(y),
        A,
        (),
        domain=ties,
        **NOGRAD,
    )

# Families kept in files of their own; each module adds its cases with case() when imported.
import op_cases_decompositions  # noqa: E402, F401
import op_cases_elementwise  # noqa: E402, F401
import op_cases_indexing  # noqa: E402, F401
import op_cases_linalg  # noqa: E402, F401
import op_cases_margin_losses  # noqa: E402, F401
import op_cases_nn  # noqa: E402, F401
import op_cases_pooling_bags  # noqa: E402, F401
import op_cases_reductions  # noqa: E402, F401
import op_cases_resampling  # noqa: E402, F401
import op_cases_shape  # noqa: E402, F401
import op_cases_special  # noqa: E402, F401
import op_cases_three_d  # noqa: E402, F401

_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), "case ids must be unique"
