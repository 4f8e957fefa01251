"""Numerics at the extremes: operations against PyTorch where their inputs are 0, ±inf, nan,
huge or tiny, forward values and gradients.

Where PyTorch's value is finite, chainrule's must be finite and within the dtype's tolerance;
where PyTorch gives ±inf or nan, chainrule must give the same (``assert_allclose`` checks that
nan and ±inf sit at the same places). The upstream gradient is not all ones, so that a
gradient routed to the wrong element shows.

Also here: no NumPy RuntimeWarning escapes an operation or a module call where PyTorch is
silent, and NumPy's own error state is left as the user set it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import fp_errors

INF, NAN = float("inf"), float("nan")
HALF = ("float16",)
SINGLE_DOUBLE = ("float32", "float64")

# (rtol, atol) per dtype. atol is absolute, not scaled: values here span 10³⁸.
TOLERANCE = {"float16": (2e-3, 1e-3), "float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12)}


@dataclass(frozen=True)
class Extreme:
    """One operation at extreme inputs: ``fn(m, *tensors)`` with ``m`` chainrule or torch.

    ``inputs`` holds, per argument, a list of float values (a leaf that requires grad, in the
    test's dtype) or a NumPy array (a constant: integer class targets keep their dtype, float
    probabilities take the test's)."""

    id: str
    fn: Callable[..., Any]
    inputs: tuple
    dtypes: tuple = SINGLE_DOUBLE
    th_fn: Callable[..., Any] | None = None  # where PyTorch's expression differs


def F(m: Any) -> Any:  # PyTorch's alias for the functional module
    return m.nn.functional


def unary(name: str, values: list, dtypes: tuple = SINGLE_DOUBLE, **options: Any) -> Extreme:
    """``name`` as a method of the tensor, or else a function of ``nn.functional``."""

    def fn(m: Any, x: Any) -> Any:
        method = getattr(x, name, None)
        return method(**options) if method is not None else getattr(F(m), name)(x, **options)

    suffix = ",".join(f"{k}={v}" for k, v in options.items())
    return Extreme(f"{name}({suffix})" if suffix else name, fn, (values,), dtypes)


def exact_gelu(values: list, dtypes: tuple = SINGLE_DOUBLE) -> Extreme:
    """gelu (erf form), compared with PyTorch's float64 kernel rounded to the dtype: its
    AVX-512 float32 kernel gives gelu(+inf) = nan (its AVX2 kernel and its float64 kernel give
    inf, the limit), so which number PyTorch's float32 gives depends on the CPU."""
    case = unary("gelu", values, dtypes)

    def through_float64(m: Any, x: Any) -> Any:
        return F(m).gelu(x.double()).to(x.dtype)

    return replace(case, th_fn=through_float64)


TAILS = [-INF, -1e4, -1000.0, -100.0, -20.0, -1.0, -0.0, 0.0, 1.0, 20.0, 100.0, 1000.0, 1e4, INF]
TAILS_WITH_NAN = [*TAILS, NAN]
HALF_TAILS = [-INF, -6e4, -1000.0, -12.0, -1.0, -0.0, 0.0, 1.0, 12.0, 1000.0, 6e4, INF, NAN]

UNARY = [
    unary("exp", [-INF, -1000.0, -100.0, 0.0, 88.5, 100.0, 710.0, 1000.0, INF, NAN]),
    unary("exp", [-INF, -20.0, 0.0, 11.0, 12.0, INF, NAN], HALF),
    unary("log", [-1.0, -0.0, 0.0, 1e-30, 1.0, INF, NAN]),
    unary("sqrt", [-1.0, -0.0, 0.0, 1e-30, 1.0, INF, NAN]),
    unary("abs", [-INF, -1.0, -0.0, 0.0, 1.0, INF, NAN]),
    unary("sin", [-INF, 0.0, 1e30, INF, NAN]),
    unary("cos", [-INF, 0.0, 1e30, INF, NAN]),
    unary("tanh", TAILS_WITH_NAN),
    unary("tanh", HALF_TAILS, HALF),
    unary("sigmoid", [*TAILS_WITH_NAN, -88.8, 88.8, -709.5, 709.5]),
    unary("sigmoid", HALF_TAILS, HALF),
    unary("relu", TAILS_WITH_NAN),
    unary("leaky_relu", TAILS_WITH_NAN),
    unary("softplus", [*TAILS_WITH_NAN, 19.9, 20.1]),
    unary("softplus", [*TAILS_WITH_NAN, 4.9, 5.1], beta=2.0, threshold=10.0),
    unary("softplus", [*TAILS_WITH_NAN, 39.0, 41.0], beta=0.5),
    unary("softplus", HALF_TAILS, HALF),
    unary("elu", TAILS_WITH_NAN),
    unary("elu", TAILS_WITH_NAN, alpha=0.5),
    unary("elu", HALF_TAILS, HALF),
    exact_gelu(TAILS_WITH_NAN),
    unary("gelu", TAILS_WITH_NAN, approximate="tanh"),
    exact_gelu(HALF_TAILS, HALF),
    unary("gelu", HALF_TAILS, HALF, approximate="tanh"),
    unary("silu", TAILS_WITH_NAN),
    unary("silu", HALF_TAILS, HALF),
    unary("log_softmax", [-INF, 0.0], dim=0),
]

CLAMPED = [-INF, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, INF, NAN]
CLAMP = [
    Extreme("clamp(-0.5, 0.5)", lambda m, x: x.clamp(-0.5, 0.5), (CLAMPED,)),
    Extreme("clamp(min=0.5)", lambda m, x: x.clamp(min=0.5), (CLAMPED,)),
    Extreme("clamp(max=-0.5)", lambda m, x: x.clamp(max=-0.5), (CLAMPED,)),
    Extreme("clamp(min > max)", lambda m, x: x.clamp(1.0, -1.0), (CLAMPED,)),
    Extreme("clamp(-inf, inf)", lambda m, x: x.clamp(-INF, INF), (CLAMPED,)),
    Extreme(
        "clamp(tensor bounds)",
        lambda m, x, lo, hi: m.clamp(x, lo, hi),
        # ties with either bound, min > max (at 0 and 4), an infinite bound
        (CLAMPED, [1.0] + [-0.5] * 8, [0.5, 0.5, 0.5, 0.5, -INF, 0.5, INF, 0.5, 0.5]),
    ),
]

# Pairs that tie, overflow, are undefined, or meet infinity.
LEFT = [INF, INF, -INF, NAN, 1.0, 1.0, NAN, 0.0, -0.0, INF, 0.0, 1.0, -1.0, 3e38, 1e-30]
RIGHT = [INF, 1.0, -INF, 1.0, NAN, 1.0, NAN, -0.0, 0.0, -INF, 0.0, 0.0, 0.0, 0.5, 1e-30]
BINARY = [
    Extreme("add", lambda m, a, b: a + b, (LEFT, RIGHT)),
    Extreme("sub", lambda m, a, b: a - b, (LEFT, RIGHT)),
    Extreme("mul", lambda m, a, b: a * b, (LEFT, RIGHT)),
    Extreme("div", lambda m, a, b: a / b, (LEFT, RIGHT)),
    Extreme("div by inf", lambda m, a, b: a / b, ([1.0, 0.0, INF, -2.0], [INF, INF, INF, -INF])),
    Extreme("maximum", lambda m, a, b: m.maximum(a, b), (LEFT, RIGHT)),
    Extreme("minimum", lambda m, a, b: m.minimum(a, b), (LEFT, RIGHT)),
    Extreme("where", lambda m, a, b: m.where(a > b, a, b), (LEFT, RIGHT)),
]

BASES = [-INF, -2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, INF, NAN]
SCALAR_EXPONENTS = [0, 1, 2, 3, -1, -2, 0.0, 0.5, 2.5, -0.5, -1.0, 3.0, INF, -INF, NAN]
POW = [Extreme(f"x ** {e!r}", lambda m, x, e=e: x**e, (BASES,)) for e in SCALAR_EXPONENTS]
POW += [
    Extreme(
        "x ** y",
        lambda m, x, y: x**y,
        (
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.0, -2.0, -2.0, -2.0, -2.0, 2.0, 0.5, 2.0, INF, 1.0],
            [0.0, 1.0, 2.0, 0.5, -1.0, -0.5, 3.0, 2.0, 3.0, 0.5, -1.0, INF, INF, -INF, 0.0, NAN],
        ),
    ),
    Extreme("0 ** y", lambda m, y: 0.0**y, ([0.0, 1.0, 2.0, 0.5, -1.0, -0.5, INF, -INF],)),
    Extreme("2 ** y", lambda m, y: 2.0**y, ([-INF, -1000.0, 0.0, 1000.0, INF, NAN],)),
    Extreme("-2 ** y", lambda m, y: (-2.0) ** y, ([0.0, 1.0, 2.0, 3.0, 0.5, -1.0],)),
]


