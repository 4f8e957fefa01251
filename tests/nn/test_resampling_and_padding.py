"""Padding, resampling and RMS-norm layers against PyTorch: reprs, options and parameters,
errors, and interpolate/Upsample values and gradients over a grid of sizes and factors."""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def both(build: Any) -> tuple[Any, Any]:
    """The same expression built with chainrule and with PyTorch."""
    return build(cr), build(torch)


# ---- reprs and stored options -------------------------------------------------------------------

MODULES = [
    lambda m: m.nn.ZeroPad1d(2),
    lambda m: m.nn.ZeroPad2d((1, 2, 3, 4)),
    lambda m: m.nn.ZeroPad2d((1, 2)),  # a short tuple is kept as given
    lambda m: m.nn.ZeroPad3d(1),
    lambda m: m.nn.ConstantPad1d(2, 3.5),
    lambda m: m.nn.ConstantPad2d(1, 2),
    lambda m: m.nn.ConstantPad3d((1, 0, 2, 0, 3, 0), -1.0),
    lambda m: m.nn.ReflectionPad1d(2),
    lambda m: m.nn.ReflectionPad2d((1, 0, 2, 1)),
    lambda m: m.nn.ReflectionPad3d(1),
    lambda m: m.nn.ReplicationPad1d((3, 1)),
    lambda m: m.nn.ReplicationPad2d(2),
    lambda m: m.nn.ReplicationPad3d(1),
    lambda m: m.nn.CircularPad1d(1),
    lambda m: m.nn.CircularPad2d((1, 2, 3, 4)),
    lambda m: m.nn.CircularPad3d(2),
    lambda m: m.nn.PixelShuffle(2),
    lambda m: m.nn.PixelUnshuffle(3),
    lambda m: m.nn.Upsample(scale_factor=2),
    lambda m: m.nn.Upsample(scale_factor=(2, 3)),
    lambda m: m.nn.Upsample(size=(3, 4), mode="bilinear", align_corners=True),
    lambda m: m.nn.Upsample(size=5, mode="linear"),
    lambda m: m.nn.UpsamplingNearest2d(scale_factor=2),
    lambda m: m.nn.UpsamplingBilinear2d(size=3),
    lambda m: m.nn.RMSNorm(4),
    lambda m: m.nn.RMSNorm([2, 3], eps=1e-5, elementwise_affine=False),
    lambda m: m.nn.CosineSimilarity(dim=0),
    lambda m: m.nn.PairwiseDistance(p=1.0, keepdim=True),
    lambda m: m.nn.Sequential(m.nn.ReflectionPad2d(1), m.nn.Upsample(scale_factor=2.5)),
]


@pytest.mark.parametrize("index", range(len(MODULES)))
def test_repr_matches_torch(index: int) -> None:
    ours, theirs = both(MODULES[index])
    assert repr(ours) == repr(theirs)


OPTIONS = {
    "padding": lambda m: m.nn.ZeroPad3d(2),
    "padding-value": lambda m: m.nn.ConstantPad2d((1, 2, 3, 4), 0.5),
    "zero-value": lambda m: m.nn.ZeroPad1d(1),
    "upsample": lambda m: m.nn.Upsample(scale_factor=(2, 3), mode="bicubic"),
    "upsample-zero-factor": lambda m: m.nn.Upsample(scale_factor=0),
    "bilinear2d": lambda m: m.nn.UpsamplingBilinear2d(scale_factor=2),
    "pairwise": lambda m: m.nn.PairwiseDistance(p=3.0, eps=0.0),
    "cosine": lambda m: m.nn.CosineSimilarity(2, 1e-3),
}
ATTRIBUTES = (
    "padding",
    "value",
    "size",
    "scale_factor",
    "mode",
    "align_corners",
    "recompute_scale_factor",
    "name",
    "norm",
    "eps",
    "keepdim",
    "dim",
)


@pytest.mark.parametrize("name", list(OPTIONS))
def test_stored_options_match_torch(name: str) -> None:
    ours, theirs = both(OPTIONS[name])
    compared = 0
    for attribute in ATTRIBUTES:
        if hasattr(theirs, attribute):
            assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
            assert type(getattr(ours, attribute)) is type(getattr(theirs, attribute)), attribute
            compared += 1
    assert compared >= 2


# ---- padding layers ------------------------------------------------------------------------------

