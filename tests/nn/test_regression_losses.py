"""Regression losses (mse_loss, l1_loss, huber_loss, smooth_l1_loss, poisson_nll_loss,
gaussian_nll_loss and their modules) against PyTorch (loss, input and target gradients) and
finite differences."""

from __future__ import annotations

import re
import warnings
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

REDUCTIONS = ["mean", "sum", "none"]
FLOATS = ["float32", "float64"]
TOLERANCE = {"float32": (2e-5, 1e-6), "float64": (1e-10, 1e-12)}
TF = torch.nn.functional


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().array)


def assert_close(actual: Any, expected: Any, dtype: str, what: str) -> None:
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, PyTorch gives {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, PyTorch gives {e.dtype}"
    rtol, atol = TOLERANCE[dtype]
    finite = np.abs(e[np.isfinite(e)])  # an inf would make the tolerance inf
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol * scale, err_msg=what)


def compare(
    ours: Any, theirs: Any, arrays: list, constants: list, reduction: str, what: str
) -> None:
    """Both libraries on the same input and target (both requiring grad) plus constant
    arrays (weights, or None); compare the loss and both gradients."""
    dtype = arrays[0].dtype.name
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    extra_ours = [None if c is None else cr.tensor(c) for c in constants]
    extra_theirs = [None if c is None else torch.tensor(c) for c in constants]
    out, expected = ours(*xs, *extra_ours), theirs(*ts, *extra_theirs)
    assert_close(out, expected, dtype, f"{what}: loss")
    upstream = rng_for(what).standard_normal(tuple(expected.shape)).astype(dtype)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    for name, a, t in zip(("input", "target"), xs, ts):
        assert_close(a.grad, t.grad, dtype, f"{what}: {name} gradient")


# ---- mse_loss and l1_loss ------------------------------------------------------------------------

REGRESSION = {"mse_loss": (F.mse_loss, torch.nn.functional.mse_loss)}
REGRESSION["l1_loss"] = (F.l1_loss, torch.nn.functional.l1_loss)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(REGRESSION))
def test_regression_losses_match_torch(name: str, reduction: str, dtype: str) -> None:
    rng = rng_for(name, reduction, dtype)
    arrays = [rng.standard_normal((4, 5)).astype(dtype) for _ in range(2)]
    cr_fn, th_fn = REGRESSION[name]
    compare(
        lambda x, y: cr_fn(x, y, reduction=reduction),
        lambda x, y: th_fn(x, y, reduction=reduction),
        arrays,  # both the prediction and the target get gradients
        [],
        reduction,
        f"{name}/{reduction}/{dtype}",
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(REGRESSION))
def test_regression_losses_gradcheck(name: str, reduction: str) -> None:
    rng = rng_for("gradcheck", name, reduction)
    x, y = (cr.tensor(rng.standard_normal((3, 4)), requires_grad=True) for _ in range(2))
    cr_fn = REGRESSION[name][0]
    assert cr.gradcheck(lambda x, y: cr_fn(x, y, reduction=reduction), [x, y]) is True


def test_regression_losses_accept_a_constant_target_and_warn_on_broadcasting() -> None:
    x = cr.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
    assert F.mse_loss(x, np.zeros((2, 2), dtype=np.float32)).item() == pytest.approx(39 / 4)
    assert F.l1_loss(x, cr.zeros(2, 2)).item() == pytest.approx(11 / 4)
    with pytest.warns(UserWarning, match="broadcast"):
        F.mse_loss(x, cr.zeros(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.l1_loss(x, cr.zeros(2, 2))  # same shapes: no warning


# ---- Huber -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("delta", [0.5, 1.0, 2.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huber_matches_torch(reduction: str, delta: float, dtype: str) -> None:
    rng = rng_for("huber", reduction, delta, dtype)
    x, y = (
        (rng.standard_normal((6, 5)) * 2).astype(dtype),
        rng.standard_normal((6, 5)).astype(dtype),
    )
    weight = rng.uniform(0, 2, (6, 5)).astype(dtype)
    for w in (None, weight):
        compare(
            lambda a, b, w: F.huber_loss(a, b, reduction, delta, weight=w),
            lambda a, b, w: TF.huber_loss(a, b, reduction, delta, weight=w),
            [x, y],
            [w],
            reduction,
            f"huber {reduction} δ={delta} weighted={w is not None}",
        )


def test_huber_is_squared_then_linear_and_gradchecks() -> None:
    diff = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 0.99, 3.0])
    loss = to_numpy(F.huber_loss(cr.tensor(diff), cr.zeros(7, dtype=cr.float64), "none", 1.0))
    np.testing.assert_allclose(loss, np.where(np.abs(diff) < 1, diff**2 / 2, np.abs(diff) - 0.5))
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((3, 4)) * 2, requires_grad=True)
    y = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert cr.gradcheck(lambda a, b: F.huber_loss(a, b, delta=0.7), [x, y])
    # A broadcast target warns (as mse_loss does) and its gradient is summed back.
    y_row = cr.tensor(rng.standard_normal(4), requires_grad=True)
    with pytest.warns(UserWarning, match="broadcast"):
        assert cr.gradcheck(lambda a, b: F.huber_loss(a, b, "sum"), [x, y_row])
    with pytest.raises(ValueError, match="delta must be positive"):
        F.huber_loss(x, y, delta=0.0)
    with pytest.raises(ValueError, match="weight of shape"):
        F.huber_loss(x, y, weight=cr.ones(4))