def _moments(name: str, values: list, shape: tuple, **options: Any) -> Extreme:
    def fn(m: Any, x: Any) -> Any:
        return getattr(x.reshape(shape), name)(**options)

    suffix = ",".join(f"{k}={v}" for k, v in options.items())
    return Extreme(f"{name}{shape}({suffix})", fn, (values,))


# Rows of zero spread, beside rows with some.
FLAT = [3.0] * 12
MIXED = [2.0, 2.0, 2.0, 2.0, 1.0, 2.0, 3.0, 4.0, -5.0, -5.0, -5.0, -5.0]
MOMENTS = [
    _moments(name, values, shape, **options)
    for name in ("std", "var")
    for values in (FLAT, MIXED)
    for shape, options in [
        ((12,), {}),
        ((12,), {"correction": 0}),
        ((3, 4), {"dim": 1}),
        ((3, 4), {"dim": 1, "keepdim": True}),
        ((3, 4), {"dim": 0}),
        ((3, 4), {"dim": (0, 1)}),
        ((3, 4), {"dim": 1, "correction": 0}),
        ((3, 4), {"dim": 1, "correction": 2}),
        ((3, 4), {"dim": 1, "correction": 4}),  # N − correction = 0
        ((3, 4), {"dim": 1, "correction": 5}),  # N − correction < 0
        ((3, 4), {"dim": 1, "unbiased": False, "keepdim": True}),
        ((12, 1), {"dim": 1}),  # one value per row: 0/0
        ((12, 1), {"dim": 1, "correction": 0}),
    ]
]