PADDINGS = [
    ("ZeroPad1d", 2, (2, 3, 4)),
    ("ZeroPad2d", (1, -1, 2, 0), (2, 3, 4)),
    ("ZeroPad3d", 1, (2, 2, 3, 4)),
    ("ReflectionPad1d", 3, (2, 3, 4)),
    ("ReflectionPad2d", (1, 2, 0, 3), (1, 2, 4, 5)),
    ("ReflectionPad3d", 1, (2, 2, 3, 4)),
    ("ReplicationPad1d", (4, 0), (3, 4)),
    ("ReplicationPad2d", 2, (2, 3, 4)),
    ("ReplicationPad3d", (1, -1, 2, 0, 0, 3), (1, 2, 2, 3, 4)),
    ("CircularPad1d", (4, 1), (2, 3, 4)),
    ("CircularPad2d", 2, (2, 3, 4)),
    ("CircularPad3d", (1, 1, 2, 0, 1, 2), (2, 2, 3, 4)),
]


@pytest.mark.parametrize(("layer", "padding", "shape"), PADDINGS)
def test_padding_layers_match_torch(layer: str, padding: Any, shape: tuple) -> None:
    x = rng_for(layer, padding).standard_normal(shape)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = getattr(cr.nn, layer)(padding), getattr(torch.nn, layer)(padding)
    assert ours.padding == theirs.padding
    out, expected = ours(xc), theirs(xt)
    np.testing.assert_array_equal(to_numpy(out), to_numpy(expected))
    upstream = rng_for("up", layer).standard_normal(tuple(expected.shape))
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(to_numpy(xc.grad), to_numpy(xt.grad), rtol=1e-12, atol=1e-12)


def test_an_int_padding_expands_to_two_per_dimension() -> None:
    assert cr.nn.ZeroPad1d(3).padding == (3, 3)
    assert cr.nn.ReflectionPad2d(1).padding == (1, 1, 1, 1)
    assert cr.nn.CircularPad3d(2).padding == (2,) * 6
    assert cr.nn.ConstantPad3d(1, 0.5)(cr.ones(1, 1, 1)).shape == (3, 3, 3)


# ---- RMSNorm's parameters ----------------------------------------------------------------------


def test_rms_norm_parameters_match_torch() -> None:
    for options in ({}, {"elementwise_affine": False}):
        ours, theirs = cr.nn.RMSNorm((2, 3), **options), torch.nn.RMSNorm((2, 3), **options)
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert ours.normalized_shape == theirs.normalized_shape == (2, 3)
    norm = cr.nn.RMSNorm(3, dtype=cr.float64)
    assert norm.weight.dtype == cr.float64 and norm.weight.tolist() == [1.0, 1.0, 1.0]
    with cr.no_grad():
        norm.weight.mul_(3.0)
    norm.reset_parameters()
    assert norm.weight.tolist() == [1.0, 1.0, 1.0]
    assert cr.nn.RMSNorm(3, elementwise_affine=False).weight is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rms_norm_default_eps_is_the_dtype_epsilon(dtype: str) -> None:
    x = np.full((2, 4), 1e-4, dtype=dtype)  # mean(x²) = 1e-8: ε matters
    out = cr.nn.RMSNorm(4, dtype=getattr(cr, dtype))(cr.tensor(x))
    expected = torch.nn.RMSNorm(4, dtype=getattr(torch, dtype))(torch.tensor(x))
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=1e-6)
    epsilon = np.finfo(dtype).eps
    np.testing.assert_allclose(to_numpy(out), x / np.sqrt(1e-8 + epsilon), rtol=1e-5)


def test_normalize_writes_out() -> None:
    x = rng_for("out").standard_normal((3, 4))
    out = cr.zeros(3, 4, dtype=cr.float64)
    assert F.normalize(cr.tensor(x), dim=0, out=out) is out
    expected = torch.nn.functional.normalize(torch.tensor(x), dim=0)
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=1e-14)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        F.normalize(cr.tensor(x, requires_grad=True), out=out)


# ---- errors, as PyTorch raises them ------------------------------------------------------------

