"""ops/fast_where.py: the selection on the bits gives NumPy's ``where`` bit for bit, and every
case it does not cover falls back to ``where`` itself."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's spelling
from chainrule.ops.fast_where import kept_where, where

FLOATS = (np.float16, np.float32, np.float64)
SPECIAL = [np.nan, -np.nan, -0.0, 0.0, np.inf, -np.inf, 1e-40, -3.5]


def _same_bits(actual: Any, expected: Any) -> None:
    assert type(actual) is np.ndarray
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    assert np.array_equal(actual.view(np.uint8), np.asarray(expected).view(np.uint8))


def _arrays(dtype: Any, shape: tuple, rng: np.random.Generator) -> tuple[Any, Any, Any]:
    a = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape).astype(dtype)
    a.reshape(-1)[: len(SPECIAL)] = SPECIAL[: a.size]
    b.reshape(-1)[: len(SPECIAL)] = SPECIAL[::-1][: b.size]
    return a, b, rng.random(shape) < 0.5


@pytest.mark.parametrize("dtype", FLOATS)
def test_arrays_numbers_and_0d_arrays_select_as_numpy_does(dtype: Any) -> None:
    a, b, mask = _arrays(dtype, (37, 21), np.random.default_rng(0))
    zero = np.zeros((), dtype)
    for x, y in [(a, b), (a, 0), (0.01, b), (a, -0.0), (zero, b), (a, zero), (a, np.inf)]:
        _same_bits(where(mask, x, y), np.where(mask, x, y))
    _same_bits(kept_where(mask, a), np.where(mask, a, zero))


@settings(max_examples=200, deadline=None)
@given(
    data=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=9)),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_float32_values_select_as_numpy_does(data: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    other = rng.standard_normal(data.shape).astype(np.float32)
    mask = rng.random(data.shape) < 0.5
    _same_bits(where(mask, data, other), np.where(mask, data, other))
    _same_bits(where(mask, other, data), np.where(mask, other, data))


def test_what_the_bits_do_not_cover_goes_to_numpy() -> None:
    rng = np.random.default_rng(1)
    a, b, mask = _arrays(np.float32, (6, 5), rng)
    cases = [
        (mask, a, b[0]),  # broadcast b
        (mask[:, :1], a, b),  # broadcast mask
        (mask, a[:, ::-1], b),  # not contiguous
        (mask, a, np.float64(2.0)),  # a strong NumPy scalar: the result is float64
        (mask, a, b.astype(np.float64)),  # mixed dtypes
        (mask, np.arange(30, dtype=np.int32).reshape(6, 5), 1),  # integers
        (np.bool_(True), a, b),  # a 0-d mask
        (mask.astype(np.int8), a, b),  # not a bool mask
        (mask, 1.0, 2.0),  # no array to take the dtype from
        (mask, a, True),  # a bool is not a number here
    ]
    for m, x, y in cases:
        _same_bits(where(m, x, y), np.where(m, x, y))


def test_second_derivatives_through_selections_match_pytorch() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal(40)
    x[:4] = [0.0, -3.0, 3.0, -0.0]

    def second(m: Any, f: Any) -> list[np.ndarray]:
        t = m.tensor(x, requires_grad=True)
        (g,) = m.autograd.grad((f(m, t) ** 3).sum(), t, create_graph=True)
        (h,) = m.autograd.grad((g * g).sum(), t)
        return [g.detach().numpy(), h.numpy()]

    def nf(m: Any) -> Any:
        return torch.nn.functional if m is torch else F

    for f in (
        lambda m, t: nf(m).leaky_relu(t, 0.2),
        lambda m, t: nf(m).hardswish(t),
        lambda m, t: nf(m).softplus(t, beta=2.0, threshold=1.0),
        lambda m, t: m.maximum(t, t.flip(0)),
        lambda m, t: m.where(t > 0, t * t, -t),
        lambda m, t: m.clamp(t, -0.5, 0.7),
    ):
        for a, e in zip(second(cr, f), second(torch, f)):
            np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-14)


def _leaky_and_friends(m: Any, f: Any, x: np.ndarray, g: np.ndarray) -> list[np.ndarray]:
    t = m.tensor(x, requires_grad=True)
    y = f(m, t)
    y.backward(m.tensor(g))
    return [y.detach().numpy(), t.grad.numpy()]


@pytest.mark.parametrize(
    "name",
    ["leaky", "leaky_large", "prelu", "softplus", "where", "maximum", "minimum", "clamp"],
)
def test_layers_that_select_match_pytorch_bit_for_bit(name: str) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 96)).astype(np.float32)
    x[0, :6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 25.0]
    x[1] = x[2]  # ties for maximum and minimum
    g = rng.standard_normal((64, 96)).astype(np.float32)
    g[0, 6:9] = [np.nan, np.inf, -0.0]
    other = np.roll(x, 1, axis=0)

    def call(m: Any, t: Any) -> Any:
        nf = torch.nn.functional if m is torch else F
        if name == "leaky":
            return nf.leaky_relu(t, 0.01)
        if name == "leaky_large":
            return nf.leaky_relu(t, 3.5)
        if name == "prelu":
            return nf.prelu(t, m.tensor([0.25], dtype=m.float32))
        if name == "softplus":
            return nf.softplus(t, beta=2.0, threshold=1.0)
        if name == "where":
            return m.where(t > 0.3, t, m.tensor(other) * t)
        if name in ("maximum", "minimum"):
            return getattr(m, name)(t, m.tensor(other))
        return m.clamp(t, -0.5, 0.7)

    ours = _leaky_and_friends(cr, call, x, g)
    theirs = _leaky_and_friends(torch, call, x, g)
    for a, e in zip(ours, theirs):
        if name == "softplus":  # log1p(e^z) rounds differently in the last bit
            np.testing.assert_allclose(a, e, rtol=3e-7, atol=1e-7)
        else:
            np.testing.assert_array_equal(a, e)
        numbers = ~np.isnan(e)  # a nan's sign bit is not a value
        assert np.array_equal(np.signbit(a[numbers]), np.signbit(e[numbers]))


@pytest.mark.parametrize("dtype", FLOATS)
def test_broadcast_and_uniform_masks_select_as_numpy_does(dtype: Any) -> None:
    a, b, mask = _arrays(dtype, (4, 6, 5), np.random.default_rng(4))
    masks = [
        mask[:1],  # broadcast along the first axis
        mask[:, :, :1],  # along the last
        mask[0, 0],  # fewer dimensions
        np.broadcast_to(mask[0, :1], a.shape),  # a broadcast view
        np.zeros(a.shape, bool),  # uniform: a copy of b
        np.ones(a.shape, bool),  # of a
        np.ones((), bool),
    ]
    for m in masks:
        for x, y in [(a, b), (a, 0.5), (-0.0, b), (a, np.zeros((), dtype))]:
            result = where(m, x, y)
            _same_bits(result, np.where(m, x, y))
            assert not np.shares_memory(result, a) and not np.shares_memory(result, b)
    empty = np.zeros((0, 3), dtype)
    _same_bits(
        where(np.zeros((0, 3), bool), empty, 1.0), np.where(np.zeros((0, 3), bool), empty, 1.0)
    )


def test_masked_fill_and_xlogy_match_pytorch_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    scores = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    causal = np.triu(np.ones((8, 8), bool), 1)
    x = rng.random((64, 32)).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = 0.0
    y = rng.standard_normal((64, 32)).astype(np.float32)
    y[0, :4] = [0.0, -1.0, np.inf, np.nan]

    def run(m: Any) -> list[np.ndarray]:
        s = m.tensor(scores, requires_grad=True)
        filled = s.masked_fill(m.tensor(causal), -1e9)
        filled.backward(m.tensor(scores * 2))
        return [filled.detach().numpy(), s.grad.numpy(), m.xlogy(m.tensor(x), m.tensor(y)).numpy()]

    ours, theirs = run(cr), run(torch)
    for a, e in zip(ours[:2], theirs[:2]):
        np.testing.assert_array_equal(a, e)
    # xlogy: NumPy's and PyTorch's logarithms differ in the last bit; the selections (+0 at
    # x = 0, nan from y, 0 · ±inf) are exact
    np.testing.assert_allclose(ours[2], theirs[2], rtol=3e-7, atol=0)
    zeros = theirs[2] == 0
    assert np.array_equal(np.signbit(ours[2][zeros]), np.signbit(theirs[2][zeros]))