REDUCTIONS = [
    Extreme("sum with inf", lambda m, x: x.sum(), ([INF, -INF, 1.0],)),
    Extreme("mean with inf", lambda m, x: x.mean(), ([INF, 1.0],)),
    Extreme("mean of empty", lambda m, x: x.mean(), ([],)),
    Extreme("mean of empty, dim 0", lambda m, x: x.reshape(0, 3).mean(0), ([],)),
    Extreme("mean of empty rows", lambda m, x: x.reshape(3, 0).mean(1), ([],)),
    Extreme("sum of empty", lambda m, x: x.sum(), ([],)),
    Extreme("max with nan", lambda m, x: x.max(), ([1.0, NAN, 3.0, NAN],)),
    Extreme("max with inf", lambda m, x: x.max(), ([1.0, INF, INF, 3.0],)),
    Extreme("min with -inf", lambda m, x: x.min(), ([1.0, -INF, 3.0],)),
    Extreme("max(dim) with nan", lambda m, x: x.reshape(2, 2).max(1)[0], ([1.0, NAN, INF, 3.0],)),
    # A Euclidean norm composed of primitives, at 0: 0 · 1/(2√0) = nan in both libraries.
    Extreme("sqrt(sum(x²)) at 0", lambda m, x: (x * x).sum().sqrt(), ([0.0, 0.0],)),
]

# Rows whose spread overflows, rows of infinities, and masked (−inf) entries.
ROWS = [
    [3e38, -3e38, 0.0],
    [-3e38, 3e38, 1.0],
    [3e38, 3e38, 3e38],
    [-3e38, -3e38, -3e38],
    [0.0, -INF, 1.0],
    [-INF, -INF, -INF],
    [INF, 0.0, 1.0],
    [NAN, 0.0, 1.0],
]
HALF_ROWS = [
    [4e4, -4e4, 0.0],
    [-4e4, 4e4, 1.0],
    [6e4, 6e4, 6e4],
    [-6e4, -6e4, -6e4],
    [0.0, -INF, 1.0],
]


def _rows(rows: list) -> list:
    return [v for row in rows for v in row]


def _softmax_family(rows: list, dtypes: tuple) -> list[Extreme]:
    shape = (len(rows), 3)
    flat = _rows(rows)
    return [
        Extreme(f"{name}(dim={d})", fn, (flat,), dtypes)
        for d in (0, 1)
        for name, fn in [
            ("softmax", lambda m, x, d=d: F(m).softmax(x.reshape(shape), dim=d)),
            ("log_softmax", lambda m, x, d=d: F(m).log_softmax(x.reshape(shape), dim=d)),
            ("logsumexp", lambda m, x, d=d: m.logsumexp(x.reshape(shape), dim=d)),
        ]
    ]


