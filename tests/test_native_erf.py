"""erf, erfc and GELU through chainrule.native's loops (native/erf.py): the NumPy form's values
bit for bit over float32's whole range of interest, at the series' and the tail's edges and at
special values, float16 computed in float32 as the NumPy form does; PyTorch's within rounding;
the loops really run, and inputs they do not cover stay in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bit_patterns import bits
from chainrule import native
from chainrule.nn.functional import gelu
from chainrule.ops import erf as erf_ops
from loop_calls import assert_same_bits, count_calls, output_and_gradient

pytest.importorskip("numba", reason="the loops need numba: pip install 'chainrule[numba]'")


@pytest.fixture
def calls(monkeypatch) -> list:
    """The names of the erf loops called, in order."""
    return count_calls(monkeypatch, "erf", ("terms", "combine"))


def _edges() -> np.ndarray:
    """Special values and the neighbours of every boundary: ±1 (series/tail), 10.5 (the
    tail's cap), h's steps of 1/16, 0, the subnormals, the largest floats, ±inf and nan."""
    one = np.float32(1)
    points = [np.nextafter(one, np.float32(0)), one, np.nextafter(one, np.float32(2))]
    for end in (np.float32(10.5), np.float32(1.0625), np.float32(3.5)):
        points += [np.nextafter(end, np.float32(0)), end, np.nextafter(end, np.float32(20))]
    points += [0.0, 1e-45, 1e-38, 1e-8, 3e38, np.finfo(np.float32).max, np.inf, np.nan, 27.0]
    values = np.array(points, np.float32)
    edges = np.concatenate([values, -values])
    edges[edges.size // 2 + 7] = -0.0
    return edges


def _grid() -> np.ndarray:
    return np.concatenate([np.linspace(-12, 12, 200_001, dtype=np.float32), _edges()])


@pytest.mark.parametrize("name", ["erf_array", "erfc_array"])
def test_loops_are_the_numpy_form_bit_for_bit(native_switch, calls, name) -> None:
    function = getattr(erf_ops, name)
    values = _grid()
    native.enable(True)
    with np.errstate(all="ignore"):
        looped = function(values)
        assert calls == ["terms", "combine"]
        native.enable(False)
        numpy_form = function(values)
    assert looped.dtype == numpy_form.dtype == np.float32
    np.testing.assert_array_equal(bits(looped), bits(numpy_form))
    expected = getattr(torch.special, name.split("_")[0])(torch.tensor(values)).numpy()
    np.testing.assert_allclose(looped, expected, rtol=3e-6, atol=1e-44, equal_nan=True)


def test_float16_is_computed_in_float32_as_the_numpy_form(native_switch, calls) -> None:
    values = np.random.default_rng(3).standard_normal((64, 40)).astype(np.float16) * 3
    for function in (erf_ops.erf_array, erf_ops.erfc_array):
        native.enable(True)
        looped = function(values)
        native.enable(False)
        numpy_form = function(values)
        assert looped.dtype == np.float16
        np.testing.assert_array_equal(bits(looped), bits(numpy_form))
    assert calls == ["terms", "combine"] * 2


def test_gelu_and_its_gradient_through_the_loops(native_switch, calls, monkeypatch) -> None:
    from chainrule.native import gelu as gelu_loops

    slopes = []
    original = gelu_loops.slope
    monkeypatch.setattr(gelu_loops, "slope", lambda *args: slopes.append(original(*args)))
    rng = np.random.default_rng(4)
    values = (rng.standard_normal((256, 512)) * 2).astype(np.float32)  # 131,072 elements
    grad = rng.standard_normal(values.shape).astype(np.float32)
    found = {loops: output_and_gradient(gelu, values, grad, loops) for loops in (True, False)}
    assert calls == ["terms", "combine"]  # the forward once, through the loops, not twice
    assert len(slopes) == 1
    assert_same_bits(found[True], found[False])
    x = torch.tensor(values, requires_grad=True)
    y = torch.nn.functional.gelu(x)
    y.backward(torch.tensor(grad))
    # Each library is within 7e-7 of the float64 values here (the gradient's Φ + x·φ cancels
    # near x = −0.75): they differ from each other by up to twice that.
    np.testing.assert_allclose(found[True][0], y.detach().numpy(), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(found[True][1], x.grad.numpy(), rtol=1e-5, atol=2e-6)


def test_inputs_the_loops_do_not_cover_stay_in_numpy(native_switch, calls) -> None:
    native.enable(True)
    values = np.linspace(-4, 4, 4001)
    float64 = erf_ops.erfc_array(values)  # float64 keeps its own, longer series
    assert float64.dtype == np.float64
    np.testing.assert_allclose(float64, torch.special.erfc(torch.tensor(values)).numpy(), 1e-14)
    assert not calls
    native.enable(False)
    erf_ops.erf_array(values.astype(np.float32))
    assert not calls
