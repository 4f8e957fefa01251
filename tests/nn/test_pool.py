"""Max, average and adaptive average pooling (layers and functions) against PyTorch and finite
differences, with overlapping windows, padding, ceil_mode and ties."""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

TOLERANCE = {"float32": (1e-5, 1e-6), "float64": (1e-12, 1e-13)}


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def assert_close(actual: Any, expected: Any, dtype: str, what: str) -> None:
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, PyTorch gives {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, PyTorch gives {e.dtype}"
    rtol, atol = TOLERANCE[dtype]
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol * max(1.0, np.abs(e).max()), err_msg=what)


def seeded(*key: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def compare_layers(
    ours: Any, theirs: Any, x: np.ndarray, dtype: str, rng: np.random.Generator
) -> tuple[Any, Any]:
    """Forward and backward (random upstream gradient) of both layers; returns both outputs."""
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(xc), theirs(xt)
    assert_close(out, expected, dtype, "forward")
    upstream = rng.standard_normal(out.shape).astype(dtype)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    assert_close(xc.grad, xt.grad, dtype, "input gradient")
    return out, expected


# ---- max pooling -------------------------------------------------------------------------------

# (layer, arguments, input shape); several have overlapping windows (stride < kernel).
MAX_CASES = {
    "2d_k2": ("MaxPool2d", {"kernel_size": 2}, (2, 3, 8, 8)),
    "2d_k2_odd_size": ("MaxPool2d", {"kernel_size": 2}, (2, 3, 7, 9)),
    "2d_k3_s1_overlap": ("MaxPool2d", {"kernel_size": 3, "stride": 1}, (2, 2, 6, 7)),
    "2d_k3_s2_pad1": ("MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, (2, 2, 9, 8)),
    "2d_rect": (
        "MaxPool2d",
        {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 0)},
        (1, 2, 7, 6),
    ),
    "2d_dilation": ("MaxPool2d", {"kernel_size": 2, "stride": 1, "dilation": 2}, (2, 2, 7, 7)),
    "2d_dilation_pad": (
        "MaxPool2d",
        {"kernel_size": 3, "dilation": (2, 1), "padding": 1},
        (1, 2, 10, 9),
    ),
    "2d_ceil": ("MaxPool2d", {"kernel_size": 3, "stride": 2, "ceil_mode": True}, (2, 2, 8, 9)),
    "2d_ceil_pad": ("MaxPool2d", {"kernel_size": 2, "padding": 1, "ceil_mode": True}, (1, 2, 5, 6)),
    "2d_unbatched": ("MaxPool2d", {"kernel_size": 2, "stride": 1}, (3, 5, 6)),
    "2d_global": ("MaxPool2d", {"kernel_size": (5, 6)}, (2, 3, 5, 6)),
    "1d_k2": ("MaxPool1d", {"kernel_size": 2}, (2, 3, 10)),
    "1d_overlap_pad": ("MaxPool1d", {"kernel_size": 3, "stride": 1, "padding": 1}, (2, 3, 9)),
    "1d_dilation_ceil": (
        "MaxPool1d",
        {"kernel_size": 2, "stride": 2, "dilation": 2, "ceil_mode": True},
        (2, 2, 11),
    ),
    "1d_unbatched": ("MaxPool1d", {"kernel_size": 4, "stride": 3}, (3, 13)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(MAX_CASES))
def test_max_pool_matches_torch(name: str, dtype: str) -> None:
    kind, args, shape = MAX_CASES[name]
    rng = seeded(name, dtype)
    x = rng.standard_normal(shape).astype(dtype)
    compare_layers(getattr(cr.nn, kind)(**args), getattr(torch.nn, kind)(**args), x, dtype, rng)


@pytest.mark.parametrize("name", list(MAX_CASES))
def test_max_pool_ties_route_the_gradient_like_torch(name: str) -> None:
    """Many equal values (a post-ReLU map is mostly zeros): the first maximum of each window
    in scan order takes the gradient, and overlapping windows add up."""
    kind, args, shape = MAX_CASES[name]
    rng = seeded("ties", name)
    x = np.maximum(rng.integers(-2, 2, shape), 0).astype(np.float64)
    compare_layers(getattr(cr.nn, kind)(**args), getattr(torch.nn, kind)(**args), x, "float64", rng)
    constant = np.ones(shape)  # every element of every window ties
    compare_layers(
        getattr(cr.nn, kind)(**args), getattr(torch.nn, kind)(**args), constant, "float64", rng
    )


@pytest.mark.parametrize("name", [n for n in MAX_CASES if "unbatched" not in n])
def test_max_pool_return_indices_match_torch(name: str) -> None:
    kind, args, shape = MAX_CASES[name]
    x = np.maximum(seeded("indices", name).integers(-2, 3, shape), 0).astype(np.float32)
    fn = {"MaxPool2d": "max_pool2d", "MaxPool1d": "max_pool1d"}[kind]
    out, indices = getattr(F, fn)(cr.tensor(x), return_indices=True, **args)
    expected, expected_indices = getattr(torch.nn.functional, fn)(
        torch.tensor(x), return_indices=True, **args
    )
    np.testing.assert_array_equal(to_numpy(out), to_numpy(expected))
    assert indices.dtype == cr.int64
    np.testing.assert_array_equal(to_numpy(indices), to_numpy(expected_indices))
    _, layer_indices = getattr(cr.nn, kind)(return_indices=True, **args)(cr.tensor(x))
    np.testing.assert_array_equal(to_numpy(layer_indices), to_numpy(expected_indices))


def test_max_pool_gradient_is_the_sum_over_overlapping_windows() -> None:
    # One peak inside all four 2×2 windows of a 3×3 input (stride 1) gets all four gradients.
    x = cr.tensor([[[0.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 0.0]]], requires_grad=True)
    F.max_pool2d(x, 2, stride=1).backward(cr.tensor([[[1.0, 2.0], [3.0, 4.0]]]))
    np.testing.assert_array_equal(to_numpy(x.grad)[0], [[0, 0, 0], [0, 10, 0], [0, 0, 0]])


def test_max_pool_propagates_nan_and_infinity_like_torch() -> None:
    x = np.array([[[1.0, np.nan, 2.0, 3.0, -np.inf, -np.inf, np.inf, 0.0]]])
    np.testing.assert_array_equal(
        to_numpy(F.max_pool1d(cr.tensor(x), 2)),
        to_numpy(torch.nn.functional.max_pool1d(torch.tensor(x), 2)),
    )


@pytest.mark.parametrize("kernel", [2, 3])
def test_max_pool_gradient_of_windows_with_nan_goes_where_torch_sends_it(kernel: int) -> None:
    """A window holding NaN has NaN as its maximum; the gradient goes to the window's last
    NaN, as in PyTorch (overlapping windows with kernel 3, stride 2)."""
    x = np.array([[[1.0, np.nan, 2.0, np.nan, np.nan, 3.0, 0.5, np.nan, 4.0, 1.0]]])
    grad = np.arange(1.0, 1.0 + len(range(0, 10 - kernel + 1, 2)))[None, None]
    ours = cr.tensor(x, requires_grad=True)
    F.max_pool1d(ours, kernel, stride=2).backward(cr.tensor(grad))
    theirs = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool1d(theirs, kernel, stride=2).backward(torch.tensor(grad))
    np.testing.assert_array_equal(to_numpy(ours.grad), theirs.grad.numpy())


def test_max_pool_ceil_mode_window_past_the_padded_input_matches_torch() -> None:
    """ceil_mode with a dilated kernel that reaches past the padded input: PyTorch's output
    length (this case once gave length 0 and crashed)."""
    x = np.array([[[2.0, -1.0]]])
    options = {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True}
    ours = cr.tensor(x, requires_grad=True)
    out = F.max_pool1d(ours, **options)
    theirs = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.max_pool1d(theirs, **options)
    np.testing.assert_array_equal(to_numpy(out), expected.detach().numpy())
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_array_equal(to_numpy(ours.grad), theirs.grad.numpy())


@pytest.mark.parametrize("name", ["2d_k3_s2_pad1", "2d_dilation", "1d_overlap_pad", "2d_ceil"])
def test_max_pool_gradcheck(name: str) -> None:
    kind, args, shape = MAX_CASES[name]
    # Distinct values spaced far beyond the finite-difference step: no window's maximum changes.
    values = seeded("gradcheck", name).permutation(int(np.prod(shape))).reshape(shape) * 0.1
    x = cr.tensor(values.astype(np.float64), requires_grad=True)
    assert cr.gradcheck(getattr(cr.nn, kind)(**args), [x]) is True


@pytest.mark.parametrize("kind", ["MaxPool2d", "AvgPool2d"])
def test_channels_first_memory_and_any_gradient_layout_match_torch(kind: str) -> None:
    # After a convolution the input is channels-first in memory while the upstream gradient
    # (through a Flatten) is not; both orders must give PyTorch's result.
    rng = seeded("layout", kind)
    base = rng.standard_normal((6, 4, 8, 8))  # (C, N, H, W) in memory
    xc, xt = cr.tensor(base, requires_grad=True), torch.tensor(base, requires_grad=True)
    out = getattr(cr.nn, kind)(2)(xc.permute(1, 0, 2, 3))
    expected = getattr(torch.nn, kind)(2)(xt.permute(1, 0, 2, 3))
    assert_close(out, expected, "float64", "forward")
    upstream = rng.standard_normal(out.shape)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    assert_close(xc.grad, xt.grad, "float64", "input gradient")


# ---- average pooling ---------------------------------------------------------------------------

AVG_CASES = {
    "2d_k2": ("AvgPool2d", {"kernel_size": 2}, (2, 3, 8, 8)),
    "2d_k2_odd_size": ("AvgPool2d", {"kernel_size": 2}, (2, 3, 7, 9)),
    "2d_k3_s1_overlap": ("AvgPool2d", {"kernel_size": 3, "stride": 1}, (2, 2, 6, 7)),
    "2d_pad": ("AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, (2, 2, 9, 8)),
    "2d_pad_exclude": (
        "AvgPool2d",
        {"kernel_size": 3, "stride": 1, "padding": 1, "count_include_pad": False},
        (2, 2, 5, 6),
    ),
    "2d_rect": (
        "AvgPool2d",
        {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 0)},
        (1, 2, 7, 6),
    ),
    "2d_ceil": ("AvgPool2d", {"kernel_size": 3, "stride": 2, "ceil_mode": True}, (2, 2, 8, 9)),
    "2d_ceil_pad": (
        "AvgPool2d",
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
        (1, 2, 8, 7),
    ),
    "2d_ceil_pad_exclude": (
        "AvgPool2d",
        {
            "kernel_size": 3,
            "stride": 2,
            "padding": 1,
            "ceil_mode": True,
            "count_include_pad": False,
        },
        (1, 2, 8, 7),
    ),
    "2d_divisor_override": (
        "AvgPool2d",
        {"kernel_size": 2, "stride": 1, "divisor_override": 3},
        (2, 2, 5, 5),
    ),
    "2d_unbatched": ("AvgPool2d", {"kernel_size": 2}, (3, 6, 5)),
    "2d_global": ("AvgPool2d", {"kernel_size": (5, 6)}, (2, 3, 5, 6)),
    "1d_k2": ("AvgPool1d", {"kernel_size": 2}, (2, 3, 10)),
    "1d_overlap_pad": ("AvgPool1d", {"kernel_size": 3, "stride": 1, "padding": 1}, (2, 3, 9)),
    "1d_exclude_ceil": (
        "AvgPool1d",
        {
            "kernel_size": 4,
            "stride": 3,
            "padding": 2,
            "count_include_pad": False,
            "ceil_mode": True,
        },
        (2, 2, 12),
    ),
    "1d_unbatched": ("AvgPool1d", {"kernel_size": 3}, (3, 11)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(AVG_CASES))
def test_avg_pool_matches_torch(name: str, dtype: str) -> None:
    kind, args, shape = AVG_CASES[name]
    rng = seeded(name, dtype)
    x = rng.standard_normal(shape).astype(dtype)
    compare_layers(getattr(cr.nn, kind)(**args), getattr(torch.nn, kind)(**args), x, dtype, rng)


@pytest.mark.parametrize(
    "name", ["2d_pad_exclude", "2d_ceil_pad", "2d_k3_s1_overlap", "1d_exclude_ceil"]
)
def test_avg_pool_gradcheck(name: str) -> None:
    kind, args, shape = AVG_CASES[name]
    x = cr.tensor(seeded("gradcheck", name).standard_normal(shape)[:1], requires_grad=True)
    assert cr.gradcheck(getattr(cr.nn, kind)(**args), [x]) is True


# ---- adaptive average pooling ------------------------------------------------------------------

ADAPTIVE_CASES = {
    "global": (1, (2, 3, 7, 6)),
    "global_unbatched": (1, (3, 5, 4)),
    "divisible": ((2, 3), (2, 3, 8, 9)),
    "uneven_bins": ((3, 4), (2, 2, 7, 10)),
    "more_bins_than_rows": ((5, 2), (1, 2, 3, 7)),
    "keep_height": ((None, 3), (2, 2, 5, 7)),
    "identity": ((5, 7), (1, 2, 5, 7)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(ADAPTIVE_CASES))
def test_adaptive_avg_pool2d_matches_torch(name: str, dtype: str) -> None:
    size, shape = ADAPTIVE_CASES[name]
    rng = seeded(name, dtype)
    x = rng.standard_normal(shape).astype(dtype)
    compare_layers(cr.nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), x, dtype, rng)


@pytest.mark.parametrize(("size", "length"), [(1, 9), (3, 9), (4, 9), (6, 4)])
def test_adaptive_avg_pool1d_matches_torch(size: int, length: int) -> None:
    rng = seeded("adaptive1d", size, length)
    x = rng.standard_normal((2, 3, length))
    compare_layers(
        cr.nn.AdaptiveAvgPool1d(size), torch.nn.AdaptiveAvgPool1d(size), x, "float64", rng
    )


@pytest.mark.parametrize("size", [1, (2, 3), (3, 2)])
def test_adaptive_avg_pool_gradcheck(size: Any) -> None:
    x = cr.tensor(seeded("adaptive", size).standard_normal((1, 2, 5, 4)), requires_grad=True)
    assert cr.gradcheck(lambda t: F.adaptive_avg_pool2d(t, size), [x]) is True


# ---- options, repr, errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        ("MaxPool2d", (2,)),
        ("MaxPool2d", ((2, 3), None, 1, 2, False, True)),
        ("MaxPool1d", (3, 2, 1)),
        ("AvgPool2d", (2,)),
        ("AvgPool2d", ((2, 3), 1, (1, 1), False, False, 3)),
        ("AvgPool1d", (3,)),
        ("AvgPool1d", (3, 2, 1, True)),
        ("AdaptiveAvgPool2d", (1,)),
        ("AdaptiveAvgPool2d", ((None, 3),)),
        ("AdaptiveAvgPool1d", (4,)),
    ],
)
def test_repr_and_attributes_match_torch(kind: str, args: tuple) -> None:
    layer, reference = getattr(cr.nn, kind)(*args), getattr(torch.nn, kind)(*args)
    assert repr(layer) == repr(reference)
    for name in (
        "kernel_size",
        "stride",
        "padding",
        "dilation",
        "ceil_mode",
        "count_include_pad",
        "output_size",
    ):
        if hasattr(reference, name):
            assert getattr(layer, name) == getattr(reference, name), name
    assert list(layer.parameters()) == [] and list(layer.state_dict()) == []


def test_wrong_rank_names_the_layer_and_the_shape() -> None:
    cases = [
        (cr.nn.MaxPool2d(2), (8,), "(N, C, H, W) or (C, H, W)"),
        (cr.nn.AvgPool2d(2), (1, 2, 3, 4, 5), "(N, C, H, W)"),
        (cr.nn.MaxPool1d(2), (4, 4, 4, 4), "(N, C, L) or (C, L)"),
        (cr.nn.AvgPool1d(2), (4,), "(N, C, L)"),
        (cr.nn.AdaptiveAvgPool2d(1), (4, 4), "(N, C, H, W)"),
    ]
    for layer, shape, expected in cases:
        with pytest.raises(ValueError, match=re.escape(repr(layer))) as e:
            layer(cr.randn(*shape))
        assert expected in str(e.value) and str(shape) in str(e.value)


def test_functional_errors_name_the_function() -> None:
    x = cr.randn(1, 1, 8, 8)
    with pytest.raises(ValueError, match=r"max_pool2d: padding must be at most half"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"avg_pool2d: padding must be at most half"):
        F.avg_pool2d(x, 3, padding=2)
    with pytest.raises(
        ValueError, match=r"max_pool2d: input of shape \(1, 1, 2, 2\) gives output size \(0, 0\)"
    ):
        F.max_pool2d(cr.randn(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match=r"avg_pool1d: kernel_size must be positive"):
        F.avg_pool1d(cr.randn(1, 1, 8), 0)
    with pytest.raises(ValueError, match=r"max_pool2d: stride must be an int or a tuple of 2 ints"):
        F.max_pool2d(x, 2, stride=(1, 1, 1))
    with pytest.raises(ValueError, match=r"max_pool1d: expected a floating-point input"):
        F.max_pool1d(cr.ones(1, 1, 8, dtype=cr.int64), 2)
    with pytest.raises(ValueError, match=r"avg_pool2d: divisor_override must be a positive int"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(
        ValueError, match=r"adaptive_avg_pool2d: output_size must be an int or a tuple of 2"
    ):
        F.adaptive_avg_pool2d(x, (1, 2, 3))
    with pytest.raises(
        ValueError, match=r"adaptive_avg_pool2d: output_size must hold non-negative ints"
    ):
        F.adaptive_avg_pool2d(x, (-1, 2))


def test_stride_defaults_to_the_kernel_size() -> None:
    x = cr.randn(1, 1, 6, 6)
    assert cr.nn.MaxPool2d(3)(x).shape == (1, 1, 2, 2)
    assert F.avg_pool2d(x, 2).shape == (1, 1, 3, 3)
    assert F.max_pool2d(x, 2, stride=[]).shape == (1, 1, 3, 3)  # PyTorch's other spelling


@pytest.mark.parametrize("stride", [2, 1], ids=["side-by-side", "overlapping"])
def test_an_infinite_or_nan_gradient_reaches_only_the_maximum_as_in_torch(stride: int) -> None:
    # Times a mask's 0 it would be NaN at the window's other elements.
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    out_size = (4 - 2) // stride + 1
    grad = np.ones((1, 1, out_size, out_size), np.float32)
    grad[0, 0, 0, 0], grad[0, 0, -1, 0], grad[0, 0, 0, -1] = np.inf, np.nan, -np.inf
    ours = cr.tensor(x, requires_grad=True)
    F.max_pool2d(ours, 2, stride=stride).backward(cr.tensor(grad))
    theirs = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(theirs, 2, stride=stride).backward(torch.tensor(grad))
    np.testing.assert_array_equal(to_numpy(ours.grad), theirs.grad.numpy())