SOFTMAX = _softmax_family(ROWS, SINGLE_DOUBLE) + _softmax_family(HALF_ROWS, HALF)


def _cross_entropy(rows: list, dtypes: tuple) -> list[Extreme]:
    """Cross-entropy at every target of every row, each reduction, with label smoothing, class
    weights and an ignored sample."""
    count = len(rows)
    flat = _rows(rows)
    cases = []
    for target in range(3):
        targets = np.full(count, target, dtype=np.int64)
        targets[-1] = -100  # the last sample is ignored
        for options in (
            {"reduction": "none"},
            {"reduction": "sum"},
            {"reduction": "mean"},
            {"reduction": "none", "label_smoothing": 0.1},
            {"reduction": "mean", "weight": (0.5, 1.0, 2.0)},
        ):

            def fn(m: Any, x: Any, y: Any, options: dict = options) -> Any:
                kwargs = dict(options)
                if "weight" in kwargs:
                    kwargs["weight"] = m.tensor(kwargs["weight"], dtype=x.dtype)
                return F(m).cross_entropy(x.reshape(count, 3), y, **kwargs)

            def exact_mean(m: Any, x: Any, y: Any, options: dict = options) -> Any:
                """PyTorch's per-sample losses, weighted and averaged in float64: its own mean
                weighs and sums them in the input's dtype first, which overflows (2 · 3e38,
                3e38 + 3e38) where the mean does not; chainrule divides first."""
                losses = fn(m, x, y, {"reduction": "none"}).double()
                weight = options.get("weight", (1.0, 1.0, 1.0))
                sample_weight = torch.tensor([weight[i] if i >= 0 else 0.0 for i in y.tolist()])
                mean = (losses * sample_weight).sum() / sample_weight.sum()
                return mean.to(x.dtype)

            suffix = ",".join(f"{k}={v}" for k, v in options.items())
            name = f"cross_entropy[{target}]({suffix})"
            th_fn = exact_mean if options["reduction"] == "mean" else None
            cases.append(Extreme(name, fn, (flat, targets), dtypes, th_fn))

        def nll(m: Any, x: Any, y: Any) -> Any:
            return F(m).nll_loss(F(m).log_softmax(x.reshape(count, 3), dim=1), y, reduction="none")

        cases.append(Extreme(f"nll_loss(log_softmax)[{target}]", nll, (flat, targets), dtypes))
    return cases


CROSS_ENTROPY = (
    _cross_entropy([*ROWS, [0.0, 1.0, 2.0]], SINGLE_DOUBLE)
    + _cross_entropy(HALF_ROWS + [[0.0, 1.0, 2.0]], HALF)
    + [
        Extreme(
            "cross_entropy(probabilities)",
            lambda m, x, p: F(m).cross_entropy(x.reshape(3, 3), p.reshape(3, 3)),
            ([3e38, -3e38, 0.0, 0.0, -INF, 1.0, 1.0, 2.0, 3.0], np.array([1.0, 0.0, 0.0] * 3)),
        ),
        Extreme(
            "nll_loss(-inf beside the target)",
            lambda m, x, y: F(m).nll_loss(x.reshape(2, 3), y, reduction="none"),
            ([0.0, -INF, -INF, -INF, -1.0, -INF], np.array([0, 1])),
        ),
    ]
)

PROBABILITIES = [0.0, 1.0, 0.0, 1.0, 0.5, 1e-30, 1 - 1e-7, 1e-45]
TARGETS = [0.0, 0.0, 1.0, 1.0, 0.5, 0.0, 1.0, 1.0]
# −inf is left to test_bce_with_logits_at_minus_infinity.
LOGITS = [-1e4, -200.0, -20.0, 0.0, 20.0, 200.0, 1e4, INF, NAN]


def _bce_with_logits(y: float, pos_weight: float | None) -> Extreme:
    def fn(m: Any, x: Any, t: Any) -> Any:
        weight = None if pos_weight is None else m.tensor(pos_weight, dtype=x.dtype)
        return F(m).binary_cross_entropy_with_logits(x, t, reduction="none", pos_weight=weight)

    name = f"binary_cross_entropy_with_logits(y={y}, pos_weight={pos_weight})"
    return Extreme(name, fn, (LOGITS, [y] * len(LOGITS)))


