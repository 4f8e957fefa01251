"""BatchNorm1d, BatchNorm2d and LayerNorm (and F.batch_norm, F.layer_norm) against PyTorch, in
training and eval mode, with parameters and running statistics copied through state_dict; and
against finite differences."""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

TOLERANCE = {"float32": (2e-5, 2e-6), "float64": (1e-10, 1e-12)}


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
    scale = max(1.0, float(np.abs(e).max())) if e.size else 1.0
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol * scale, err_msg=what)


def copy_from_torch(module: cr.nn.Module, reference: torch.nn.Module) -> None:
    module.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})


def randomise(reference: torch.nn.Module, rng: np.random.Generator) -> None:
    """Non-trivial parameters and running statistics, so that copying them matters."""
    with torch.no_grad():
        for name, value in reference.state_dict().items():
            if value.dtype.is_floating_point:
                data = rng.standard_normal(tuple(value.shape))
                if name == "running_var":
                    data = rng.uniform(0.5, 2.0, tuple(value.shape))
                value.copy_(torch.tensor(data))


def step(
    module: cr.nn.Module, reference: torch.nn.Module, x: np.ndarray, dtype: str, what: str
) -> None:
    """One forward and backward pass in both libraries, with a random upstream gradient."""
    xc = cr.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out, expected = module(xc), reference(xt)
    assert_close(out, expected, dtype, f"{what}: forward")
    upstream = rng_for(what, "upstream").standard_normal(x.shape).astype(dtype)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    assert_close(xc.grad, xt.grad, dtype, f"{what}: input gradient")
    for (name, p), (_, q) in zip(module.named_parameters(), reference.named_parameters()):
        assert_close(p.grad, q.grad, dtype, f"{what}: gradient of {name}")


# ---- batch norm --------------------------------------------------------------------------------

BATCH_NORMS = {
    "1d-2D": (cr.nn.BatchNorm1d, torch.nn.BatchNorm1d, (8, 3)),
    "1d-3D": (cr.nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
    "2d": (cr.nn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 3, 2)),
}
OPTIONS = {
    "default": {},
    "cumulative": {"momentum": None},
    "no-affine": {"affine": False},
    "no-bias": {"bias": False},
    "untracked": {"track_running_stats": False},
    "eps-momentum": {"eps": 1e-3, "momentum": 0.3},
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("kind", list(BATCH_NORMS))
def test_batch_norm_trains_and_evaluates_like_torch(kind: str, option: str, dtype: str) -> None:
    ours, theirs, shape = BATCH_NORMS[kind]
    kwargs = OPTIONS[option]
    rng = rng_for(kind, option, dtype)
    reference = theirs(3, dtype=getattr(torch, dtype), **kwargs)
    module = ours(3, dtype=dtype, **kwargs)
    assert list(module.state_dict()) == list(reference.state_dict())
    randomise(reference, rng)
    copy_from_torch(module, reference)
    for i in range(4):  # training steps: batch statistics, running statistics updated
        x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
        step(module, reference, x, dtype, f"{kind}/{option}/train step {i}")
        for p in (*module.parameters(), *reference.parameters()):
            p.grad = None
    state, expected_state = module.state_dict(), reference.state_dict()
    for name in expected_state:
        # The running statistics after several steps: the tolerance of the dtype (1e-10 in
        # float64, well within the 1e-6 asked of them).
        assert_close(state[name], expected_state[name], dtype, f"{kind}/{option}: {name}")
    module.eval()
    reference.eval()
    for i in range(2):  # eval: running statistics (or batch ones when untracked), no update
        x = (rng.standard_normal(shape) - 1).astype(dtype)
        step(module, reference, x, dtype, f"{kind}/{option}/eval step {i}")
    for name, value in module.state_dict().items():
        assert_close(value, reference.state_dict()[name], dtype, f"after eval: {name}")


def test_running_statistics_follow_the_formulas() -> None:
    """momentum 0.1: r ← 0.9 r + 0.1 s with the unbiased variance; momentum None: the plain
    average of the batch statistics so far."""
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((5, 2)) * (i + 1) + i for i in range(3)]
    exponential = cr.nn.BatchNorm1d(2, dtype=cr.float64)
    cumulative = cr.nn.BatchNorm1d(2, momentum=None, dtype=cr.float64)
    mean, var = np.zeros(2), np.ones(2)
    for x in batches:
        exponential(cr.tensor(x))
        cumulative(cr.tensor(x))
        mean = 0.9 * mean + 0.1 * x.mean(axis=0)
        var = 0.9 * var + 0.1 * x.var(axis=0, ddof=1)
    np.testing.assert_allclose(to_numpy(exponential.running_mean), mean, rtol=1e-14)
    np.testing.assert_allclose(to_numpy(exponential.running_var), var, rtol=1e-14)
    averages = np.mean([x.mean(axis=0) for x in batches], axis=0)
    np.testing.assert_allclose(to_numpy(cumulative.running_mean), averages, rtol=1e-13)
    variances = np.mean([x.var(axis=0, ddof=1) for x in batches], axis=0)
    np.testing.assert_allclose(to_numpy(cumulative.running_var), variances, rtol=1e-13)
    assert int(cumulative.num_batches_tracked) == 3
    assert cumulative.num_batches_tracked.dtype == cr.int64