ERRORS = {
    "both-size-and-scale": (lambda m: _interp(m, (1, 2, 5), size=3, scale_factor=2), "only one"),
    "neither": (lambda m: _interp(m, (1, 2, 5)), "either size or scale_factor"),
    "align-nearest": (
        lambda m: _interp(m, (1, 2, 5), size=3, align_corners=True),
        "align_corners option can only be set",
    ),
    "size-rank": (lambda m: _interp(m, (1, 2, 5), size=(3, 4)), "same number of spatial"),
    "scale-rank": (lambda m: _interp(m, (1, 2, 5), scale_factor=(2, 3)), "same number of spatial"),
    "recompute-size": (
        lambda m: _interp(m, (1, 2, 5), size=3, recompute_scale_factor=True),
        "recompute_scale_factor is not meaningful",
    ),
    "bilinear-3d": (
        lambda m: _interp(m, (1, 2, 5), size=3, mode="bilinear"),
        "Got 3D input, but bilinear mode needs 4D input",
    ),
    "linear-4d": (
        lambda m: _interp(m, (1, 2, 5, 4), size=3, mode="linear"),
        "Got 4D input, but linear mode needs 3D input",
    ),
    "trilinear-4d": (
        lambda m: _interp(m, (1, 2, 5, 4), size=3, mode="trilinear"),
        "but trilinear mode needs 5D input",
    ),
    "unknown-mode": (lambda m: _interp(m, (1, 2, 5), size=3, mode="cubic"), "(got cubic)"),
    "2d-input": (lambda m: _interp(m, (2, 5), size=3), "Only 3D, 4D and 5D input"),
    "empty-output": (lambda m: _interp(m, (1, 2, 5), scale_factor=0.1), "greater than 0"),
    "antialias-linear": (
        lambda m: _interp(m, (1, 2, 5), size=3, mode="linear", antialias=True),
        "Anti-alias option is restricted",
    ),
    "shuffle-rank": (lambda m: m.nn.functional.pixel_shuffle(m.ones(2, 3), 2), "at least 3"),
    "shuffle-channels": (
        lambda m: m.nn.functional.pixel_shuffle(m.ones(5, 2, 3), 2),
        "input.size(-3)=5 is not divisible by 4",
    ),
    "shuffle-factor": (
        lambda m: m.nn.functional.pixel_shuffle(m.ones(4, 2, 3), 0),
        "expects a positive upscale_factor, but got 0",
    ),
    "shuffle-float": (lambda m: m.nn.PixelShuffle(2.0)(m.ones(4, 2, 3)), "must be int"),
    "unshuffle-height": (
        lambda m: m.nn.PixelUnshuffle(2)(m.ones(4, 5, 4)),
        "height to be divisible by downscale_factor, but input.size(-2)=5",
    ),
    "unshuffle-width": (
        lambda m: m.nn.functional.pixel_unshuffle(m.ones(4, 4, 5), 2),
        "width to be divisible by downscale_factor, but input.size(-1)=5",
    ),
    "reflect-too-wide": (lambda m: m.nn.ReflectionPad1d(3)(m.ones(1, 2, 3)), "(3, 3)"),
    "circular-rank": (lambda m: m.nn.CircularPad2d(1)(m.ones(2, 3, 4, 5, 6)), "3D or 4D input"),
    "circular-wraps-twice": (
        lambda m: m.nn.CircularPad1d(4)(m.ones(1, 2, 3)),
        "wrapping around more than once",
    ),
    "rms-shape": (
        lambda m: m.nn.functional.rms_norm(m.ones(2, 4), [3]),
        "expected input with shape [*",
    ),
    "rms-weight": (
        lambda m: m.nn.functional.rms_norm(m.ones(2, 3), [3], m.ones(4)),
        "Expected weight to be of same shape as normalized_shape",
    ),
    "rms-empty-shape": (
        lambda m: m.nn.functional.rms_norm(m.ones(2, 3), []),
        "at least 1-dimensional",
    ),
    "normalize-dim": (lambda m: m.nn.functional.normalize(m.ones(2, 3), dim=2), "out of range"),
}


def _interp(m: Any, shape: tuple, **options: Any) -> Any:
    return m.nn.functional.interpolate(m.ones(*shape), **options)


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name: str) -> None:
    build, message = ERRORS[name]
    with pytest.raises(Exception) as theirs:  # PyTorch's type, compared below
        build(torch)
    with pytest.raises(type(theirs.value), match=re.escape(message)) as ours:
        build(cr)
    assert message in str(theirs.value)
    # Every message says where: the function's or the layer's name.
    assert any(
        word in str(ours.value) for word in ("interpolate", "pixel", "Pad", "pad", "rms", "norm")
    )


def test_unsupported_antialias_says_so() -> None:
    with pytest.raises(NotImplementedError, match="antialias=True"):
        F.interpolate(cr.ones(1, 1, 4, 4), size=3, mode="bilinear", antialias=True)