def _bce(m: Any, x: Any, y: Any) -> Any:
    return F(m).binary_cross_entropy(x, y, reduction="none")


def _bce_mean(m: Any, x: Any, y: Any) -> Any:
    return F(m).binary_cross_entropy(x, y)


def _mse(m: Any, x: Any, y: Any) -> Any:
    return F(m).mse_loss(x, y)


def _l1(m: Any, x: Any, y: Any) -> Any:
    return F(m).l1_loss(x, y, reduction="none")


def _huber(m: Any, x: Any, y: Any) -> Any:
    return F(m).huber_loss(x, y, reduction="none")


LOSSES = [
    Extreme("binary_cross_entropy", _bce, (PROBABILITIES, TARGETS)),
    Extreme("binary_cross_entropy(mean)", _bce_mean, (PROBABILITIES, TARGETS)),
    *[_bce_with_logits(y, pw) for y in (0.0, 1.0, 0.25) for pw in (None, 3.0)],
    Extreme("mse_loss", _mse, ([INF, 1.0, 3e38], [1.0, INF, -3e38])),
    Extreme("l1_loss", _l1, (LEFT, RIGHT)),
    Extreme("huber_loss", _huber, (LEFT, RIGHT)),
]

NORMS = [
    Extreme(
        "layer_norm(constant rows)",
        lambda m, x, w: F(m).layer_norm(x.reshape(3, 4), (4,), weight=w),
        ([2.0] * 4 + [1.0, 2.0, 3.0, 4.0] + [0.0] * 4, [0.5, 1.0, 1.5, 2.0]),
    ),
    Extreme(
        "layer_norm(eps=0)",
        lambda m, x: F(m).layer_norm(x.reshape(2, 3), (3,), eps=0.0),
        ([2.0] * 3 + [1.0, 2.0, 3.0],),
    ),
    Extreme(
        "batch_norm(constant channel)",
        lambda m, x: F(m).batch_norm(x.reshape(4, 2), None, None, training=True),
        ([1.0, 5.0, 1.0, 6.0, 1.0, 7.0, 1.0, 8.0],),
    ),
]


def with_half(cases: list[Extreme]) -> list[Extreme]:
    """The cases in float16 as well (their values overflow to ±inf there, as in PyTorch)."""
    return [replace(c, dtypes=(*c.dtypes, "float16")) for c in cases]


# Left out in float16: x ** ±½, which PyTorch computes as √x and 1/√x in float32 and float64
# but with the C pow in float16 ((−∞)^½ = ∞ there), and the norms, which PyTorch computes in
# float32 for float16 (chainrule in float16: 3 digits, short of the tolerance for a gradient
# scaled by 1/√ε).
SQUARE_ROOTS = [c for c in POW if c.id in ("x ** 0.5", "x ** -0.5")]
CASES = [
    *UNARY,
    *with_half(CLAMP),
    *with_half(BINARY),
    *with_half([c for c in POW if c not in SQUARE_ROOTS]),
    *SQUARE_ROOTS,
    *with_half(MOMENTS),
    *with_half(REDUCTIONS),
    *SOFTMAX,
    *CROSS_ENTROPY,
    *with_half(LOSSES),
    *NORMS,
]
PARAMS = [pytest.param(c, d, id=f"{c.id}-{d}") for c in CASES for d in c.dtypes]


def _leaves(m: Any, case: Extreme, dtype: str) -> list:
    leaves = []
    for values in case.inputs:
        if isinstance(values, np.ndarray):  # a constant: integer targets keep their dtype
            constant = values.astype(dtype) if values.dtype.kind == "f" else values
            leaves.append(m.tensor(constant))
        else:
            leaves.append(m.tensor(np.asarray(values, dtype=dtype), requires_grad=True))
    return leaves


def _run(m: Any, case: Extreme, dtype: str) -> tuple[np.ndarray, list]:
    """The output and the gradient of every leaf (None where it gets none), as arrays."""
    leaves = _leaves(m, case, dtype)
    fn = case.th_fn if m is torch and case.th_fn else case.fn
    out = fn(m, *leaves)
    shape = tuple(out.shape)
    dtype_out = str(out.dtype).removeprefix("torch.")
    upstream = np.linspace(0.5, 1.5, int(np.prod(shape))).reshape(shape).astype(dtype_out)
    out.backward(m.tensor(upstream))
    grads = [None if x.grad is None else np.asarray(x.grad.detach().numpy()) for x in leaves]
    return np.asarray(out.detach().numpy()), grads