def test_eval_mode_uses_running_statistics_and_does_not_update_them() -> None:
    layer = cr.nn.BatchNorm1d(2, dtype=cr.float64)
    layer.running_mean.data[...] = [1.0, -2.0]
    layer.running_var.data[...] = [4.0, 0.25]
    layer.eval()
    x = np.array([[3.0, -1.0], [1.0, -2.0]])
    out = layer(cr.tensor(x))
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(to_numpy(out), expected, rtol=1e-14)
    np.testing.assert_array_equal(to_numpy(layer.running_mean), [1.0, -2.0])
    assert int(layer.num_batches_tracked) == 0


def test_functional_batch_norm_matches_torch_and_updates_buffers_in_place() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4, 3))
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    mean, var = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    ours = [cr.tensor(a) for a in (mean, var)]
    theirs = [torch.tensor(a) for a in (mean, var)]
    for training in (True, False):
        xc, wc, bc = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        out = F.batch_norm(xc, *ours, wc, bc, training=training, momentum=0.2, eps=1e-4)
        expected = torch.nn.functional.batch_norm(
            xt, *theirs, wt, bt, training=training, momentum=0.2, eps=1e-4
        )
        assert_close(out, expected, "float64", f"training={training}: forward")
        (out * out).sum().backward()
        (expected * expected).sum().backward()
        for name, p, q in (("input", xc, xt), ("weight", wc, wt), ("bias", bc, bt)):
            assert_close(p.grad, q.grad, "float64", f"training={training}: {name} gradient")
        for a, e in zip(ours, theirs):
            assert_close(a, e, "float64", f"training={training}: running statistics")