# ---- smooth L1 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_smooth_l1_matches_torch(reduction: str, beta: float, dtype: str) -> None:
    rng = rng_for("smooth_l1", reduction, beta, dtype)
    x = (rng.standard_normal((6, 5)) * 2).astype(dtype)
    y = rng.standard_normal((6, 5)).astype(dtype)
    compare(
        lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
        lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
        [x, y],
        [],
        reduction,
        f"smooth_l1 {reduction} β={beta}",
    )


def test_smooth_l1_is_huber_over_beta_and_gradchecks() -> None:
    diff = np.array([-3.0, -0.5, 0.0, 0.25, 0.5, 3.0])
    zeros = cr.zeros(6, dtype=cr.float64)
    loss = to_numpy(F.smooth_l1_loss(cr.tensor(diff), zeros, reduction="none", beta=0.5))
    np.testing.assert_allclose(
        loss, np.where(np.abs(diff) < 0.5, diff**2 / 2 / 0.5, np.abs(diff) - 0.25)
    )
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.standard_normal((3, 4)) * 2, requires_grad=True)
    y = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert cr.gradcheck(lambda a, b: F.smooth_l1_loss(a, b, beta=0.7), [x, y])
    with pytest.raises(RuntimeError, match="does not support negative values for beta"):
        F.smooth_l1_loss(x, y, beta=-1.0)


# ---- Poisson and Gaussian negative log-likelihoods -----------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_nll_matches_torch(reduction: str, log_input: bool, full: bool, dtype: str) -> None:
    rng = rng_for("poisson", reduction, log_input, full, dtype)
    x = rng.standard_normal((4, 5)) if log_input else rng.uniform(0.2, 3.0, (4, 5))
    counts = rng.integers(0, 6, (4, 5)) + rng.uniform(0.05, 0.3, (4, 5))  # around 0 to 6
    options = {"log_input": log_input, "full": full, "reduction": reduction}
    compare(
        lambda a, b: F.poisson_nll_loss(a, b, **options),
        lambda a, b: TF.poisson_nll_loss(a, b, **options),
        [x.astype(dtype), counts.astype(dtype)],
        [],
        reduction,
        f"poisson {options}",
    )


def test_poisson_nll_gradchecks() -> None:
    rng = np.random.default_rng(2)
    x = cr.tensor(rng.uniform(0.3, 2.0, (3, 4)), requires_grad=True)
    y = cr.tensor(rng.uniform(0.1, 4.0, (3, 4)), requires_grad=True)
    for log_input in (True, False):
        assert cr.gradcheck(
            lambda a, b, li=log_input: F.poisson_nll_loss(a, b, log_input=li, full=True), [x, y]
        )