# ---- interpolate and Upsample against PyTorch, float64 -----------------------------------------

SPECS = [("size", 1), ("size", 4), ("size", 11), ("scale", 0.5), ("scale", 1.7), ("scale", 2.0)]
SPECS += [("scale", 3.0), ("scale", 1 / 3), ("scale", 2.5), ("scale", 0.75)]
MODES = {
    "nearest": (None,),
    "nearest-exact": (None,),
    "linear": (False, True),
    "bilinear": (False, True),
    "bicubic": (False, True),
    "trilinear": (False, True),
    "area": (None,),
}
RANKS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _grid() -> list:
    cases = []
    for mode, corners in MODES.items():
        for spatial in [RANKS[mode]] if mode in RANKS else [1, 2]:
            for n_in in (1, 2, 5, 7):
                for kind, value in SPECS:
                    for align in corners:
                        for recompute in (None, True) if kind == "scale" else (None,):
                            cases.append((mode, spatial, n_in, kind, value, align, recompute))
    return cases


GRID = _grid()


@pytest.mark.parametrize("chunk", range(8))
def test_interpolate_matches_torch_values_and_gradients(chunk: int) -> None:
    for mode, spatial, n_in, kind, value, align, recompute in GRID[chunk::8]:
        shape = (2, 2) + tuple(n_in + k for k in range(spatial))
        options = {"mode": mode, "align_corners": align, "recompute_scale_factor": recompute}
        options["size" if kind == "size" else "scale_factor"] = value
        x = rng_for(mode, shape, kind, value, align).standard_normal(shape)
        xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        what = f"{mode} {shape} {options}"
        try:
            expected = torch.nn.functional.interpolate(xt, **options)
        except RuntimeError as error:  # an empty output: refused alike
            with pytest.raises(RuntimeError, match="greater than 0"):
                F.interpolate(xc, **options)
            assert "greater than 0" in str(error), what
            continue
        out = F.interpolate(xc, **options)
        assert out.shape == tuple(expected.shape), what
        np.testing.assert_allclose(
            to_numpy(out), to_numpy(expected), rtol=1e-12, atol=1e-12, err_msg=what
        )
        upstream = rng_for("up", what).standard_normal(tuple(expected.shape))
        out.backward(cr.tensor(upstream))
        if expected.numel() == 0:  # PyTorch's area backward refuses an empty output: zeros
            assert not to_numpy(xc.grad).any(), what
            continue
        expected.backward(torch.tensor(upstream))
        np.testing.assert_allclose(
            to_numpy(xc.grad), to_numpy(xt.grad), rtol=1e-12, atol=1e-12, err_msg=what
        )


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.nn.Upsample(scale_factor=1.5),
        lambda m: m.nn.Upsample(size=(9, 4), mode="bilinear", align_corners=True),
        lambda m: m.nn.Upsample(
            scale_factor=(0.6, 2.0), mode="bicubic", recompute_scale_factor=True
        ),
        lambda m: m.nn.UpsamplingNearest2d(size=7),
        lambda m: m.nn.UpsamplingBilinear2d(scale_factor=3),
    ],
)
def test_upsample_layers_match_torch(build: Any) -> None:
    x = rng_for(repr(build(torch))).standard_normal((2, 3, 5, 6))
    ours, theirs = both(build)
    out, expected = ours(cr.tensor(x)), theirs(torch.tensor(x))
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=1e-12, atol=1e-12)


def test_interpolate_float32_reads_the_same_sources_as_torch() -> None:
    # Positions computed in float32 for float32 input, as PyTorch: the same neighbours read.
    x = rng_for("f32").standard_normal((1, 1, 7, 9)).astype(np.float32)
    for options in (
        {"scale_factor": 1 / 3, "mode": "nearest"},
        {"size": (12, 5), "mode": "bilinear"},
        {"scale_factor": 2.3, "mode": "bicubic", "align_corners": True},
    ):
        out = F.interpolate(cr.tensor(x), **options)
        expected = torch.nn.functional.interpolate(torch.tensor(x), **options)
        assert out.dtype == cr.float32
        np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("padding", ["x", (1, "a"), 1.5, True])
def test_padding_layers_refuse_a_padding_that_is_not_ints(padding: Any) -> None:
    with pytest.raises(TypeError, match="ZeroPad2d: padding must be an int or a tuple of ints"):
        cr.nn.ZeroPad2d(padding)