def assert_same(actual: np.ndarray, expected: np.ndarray, dtype: str, what: str) -> None:
    """Same shape; nan and ±inf at the same places; finite values within tolerance."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, torch {expected.shape}"
    rtol, atol = TOLERANCE[dtype]
    np.testing.assert_allclose(
        actual.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol, err_msg=what
    )


@pytest.mark.parametrize(("case", "dtype"), PARAMS)
def test_extremes_match_torch(case: Extreme, dtype: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are the subject of the tests below
        out, grads = _run(cr, case, dtype)
        # torch warns of var and std with N − correction ≤ 0, whose results are tested here
        expected_out, expected_grads = _run(torch, case, dtype)
    assert_same(out, expected_out, dtype, f"{case.id} forward")
    for i, (grad, expected) in enumerate(zip(grads, expected_grads)):
        if expected is None:
            assert grad is None, f"{case.id}: input {i} has a gradient, torch's has none"
        else:
            assert grad is not None, f"{case.id}: input {i} got no gradient"
            assert_same(grad, expected, dtype, f"{case.id} gradient of input {i}")


# ---- the cases of the issue, one by one ---------------------------------------------------------


@pytest.mark.parametrize("name", ["std", "var"])
def test_zero_spread_has_a_zero_gradient(name: str) -> None:
    x = cr.tensor([0.0, 0.0], requires_grad=True)
    xt = torch.tensor([0.0, 0.0], requires_grad=True)
    getattr(x, name)().backward()
    getattr(xt, name)().backward()
    assert x.grad.tolist() == xt.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize(("dtype", "gap"), [("float32", 3e38), ("float16", 4e4)])
def test_cross_entropy_beyond_the_dtype_range_is_finite(dtype: str, gap: float) -> None:
    logits = np.array([[gap, -gap], [-gap, gap]], dtype=dtype)
    target = np.array([0, 1])
    x = cr.tensor(logits, requires_grad=True)
    xt = torch.tensor(logits, requires_grad=True)
    loss = F(cr).cross_entropy(x, cr.tensor(target))
    expected = F(torch).cross_entropy(xt, torch.tensor(target))
    loss.backward()
    expected.backward()
    assert loss.item() == expected.item() == 0.0
    assert x.grad.tolist() == xt.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_bce_with_logits_at_minus_infinity() -> None:
    """The one place left apart from PyTorch: its loss, (1 − y)x − log σ(x), is ∞ − ∞ = nan at
    x = −∞; chainrule's, −(y log σ(x) + (1 − y) log σ(−x)), gives the limit, ∞ (for y > 0),
    and keeps its relative accuracy in the tails, which PyTorch's form loses to cancellation.
    The gradients agree."""
    x = cr.tensor([-INF, -INF, -INF], requires_grad=True)
    xt = torch.tensor([-INF, -INF, -INF], requires_grad=True)
    y = [0.0, 0.25, 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 0 · (−∞), outside a module
        loss = F(cr).binary_cross_entropy_with_logits(x, cr.tensor(y), reduction="none")
    expected = F(torch).binary_cross_entropy_with_logits(xt, torch.tensor(y), reduction="none")
    loss.sum().backward()
    expected.sum().backward()
    assert np.isnan(loss[0].item()) and np.isnan(expected[0].item())  # 0 · log σ(−∞)
    assert loss[1:].tolist() == [INF, INF] and np.isnan(expected[1:].tolist()).all()
    assert x.grad.tolist() == xt.grad.tolist() == [0.0, -0.25, -1.0]


def test_sign_of_nan_is_zero_as_in_torch() -> None:
    values = [NAN, -INF, -2.0, -0.0, 0.0, 3.0, INF]
    assert cr.tensor(values).sign().tolist() == torch.tensor(values).sign().tolist()


# ---- NumPy's warnings and error state -----------------------------------------------------------


class Overflowing(cr.nn.Module):
    """A module whose forward meets every floating-point warning NumPy has: overflow (exp),
    divide by zero (log 0, 1/0), invalid (0/0, ∞ − ∞), and a fully masked softmax row; through
    a nested module as well."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.inner = cr.nn.Sequential(cr.nn.Linear(2, 2), cr.nn.Softmax(dim=1))
        self.fail = fail

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        overflow = (x * 1000).exp()
        divide = x.log() + 1 / x
        invalid = (x / x) + (overflow - overflow)
        masked = self.inner(cr.full((2, 2), -INF))
        if self.fail:
            raise RuntimeError("forward failed")
        return overflow.sum() + divide.sum() + invalid.sum() + masked.sum()