VARIANCE_SHAPES = {
    "heteroscedastic": (4, 3),
    "shared along the last axis": (4, 1),
    "last axis missing": (4,),
    "shared along the first axis": (1, 3),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("shape", list(VARIANCE_SHAPES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_matches_torch(reduction: str, shape: str, full: bool, dtype: str) -> None:
    rng = rng_for("gaussian", reduction, shape, full, dtype)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    var = rng.uniform(0.1, 2.0, VARIANCE_SHAPES[shape])
    if dtype == "float64":
        # Below eps: clamped, with the gradient passing as if not. (Its gradient, ~1/eps², sums
        # terms of opposite signs 2000 times larger: float32 cannot resolve it.)
        var.reshape(-1)[0] = 1e-9
    arrays = [a.astype(dtype) for a in (x, y, var)]
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = F.gaussian_nll_loss(*xs, full=full, reduction=reduction)
    expected = TF.gaussian_nll_loss(*ts, full=full, reduction=reduction)
    assert_close(out, expected, dtype, "loss")
    upstream = rng.standard_normal(tuple(expected.shape)).astype(dtype)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    for name, a, t in zip(("input", "target", "var"), xs, ts):
        assert_close(a.grad, t.grad, dtype, f"{name} gradient")


def test_gaussian_nll_with_a_float_variance_and_its_errors() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    out = F.gaussian_nll_loss(cr.tensor(x), cr.tensor(y), 0.5)
    expected = TF.gaussian_nll_loss(torch.tensor(x), torch.tensor(y), 0.5)
    assert_close(out, expected, "float64", "float var")
    xc = cr.tensor(x, requires_grad=True)
    var = cr.tensor(rng.uniform(0.5, 1.5, (4, 1)), requires_grad=True)
    assert cr.gradcheck(lambda a, v: F.gaussian_nll_loss(a, cr.tensor(y), v), [xc, var])
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(xc, cr.tensor(y), -1.0)
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(xc, cr.tensor(y), -cr.ones(4, 3))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(xc, cr.tensor(y), cr.ones(4, 2))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.gaussian_nll_loss(xc, cr.tensor(y), 1.0, reduction="average")


# ---- modules and arguments -----------------------------------------------------------------------


def test_modules_match_torch() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((4, 3)), rng.uniform(0.1, 3, (4, 3))
    pairs = [
        ("MSELoss", (), {}),
        ("MSELoss", (None, None, "sum"), {}),  # PyTorch's positions: size_average, reduce
        ("L1Loss", (), {"reduction": "none"}),
        ("HuberLoss", (), {"delta": 0.3}),
        ("HuberLoss", ("sum",), {}),
        ("SmoothL1Loss", (), {"beta": 0.4}),
        ("SmoothL1Loss", (), {"reduction": "none", "beta": 2.0}),
        ("PoissonNLLLoss", (), {}),
        ("PoissonNLLLoss", (False, True), {"eps": 1e-6, "reduction": "sum"}),
    ]
    for name, args, kwargs in pairs:
        ours, theirs = (
            getattr(cr.nn, name)(*args, **kwargs),
            getattr(torch.nn, name)(*args, **kwargs),
        )
        assert repr(ours) == repr(theirs)
        assert ours.reduction == theirs.reduction
        assert list(ours.state_dict()) == list(theirs.state_dict()) == []
        out = ours(cr.tensor(x), cr.tensor(y))
        assert_close(out, theirs(torch.tensor(x), torch.tensor(y)), "float64", f"{name}{args}")
    ours, theirs = cr.nn.GaussianNLLLoss(full=True), torch.nn.GaussianNLLLoss(full=True)
    var = rng.uniform(0.5, 1.5, (4, 1))
    out = ours(cr.tensor(x), cr.tensor(y), cr.tensor(var))
    expected = theirs(torch.tensor(x), torch.tensor(y), torch.tensor(var))
    assert_close(out, expected, "float64", "GaussianNLLLoss")
    with pytest.raises(TypeError):
        cr.nn.GaussianNLLLoss(True)  # keyword-only, as in PyTorch


def test_legacy_size_average_and_reduce_translate_like_torch() -> None:
    x, y = np.array([0.2, -0.9, 3.0]), np.array([0.0, 1.0, 0.5])
    for size_average, reduce in ((False, None), (None, False), (True, True)):
        for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "poisson_nll_loss"):
            options = {"size_average": size_average, "reduce": reduce}
            with pytest.warns(DeprecationWarning):
                out = getattr(F, name)(cr.tensor(x), cr.tensor(y), **options)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = getattr(TF, name)(torch.tensor(x), torch.tensor(y), **options)
            assert_close(out, expected, "float64", f"{name} {options}")


@pytest.mark.parametrize(
    "name", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "poisson_nll_loss"]
)
def test_arguments_that_are_not_tensors_are_named(name: str) -> None:
    fn, x = getattr(F, name), cr.randn(3)
    with pytest.raises(TypeError, match=re.escape(f"{name}(): argument 'target' (position 2)")):
        fn(x, "zeros")
    with pytest.raises(
        TypeError, match=re.escape("argument 'target' (position 2) must be Tensor, not object")
    ):
        fn(x, object())
    with pytest.raises(
        TypeError,
        match=re.escape(f"{name}(): argument 'input' (position 1) must be Tensor, not str"),
    ):
        fn("x", x)
    fn(x, np.zeros(3, dtype=np.float32))  # a constant numeric target is still accepted
