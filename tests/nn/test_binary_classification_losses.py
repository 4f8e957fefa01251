"""The binary classification losses: binary_cross_entropy, binary_cross_entropy_with_logits,
soft_margin_loss and their modules, against PyTorch (loss, input and target gradients) and
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
    return np.asarray(t.detach().data)


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


# ---- binary cross-entropy ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_torch(reduction: str, dtype: str) -> None:
    rng = rng_for("bce", reduction, dtype)
    x = rng.uniform(0.02, 0.98, (5, 4)).astype(dtype)
    y = rng.uniform(0, 1, (5, 4)).astype(dtype)
    y[0] = [0, 1, 0, 1]  # hard labels too
    for w in (
        None,
        rng.uniform(0.5, 2, (5, 4)).astype(dtype),
        rng.uniform(0.5, 2, 4).astype(dtype),
    ):
        shape = None if w is None else w.shape
        compare(
            lambda a, b, w: F.binary_cross_entropy(a, b, w, reduction=reduction),
            lambda a, b, w: TF.binary_cross_entropy(a, b, w, reduction=reduction),
            [x, y],
            [w],
            reduction,
            f"bce {reduction} weight {shape}",
        )


@pytest.mark.parametrize("dtype", FLOATS)
def test_bce_clamps_the_logs_at_minus_100_like_torch(dtype: str) -> None:
    x = np.array([0.0, 1.0, 0.0, 1.0, 1e-45, 1 - 1e-7, 0.3], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.6], dtype=dtype)
    xc, yc = cr.tensor(x, requires_grad=True), cr.tensor(y, requires_grad=True)
    xt, yt = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no log(0) warnings
        out = F.binary_cross_entropy(xc, yc, reduction="none")
        out.sum().backward()
    expected = TF.binary_cross_entropy(xt, yt, reduction="none")
    expected.sum().backward()
    assert_close(out, expected, dtype, "loss")
    assert_close(xc.grad, xt.grad, dtype, "input gradient")
    loss = to_numpy(out)
    assert loss[0] == 100 and loss[1] == 100 and loss[2] == 0 and loss[3] == 0
    # The target gradient is −logit(x), unclamped as in torch: ±inf at 0 and 1, and beyond
    # 100 at x = 1e-45, where the clamped loss is flat.
    assert_close(yc.grad, yt.grad, dtype, "target gradient")
    assert list(np.sign(to_numpy(yc.grad)[:4])) == [1, -1, 1, -1]
    assert np.isinf(to_numpy(yc.grad)[:4]).all() and to_numpy(yc.grad)[4] > 100


def test_bce_rejects_values_outside_zero_one() -> None:
    good = cr.tensor([0.2, 0.7])
    for bad in ([0.2, 1.5], [-0.1, 0.5], [float("nan"), 0.5]):
        with pytest.raises(ValueError, match="every element of input must be a probability"):
            F.binary_cross_entropy(cr.tensor(bad), good)
        with pytest.raises(ValueError, match="every element of target must be a probability"):
            F.binary_cross_entropy(good, cr.tensor(bad))
    with pytest.raises(ValueError, match=r"found 1\.5 .*apply sigmoid first"):
        cr.nn.BCELoss()(cr.tensor([0.2, 1.5]), good)
    with pytest.raises(ValueError, match=re.escape("target shape (2, 1) must equal")):
        F.binary_cross_entropy(good, cr.tensor([[0.0], [1.0]]))
    with pytest.raises(ValueError, match="weight of shape"):
        F.binary_cross_entropy(good, good, weight=cr.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        F.binary_cross_entropy(good, good, reduction="average")


def test_bce_gradcheck() -> None:
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.uniform(0.1, 0.9, (3, 3)), requires_grad=True)
    y = cr.tensor(rng.uniform(0, 1, (3, 3)), requires_grad=True)
    w = cr.tensor(rng.uniform(0.5, 2, 3))
    assert cr.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, w), [x, y])


# ---- binary cross-entropy with logits -----------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch(reduction: str, dtype: str) -> None:
    rng = rng_for("logits", reduction, dtype)
    x = (rng.standard_normal((6, 3)) * 4).astype(dtype)
    x[0] = [-150.0, 150.0, 0.0]  # far tails: no overflow, finite loss and gradients
    y = rng.uniform(0, 1, (6, 3)).astype(dtype)
    weights = (None, rng.uniform(0.5, 2, (6, 3)).astype(dtype))
    pos_weights = (None, rng.uniform(0.5, 3, 3).astype(dtype))
    for w in weights:
        for pw in pos_weights:
            compare(
                lambda a, b, w, pw: F.binary_cross_entropy_with_logits(
                    a, b, w, reduction=reduction, pos_weight=pw
                ),
                lambda a, b, w, pw: TF.binary_cross_entropy_with_logits(
                    a, b, w, reduction=reduction, pos_weight=pw
                ),
                [x, y],
                [w, pw],
                reduction,
                f"logits {reduction} weight={w is not None} pos_weight={pw is not None}",
            )


def test_bce_with_logits_is_stable_where_the_naive_form_is_not() -> None:
    x = cr.tensor([-1000.0, 1000.0, -40.0, 40.0], dtype=cr.float64, requires_grad=True)
    y = cr.tensor([1.0, 0.0, 0.0, 1.0], dtype=cr.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(
        to_numpy(loss), [1000.0, 1000.0, 4.248354255291589e-18, 4.248354255291589e-18], rtol=1e-12
    )
    np.testing.assert_allclose(
        to_numpy(x.grad), [-1.0, 1.0, 4.248354255291589e-18, -4.248354255291589e-18], rtol=1e-12
    )


def test_bce_with_logits_gradcheck_and_errors() -> None:
    rng = np.random.default_rng(2)
    x = cr.tensor(rng.standard_normal((4, 3)) * 3, requires_grad=True)
    y = cr.tensor(rng.uniform(0, 1, (4, 3)), requires_grad=True)
    pw, w = cr.tensor([0.5, 2.0, 3.0]), cr.tensor(rng.uniform(0.5, 2, (4, 3)))
    assert cr.gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, pos_weight=pw), [x, y]
    )
    with pytest.raises(ValueError, match="target shape"):
        F.binary_cross_entropy_with_logits(x, cr.ones(4))
    with pytest.raises(ValueError, match="pos_weight of shape"):
        F.binary_cross_entropy_with_logits(x, y, pos_weight=cr.ones(4))


# ---- soft margin ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_matches_torch(reduction: str, dtype: str) -> None:
    rng = rng_for("soft_margin", reduction, dtype)
    x = (rng.standard_normal((5, 3)) * 3).astype(dtype)
    labels = rng.choice([-1.0, 1.0], (5, 3)).astype(dtype)
    upstream = rng.standard_normal(() if reduction != "none" else (5, 3)).astype(dtype)
    # Real-valued targets too; the target is a constant: PyTorch does not differentiate it.
    for y in (labels, rng.standard_normal((5, 3)).astype(dtype)):
        xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out = F.soft_margin_loss(xc, cr.tensor(y), reduction=reduction)
        expected = TF.soft_margin_loss(xt, torch.tensor(y), reduction=reduction)
        assert_close(out, expected, dtype, f"soft_margin {reduction}: loss")
        out.backward(cr.tensor(upstream))
        expected.backward(torch.tensor(upstream))
        assert_close(xc.grad, xt.grad, dtype, f"soft_margin {reduction}: input gradient")


def test_soft_margin_is_stable_and_gradchecks() -> None:
    # log(1 + e^{−yx}) where e^{−yx} overflows: the loss is −yx, the gradient −y.
    x = cr.tensor([-1000.0, 1000.0, 30.0], requires_grad=True)
    y = cr.tensor([1.0, -1.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.soft_margin_loss(x, y, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(to_numpy(loss), [1000.0, 1000.0, np.log1p(np.exp(-30.0))])
    np.testing.assert_allclose(to_numpy(x.grad), [-1.0, 1.0, -1 / (1 + np.exp(30.0))])
    rng = np.random.default_rng(2)
    xs = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    ys = cr.tensor(rng.standard_normal(4))  # broadcast along the rows
    assert cr.gradcheck(lambda a: F.soft_margin_loss(a, ys), [xs])
    with pytest.raises(TypeError, match=re.escape("soft_margin_loss(): argument 'target'")):
        F.soft_margin_loss(xs, "ones")
    message = "not differentiable with respect to argument 'target'"
    with pytest.raises(RuntimeError, match=message):
        TF.soft_margin_loss(torch.ones(3), torch.ones(3, requires_grad=True))
    with pytest.raises(RuntimeError, match=message):
        F.soft_margin_loss(xs, ys.requires_grad_())


# ---- modules -----------------------------------------------------------------------------------


def test_modules_match_torch_and_keep_weights_as_buffers() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((4, 3)), rng.uniform(0, 1, (4, 3))
    w, pw = rng.uniform(0.5, 2, 3), rng.uniform(0.5, 2, 3)
    pairs = [
        (cr.nn.SoftMarginLoss(), torch.nn.SoftMarginLoss(), x),
        (cr.nn.SoftMarginLoss(None, None, "sum"), torch.nn.SoftMarginLoss(None, None, "sum"), x),
        (cr.nn.BCELoss(cr.tensor(w)), torch.nn.BCELoss(torch.tensor(w)), 1 / (1 + np.exp(-x))),
        (
            cr.nn.BCEWithLogitsLoss(cr.tensor(w), reduction="none", pos_weight=cr.tensor(pw)),
            torch.nn.BCEWithLogitsLoss(
                torch.tensor(w), reduction="none", pos_weight=torch.tensor(pw)
            ),
            x,
        ),
    ]
    for ours, theirs, inputs in pairs:
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert_close(
            ours(cr.tensor(inputs), cr.tensor(y)),
            theirs(torch.tensor(inputs), torch.tensor(y)),
            "float64",
            repr(ours),
        )


def test_legacy_size_average_and_reduce_translate_like_torch() -> None:
    x, y = cr.tensor([0.2, 0.9]), cr.tensor([0.0, 1.0])
    xt, yt = torch.tensor([0.2, 0.9]), torch.tensor([0.0, 1.0])
    for size_average, reduce in ((False, None), (None, False), (True, True)):
        with pytest.warns(DeprecationWarning):
            out = F.binary_cross_entropy(x, y, size_average=size_average, reduce=reduce)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = TF.binary_cross_entropy(xt, yt, size_average=size_average, reduce=reduce)
        assert_close(out, expected, "float32", f"size_average={size_average}, reduce={reduce}")
