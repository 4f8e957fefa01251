"""GroupNorm and F.group_norm against PyTorch (values and the gradients of input, weight and
bias, parameters copied through state_dict), against the formula, against finite differences,
and their errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

from .test_normalization import assert_close, copy_from_torch, randomise, rng_for, step, to_numpy

# (input shape, num_groups, num_channels, options)
GROUP_NORMS = {
    "2D-groups-2": ((4, 8), 2, 8, {}),
    "3D-groups-2": ((3, 6, 5), 2, 6, {}),
    "4D-one-group": ((2, 6, 3, 4), 1, 6, {}),
    "4D-group-per-channel": ((2, 6, 3, 4), 6, 6, {}),
    "4D-groups-2": ((2, 4, 3, 2), 2, 4, {"eps": 1e-3}),
    "no-affine": ((3, 6, 4), 3, 6, {"affine": False}),
    "no-bias": ((3, 6, 4), 2, 6, {"bias": False}),
    "one-sample": ((1, 4, 3), 2, 4, {}),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(GROUP_NORMS))
def test_group_norm_matches_torch(case: str, dtype: str) -> None:
    shape, groups, channels, kwargs = GROUP_NORMS[case]
    rng = rng_for("group", case, dtype)
    reference = torch.nn.GroupNorm(groups, channels, dtype=getattr(torch, dtype), **kwargs)
    module = cr.nn.GroupNorm(groups, channels, dtype=dtype, **kwargs)
    assert repr(module) == repr(reference)
    assert list(module.state_dict()) == list(reference.state_dict())
    randomise(reference, rng)
    copy_from_torch(module, reference)
    for i in range(2):
        x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
        step(module, reference, x, dtype, f"{case} step {i}")
        for p in (*module.parameters(), *reference.parameters()):
            p.grad = None
    module.eval()  # no running statistics: eval mode computes the same
    reference.eval()
    step(module, reference, rng.standard_normal(shape).astype(dtype), dtype, f"{case} eval")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
@pytest.mark.parametrize(
    ("shape", "groups"),
    [((5, 8), 2), ((2, 6, 7), 3), ((2, 6, 7), 6), ((3, 4, 2, 3), 1), ((2, 4, 2, 1, 3), 2)],
    ids=["2D", "3D", "3D-per-channel", "4D-one-group", "5D"],
)
def test_functional_group_norm_matches_torch(
    shape: tuple, groups: int, affine: str, dtype: str
) -> None:
    rng = rng_for("functional", shape, groups, affine, dtype)
    channels = shape[1]
    x = (rng.standard_normal(shape) * 2 - 0.5).astype(dtype)
    w = rng.standard_normal(channels).astype(dtype) if affine in ("both", "weight") else None
    b = rng.standard_normal(channels).astype(dtype) if affine in ("both", "bias") else None
    ours = [None if a is None else cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [None if a is None else torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    if w is None and b is not None:
        # PyTorch 2.13's backward fails ("tensor does not have a device") for a bias without
        # a weight; a constant weight of ones computes the same and its backward works.
        theirs[1] = torch.ones(channels, dtype=getattr(torch, dtype))
    out = F.group_norm(ours[0], groups, ours[1], ours[2], eps=1e-4)
    expected = torch.nn.functional.group_norm(theirs[0], groups, theirs[1], theirs[2], eps=1e-4)
    assert_close(out, expected, dtype, "forward")
    upstream = rng.standard_normal(shape).astype(dtype)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    for name, p, q in zip(("input", "weight", "bias"), ours, theirs):
        if p is not None:
            assert_close(p.grad, q.grad, dtype, f"{name} gradient")


def test_group_norm_follows_the_formula() -> None:
    """Each sample's group of C/G channels (with all their positions) is normalised on its own:
    mean 0 and biased variance 1 (up to ε) before γ and β."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 6, 4, 2)) * np.arange(1, 7)[None, :, None, None] + 5
    out = to_numpy(F.group_norm(cr.tensor(x), 3, eps=1e-5))
    grouped = x.reshape(3, 3, -1)
    mean, var = grouped.mean(axis=2, keepdims=True), grouped.var(axis=2, keepdims=True)
    expected = ((grouped - mean) / np.sqrt(var + 1e-5)).reshape(x.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    affine = to_numpy(F.group_norm(cr.tensor(x), 3, cr.tensor(w), cr.tensor(b)))
    np.testing.assert_allclose(affine, expected * w[:, None, None] + b[:, None, None], rtol=1e-12)


@pytest.mark.parametrize(
    ("shape", "groups"),
    [((3, 4), 2), ((2, 6, 3), 3), ((2, 4, 2, 3), 1), ((2, 4, 3, 2), 4)],
    ids=["2D", "3D", "4D-one-group", "4D-per-channel"],
)
def test_group_norm_gradcheck(shape: tuple, groups: int) -> None:
    rng = np.random.default_rng(len(shape) + groups)
    channels = shape[1]
    x = cr.tensor(rng.standard_normal(shape), requires_grad=True)
    w = cr.tensor(rng.standard_normal(channels), requires_grad=True)
    b = cr.tensor(rng.standard_normal(channels), requires_grad=True)
    assert cr.gradcheck(lambda x, w, b: F.group_norm(x, groups, w, b), [x, w, b])
    assert cr.gradcheck(lambda x: F.group_norm(x, groups, eps=1e-3), [x])
    layer = cr.nn.GroupNorm(groups, channels, dtype=cr.float64)
    assert cr.gradcheck(layer, [x])


def test_a_torch_state_dict_loads_and_gives_the_same_output() -> None:
    rng = np.random.default_rng(4)
    reference = torch.nn.GroupNorm(4, 8)
    with torch.no_grad():
        reference.weight.copy_(torch.tensor(rng.uniform(0.5, 2.0, 8)))
        reference.bias.copy_(torch.tensor(rng.standard_normal(8)))
    layer = cr.nn.GroupNorm(4, 8)
    np.testing.assert_array_equal(to_numpy(layer.weight), np.ones(8, np.float32))
    np.testing.assert_array_equal(to_numpy(layer.bias), np.zeros(8, np.float32))
    layer.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    x = rng.standard_normal((5, 8, 6)).astype(np.float32)
    expected = reference(torch.tensor(x))
    assert_close(layer(cr.tensor(x)), expected, "float32", "after loading torch's state_dict")
    # The weights did matter: the default layer gives something else.
    assert not np.allclose(to_numpy(cr.nn.GroupNorm(4, 8)(cr.tensor(x))), to_numpy(expected))


def test_defaults_dtypes_and_conversion() -> None:
    layer = cr.nn.GroupNorm(2, 4)
    assert (layer.num_groups, layer.num_channels, layer.eps, layer.affine) == (2, 4, 1e-5, True)
    assert layer.weight.dtype == cr.float32 and layer.bias.dtype == cr.float32
    assert layer(cr.randn(3, 4, 5)).dtype == cr.float32
    layer.double()
    assert layer.weight.dtype == cr.float64
    assert layer(cr.randn(3, 4, 5).double()).dtype == cr.float64
    plain = cr.nn.GroupNorm(2, 4, affine=False)
    assert plain.weight is None and plain.bias is None and list(plain.state_dict()) == []


def test_indivisible_channels_are_refused_like_torch() -> None:
    with pytest.raises(ValueError):
        torch.nn.GroupNorm(4, 6)
    with pytest.raises(
        ValueError, match=re.escape("num_channels (6) must be divisible by num_groups (4)")
    ):
        cr.nn.GroupNorm(4, 6)
    x = np.zeros((2, 6, 3), np.float32)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        torch.nn.functional.group_norm(torch.tensor(x), 4)
    with pytest.raises(ValueError, match="group_norm") as error:
        F.group_norm(cr.tensor(x), 4)
    message = str(error.value)
    assert "6 channels" in message and "(2, 6, 3)" in message and "num_groups=4" in message
    # Without weights PyTorch's layer takes any channel count that splits into its groups...
    plain, reference = cr.nn.GroupNorm(2, 6, affine=False), torch.nn.GroupNorm(2, 6, affine=False)
    y = rng_for("plain").standard_normal((3, 4, 2)).astype(np.float32)
    assert_close(plain(cr.tensor(y)), reference(torch.tensor(y)), "float32", "4 channels")
    # ...and refuses one that does not.
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        reference(torch.zeros(3, 3, 2))
    with pytest.raises(ValueError, match=re.escape("GroupNorm(2, 6)")) as error:
        plain(cr.zeros(3, 3, 2))
    assert "(3, 3, 2)" in str(error.value) and "2 equal groups" in str(error.value)


def test_group_norm_errors_name_the_layer_and_shapes() -> None:
    layer = cr.nn.GroupNorm(2, 6)
    with pytest.raises(ValueError, match=re.escape("GroupNorm(2, 6)")) as error:
        layer(cr.randn(3, 4, 5))
    assert "(N, 6, *)" in str(error.value) and "(3, 4, 5)" in str(error.value)
    with pytest.raises(RuntimeError):  # PyTorch refuses it too: weight (6,), 4 channels
        torch.nn.GroupNorm(2, 6)(torch.randn(3, 4, 5))
    with pytest.raises(ValueError, match=re.escape("got (6,)")):
        layer(cr.randn(6))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        torch.nn.GroupNorm(2, 6)(torch.randn(6))
    with pytest.raises(ValueError, match=re.escape("(N, C, *), got (6,)")):
        F.group_norm(cr.randn(6), 2)
    with pytest.raises(ValueError, match=re.escape("weight must have shape (6,)")):
        F.group_norm(cr.randn(2, 6), 2, cr.ones(5))
    with pytest.raises(ValueError, match=re.escape("bias must have shape (6,)")):
        F.group_norm(cr.randn(2, 6), 2, None, cr.ones(3))
    for bad in (0, -2, 2.0, True):
        with pytest.raises(ValueError, match="num_groups must be a positive int"):
            F.group_norm(cr.randn(2, 6), bad)
    with pytest.raises(ValueError, match="num_groups must be a positive int"):
        cr.nn.GroupNorm(0, 6)
    with pytest.raises(ValueError, match="num_channels must be a positive int"):
        cr.nn.GroupNorm(2, -6)


def test_empty_batches_give_empty_results() -> None:
    layer = cr.nn.GroupNorm(2, 6)
    x = cr.zeros(0, 6, 3, requires_grad=True)
    out = layer(x)
    assert out.shape == (0, 6, 3)
    out.sum().backward()
    assert x.grad.shape == (0, 6, 3)
    np.testing.assert_array_equal(to_numpy(layer.weight.grad), np.zeros(6, np.float32))