@pytest.mark.parametrize("shape", [(5, 2), (3, 2, 4), (2, 2, 3, 2)], ids=["2D", "3D", "4D"])
def test_batch_norm_gradcheck(shape: tuple) -> None:
    rng = np.random.default_rng(len(shape))
    x = cr.tensor(rng.standard_normal(shape), requires_grad=True)
    w = cr.tensor(rng.standard_normal(2), requires_grad=True)
    b = cr.tensor(rng.standard_normal(2), requires_grad=True)
    mean, var = cr.tensor(rng.standard_normal(2)), cr.tensor(rng.uniform(0.5, 2, 2))

    def train(x: cr.Tensor, w: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
        return F.batch_norm(x, None, None, w, b, training=True)

    def evaluate(x: cr.Tensor, w: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
        return F.batch_norm(x, mean, var, w, b, training=False)

    assert cr.gradcheck(train, [x, w, b])
    assert cr.gradcheck(evaluate, [x, w, b])
    assert cr.gradcheck(lambda x: F.batch_norm(x, None, None, training=True), [x])


def test_batch_norm_errors_name_the_layer_and_shapes() -> None:
    layer = cr.nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=re.escape("BatchNorm1d(3)")) as error:
        layer(cr.randn(4, 5))
    assert "(N, 3)" in str(error.value) and "(4, 5)" in str(error.value)
    with pytest.raises(ValueError, match="N, 3, L"):
        layer(cr.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=re.escape("(N, 2, H, W)")):
        cr.nn.BatchNorm2d(2)(cr.randn(4, 2))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        layer(cr.randn(1, 3))
    layer.eval()
    assert layer(cr.randn(1, 3)).shape == (1, 3)  # one sample is fine with running statistics
    with pytest.raises(ValueError, match="running_mean and running_var"):
        F.batch_norm(cr.randn(4, 3), None, None)
    with pytest.raises(ValueError, match=re.escape("weight must have shape (3,)")):
        F.batch_norm(cr.randn(4, 3), None, None, cr.ones(2), training=True)
    with pytest.raises(ValueError, match="num_features"):
        cr.nn.BatchNorm2d(0)


def test_batch_norm_repr_and_dtype_conversion_match_torch() -> None:
    for kwargs in ({}, {"momentum": None, "affine": False}, {"track_running_stats": False}):
        assert repr(cr.nn.BatchNorm2d(5, **kwargs)) == repr(torch.nn.BatchNorm2d(5, **kwargs))
    layer = cr.nn.BatchNorm1d(2).double()
    assert layer.running_mean.dtype == cr.float64 and layer.weight.dtype == cr.float64
    assert layer.num_batches_tracked.dtype == cr.int64  # integer buffers keep their type
    untracked = cr.nn.BatchNorm1d(2, track_running_stats=False)
    assert untracked.running_mean is None and list(untracked.state_dict()) == ["weight", "bias"]


# ---- layer norm --------------------------------------------------------------------------------

LAYER_NORMS = {
    "last": ((4, 6), 6, {}),
    "last-3D": ((2, 3, 5), 5, {"eps": 1e-3}),
    "two-dims": ((2, 3, 4), (3, 4), {}),
    "no-affine": ((3, 2, 4), (2, 4), {"elementwise_affine": False}),
    "no-bias": ((5, 4), [4], {"bias": False}),
    "one-sample": ((7,), 7, {}),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(LAYER_NORMS))
def test_layer_norm_matches_torch(case: str, dtype: str) -> None:
    shape, normalized_shape, kwargs = LAYER_NORMS[case]
    rng = rng_for(case, dtype)
    reference = torch.nn.LayerNorm(normalized_shape, dtype=getattr(torch, dtype), **kwargs)
    module = cr.nn.LayerNorm(normalized_shape, dtype=dtype, **kwargs)
    assert repr(module) == repr(reference)
    assert list(module.state_dict()) == list(reference.state_dict())
    randomise(reference, rng)
    copy_from_torch(module, reference)
    for i in range(2):
        x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
        step(module, reference, x, dtype, f"{case} step {i}")
        for p in (*module.parameters(), *reference.parameters()):
            p.grad = None
    module.eval()  # no mode dependence
    reference.eval()
    step(module, reference, rng.standard_normal(shape).astype(dtype), dtype, f"{case} eval")


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_layer_norm_gradcheck(affine: bool) -> None:
    rng = np.random.default_rng(5)
    x = cr.tensor(rng.standard_normal((3, 2, 3)), requires_grad=True)
    if affine:
        w = cr.tensor(rng.standard_normal((2, 3)), requires_grad=True)
        b = cr.tensor(rng.standard_normal((2, 3)), requires_grad=True)
        assert cr.gradcheck(lambda x, w, b: F.layer_norm(x, (2, 3), w, b), [x, w, b])
    else:
        assert cr.gradcheck(lambda x: F.layer_norm(x, 3), [x])


def test_layer_norm_errors_name_the_layer_and_shapes() -> None:
    layer = cr.nn.LayerNorm((3, 4))
    with pytest.raises(ValueError, match=re.escape("LayerNorm((3, 4))")) as error:
        layer(cr.randn(2, 4, 3))
    assert "(*, 3, 4)" in str(error.value) and "(2, 4, 3)" in str(error.value)
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(cr.randn(2, 5), [4])
    with pytest.raises(ValueError, match=re.escape("weight must have normalized_shape (5,)")):
        F.layer_norm(cr.randn(2, 5), [5], cr.ones(4))