def _state() -> tuple:
    return np.geterr(), fp_errors.state()


def test_no_runtime_warning_escapes_a_module_call() -> None:
    x = cr.tensor([[0.0, 1.0], [1.0, 0.0]])
    model = Overflowing()
    before = _state()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning):  # the same computation outside a module call
            model.forward(x)
        out = model(x)
    assert np.isnan(out.item())
    assert _state() == before
    with warnings.catch_warnings():  # and the user's own NumPy code warns again afterwards
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="divide by zero"):
            np.float64(1.0) / np.zeros(1)


def test_error_state_is_given_back_when_the_module_raises() -> None:
    before = _state()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeError, match="forward failed"):
            Overflowing(fail=True)(cr.tensor([[0.0, 1.0]]))
    assert _state() == before


def test_the_users_own_error_state_is_kept() -> None:
    with np.errstate(divide="raise", over="warn"):
        inside = np.geterr()
        Overflowing()(cr.tensor([[0.0, 1.0]]))  # silenced inside, not raising
        assert np.geterr() == inside
        with pytest.raises(FloatingPointError):
            np.ones(1) / np.zeros(1)


def test_no_runtime_warning_escapes_backward_or_the_optimizer_step() -> None:
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    optimizer = cr.optim.SGD([x], lr=0.1)
    before = _state()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning):  # the forward, outside a module, still warns
            x.sqrt() + x.log()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = (x.sqrt() + x.log()).sum()
        loss.backward()  # 1/(2√0) and 1/0
        optimizer.step()  # a step by −inf
    assert x.grad.tolist() == [INF, 1 / 4 + 1 / 4]
    assert x.tolist()[0] == -INF
    assert _state() == before


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, INF])
@pytest.mark.parametrize("grad", [[0.0, 0.0], [3e38, 3e38], [INF, 1.0], [-INF, 0.0], [NAN, 1.0]])
def test_clip_grad_norm_at_the_extremes(grad: list, norm_type: float) -> None:
    """A zero gradient stays zero; one whose norm overflows is scaled to 0 (nan where it holds
    ±inf or nan), as in PyTorch, and without a warning."""
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    pt = torch.tensor([1.0, 2.0], requires_grad=True)
    p.grad, pt.grad = cr.tensor(grad), torch.tensor(grad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        total = cr.nn.utils.clip_grad_norm_([p], 1.0, norm_type)
    expected = torch.nn.utils.clip_grad_norm_([pt], 1.0, norm_type)
    assert_same(total.numpy(), expected.numpy(), "float32", "total norm")
    assert_same(p.grad.numpy(), pt.grad.numpy(), "float32", "clipped gradient")


def test_operations_meeting_masked_rows_do_not_warn() -> None:
    """Tensor-level calls, outside any module: these operations silence their own forward."""
    x = cr.tensor([[-INF, -INF, -INF], [0.0, -INF, 1.0], [3e38, -3e38, 0.0]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F(cr).softmax(x, dim=1)
        F(cr).log_softmax(x, dim=1)
        x.logsumexp(dim=1)
        F(cr).cross_entropy(x[1:], cr.tensor([0, 0]))
        F(cr).nll_loss(F(cr).log_softmax(x[1:], dim=1), cr.tensor([2, 1]))


def test_enter_and_leave_nest() -> None:
    before = np.geterr()
    outer = fp_errors.enter()
    try:
        assert set(np.geterr().values()) == {"ignore"}
        assert fp_errors.enter() is None  # silenced already: nothing to set, nothing to undo
        with fp_errors.silenced():
            pass
        assert set(np.geterr().values()) == {"ignore"}
    finally:
        fp_errors.leave(outer)
    assert np.geterr() == before
    with fp_errors.silenced():
        assert set(np.geterr().values()) == {"ignore"}
    assert np.geterr() == before


def test_the_errstate_fallback_silences_and_restores() -> None:
    """NumPy 1.x has no context variable; there enter/leave go through np.errstate."""
    before = np.geterr()
    token = fp_errors._errstate_silence()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.ones(1) / np.zeros(1)
    finally:
        fp_errors._errstate_restore(token)
    assert np.geterr() == before
