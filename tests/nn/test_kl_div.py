"""The Kullback-Leibler divergence (kl_div, KLDivLoss) against PyTorch (loss, input and target
gradients, every reduction, the warning about "mean"), finite differences and edge cases."""

from __future__ import annotations

import warnings
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

FLOATS = ["float32", "float64"]
TOLERANCE = {"float32": (2e-5, 1e-6), "float64": (1e-10, 1e-12)}
C = 4


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def assert_close(actual: Any, expected: Any, dtype: str, what: str) -> None:
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, PyTorch gives {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, PyTorch gives {e.dtype}"
    rtol, atol = TOLERANCE[dtype]
    finite = np.abs(e[np.isfinite(e)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol * scale, err_msg=what)


def compare(
    cr_fn: Any, th_fn: Any, arrays: list[np.ndarray], grad_of: list[int], reduction: str, what: str
) -> None:
    """Run both libraries on the same arrays; compare the loss and the gradients of the inputs
    at positions ``grad_of`` (random upstream gradient for reduction='none')."""
    dtype = next(a.dtype.name for a in arrays if a.dtype.kind == "f")
    xs = [cr.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    ts = [torch.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    out, expected = cr_fn(*xs), th_fn(*ts)
    assert_close(out, expected, dtype, f"{what}: forward")
    assert out.requires_grad
    if reduction == "none":
        upstream = rng_for(what, "upstream").standard_normal(out.shape).astype(dtype)
        out.backward(cr.tensor(upstream))
        expected.backward(torch.tensor(upstream))
    else:
        out.backward()
        expected.backward()
    for i in grad_of:
        assert xs[i].grad is not None, f"{what}: no gradient for input {i}"
        assert_close(xs[i].grad, ts[i].grad, dtype, f"{what}: gradient of input {i}")


# ---- Kullback-Leibler divergence -----------------------------------------------------------------

KL_SHAPES = {
    "batch": ((5, C), (5, C)),
    "spatial": ((2, C, 3), (2, C, 3)),
    "broadcast": ((5, C), (C,)),
}


def kl_arrays(shape: str, dtype: str, log_target: bool) -> list[np.ndarray]:
    rng = rng_for("kl", shape, dtype, log_target)
    input_shape, target_shape = KL_SHAPES[shape]
    log_p = np.log(rng.dirichlet(np.ones(C), input_shape[:1] + input_shape[2:]))
    log_p = np.moveaxis(log_p, -1, 1) if len(input_shape) > 2 else log_p
    target = rng.uniform(0.05, 1.0, target_shape)
    target /= target.sum(axis=0 if len(target_shape) == 1 else 1, keepdims=True)
    return [log_p.astype(dtype), (np.log(target) if log_target else target).astype(dtype)]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", list(KL_SHAPES))
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
def test_kl_div_matches_torch(reduction: str, shape: str, log_target: bool, dtype: str) -> None:
    arrays = kl_arrays(shape, dtype, log_target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 'mean' warns in both libraries
        compare(
            lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
            lambda x, t: torch.nn.functional.kl_div(
                x, t, reduction=reduction, log_target=log_target
            ),
            arrays,
            [0, 1],  # the target's gradient too
            reduction,
            f"kl_div/{reduction}/{shape}/{log_target}/{dtype}",
        )


def test_kl_div_gradchecks_and_warns_like_torch_about_mean() -> None:
    for log_target in (False, True):
        x, t = (cr.tensor(a, requires_grad=True) for a in kl_arrays("batch", "float64", log_target))
        assert cr.gradcheck(
            lambda a, b, lt=log_target: F.kl_div(a, b, reduction="batchmean", log_target=lt), [x, t]
        )
    x, t = (cr.tensor(a) for a in kl_arrays("batch", "float64", False))
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(x, t)
    with pytest.warns(UserWarning, match="batchmean"):
        cr.nn.KLDivLoss()(x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for the other reductions
        for reduction in ("batchmean", "sum", "none"):
            F.kl_div(x, t, reduction=reduction)
    with pytest.raises(ValueError, match="reduction must be one of mean, batchmean, sum, none"):
        F.kl_div(x, t, reduction="average")


def test_kl_div_edge_cases_match_torch() -> None:
    """A zero target (its term is 0, its gradient nan), a negative one (nan), a 0-d input
    (batchmean is the sum) and an empty batch (nan)."""
    cases = [
        (np.log([0.2, 0.3, 0.5]), np.array([0.0, 0.4, 0.6]), "none"),
        (np.log([0.2, 0.3, 0.5]), np.array([-0.1, 0.5, 0.6]), "none"),
        (np.array(-0.7), np.array(0.3), "batchmean"),
        (np.zeros((0, C)), np.zeros((0, C)), "batchmean"),
    ]
    for x, t, reduction in cases:
        xc, tc = cr.tensor(x, requires_grad=True), cr.tensor(t, requires_grad=True)
        xt, tt = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no log(0) or 0/0 warnings from NumPy
            out = F.kl_div(xc, tc, reduction=reduction)
            out.sum().backward()
        expected = torch.nn.functional.kl_div(xt, tt, reduction=reduction)
        expected.sum().backward()
        what = f"kl_div {x} {t}"
        np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=1e-12, err_msg=what)
        np.testing.assert_allclose(to_numpy(xc.grad), to_numpy(xt.grad), rtol=1e-12, err_msg=what)
        np.testing.assert_allclose(to_numpy(tc.grad), to_numpy(tt.grad), rtol=1e-12, err_msg=what)


def test_kl_div_module_matches_torch() -> None:
    x, t = kl_arrays("batch", "float64", True)
    for args, kwargs in (
        ((), {"reduction": "batchmean", "log_target": True}),
        ((None, None, "sum", True), {}),
    ):
        ours, theirs = cr.nn.KLDivLoss(*args, **kwargs), torch.nn.KLDivLoss(*args, **kwargs)
        assert repr(ours) == repr(theirs) and ours.log_target == theirs.log_target
        out = ours(cr.tensor(x), cr.tensor(t))
        assert_close(out, theirs(torch.tensor(x), torch.tensor(t)), "float64", repr(ours))
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be one of"):
        cr.nn.KLDivLoss(reduction="average")
