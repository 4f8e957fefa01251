"""Threshold, Hardshrink, Softshrink, LogSigmoid, GLU, Softmin, Softmax2d and RReLU as PyTorch
has them: values and gradients at the special values (±0, ±inf, nan, the band's edges),
module reprs, errors, in-place forms, and RReLU's random slopes in training. The table of
tests/op_cases_nn.py compares them with PyTorch on random inputs and checks them by finite
differences."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

SPECIAL = [math.nan, -math.inf, math.inf, -0.5, 0.5, 0.0, -0.0, 0.7, -0.7, 0.3, 0.1, -100.0, 100.0]
# The incoming gradient: distinct values, and a nan, to show which positions pass it.
UPSTREAM = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, math.nan, 11.0, 12.0, 13.0]

FUNCTIONS = {
    "threshold": lambda m, x: m.nn.functional.threshold(x, 0.5, -2.0),
    "threshold_at_zero": lambda m, x: m.nn.functional.threshold(x, 0.0, 9.0),
    "hardshrink": lambda m, x: m.nn.functional.hardshrink(x),
    "hardshrink_wide": lambda m, x: m.nn.functional.hardshrink(x, 0.7),
    "softshrink": lambda m, x: m.nn.functional.softshrink(x),
    "softshrink_zero": lambda m, x: m.nn.functional.softshrink(x, 0.0),
    "logsigmoid": lambda m, x: m.nn.functional.logsigmoid(x),
    "rrelu_eval": lambda m, x: m.nn.functional.rrelu(x, 0.1, 0.3),
}


def _bits(values: Any) -> np.ndarray:
    """The values with the sign of zero visible: (value, signbit) pairs compare exactly."""
    array = np.asarray(values, dtype=np.float64)
    return np.stack([np.nan_to_num(array, nan=12345.0), np.signbit(array)])


def _run(m: Any, name: str, dtype: str) -> tuple[list, list]:
    x = m.tensor(SPECIAL, dtype=getattr(m, dtype), requires_grad=True)
    y = FUNCTIONS[name](m, x)
    (g,) = m.autograd.grad(y, x, m.tensor(UPSTREAM, dtype=getattr(m, dtype)))
    return y.detach().tolist(), g.tolist()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_float32_values_and_gradients_at_special_values_match_pytorch(name: str) -> None:
    (y, g), (y_t, g_t) = _run(cr, name, "float32"), _run(torch, name, "float32")
    if name == "logsigmoid":  # exp and log1p: the last bit is the libraries' own
        # −e^{−100} is subnormal in float32: a unit in its last place is 1.4e-45.
        np.testing.assert_allclose(y, y_t, rtol=2.5e-7, atol=1.5e-45)
        np.testing.assert_allclose(g, g_t, rtol=2.5e-7, atol=0)
        return
    np.testing.assert_array_equal(_bits(y), _bits(y_t))  # bit for bit, signs of zero too
    np.testing.assert_array_equal(_bits(g), _bits(g_t))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_float64_values_and_gradients_at_special_values_match_pytorch(name: str) -> None:
    """As in float32, but for two places where PyTorch's float64 kernels disagree with their
    own float32 ones (and with their own scalar loop, which handles the tail of an array that
    does not fill a vector): hardshrink and softshrink give a nan input the gradient 0 inside
    the vector loop and 1 in the tail, and softshrink gives −0.5 the result +0 where float32
    gives −0 (x·0). chainrule gives the float32 answers in both dtypes."""
    (y, g), (y_t, g_t) = _run(cr, name, "float64"), _run(torch, name, "float64")
    np.testing.assert_allclose(y, y_t, rtol=1e-15, atol=0)  # equal nan and ±inf included
    if "shrink" in name:
        assert g[0] == UPSTREAM[0] and g_t[0] == 0.0  # the nan input
        g, g_t = g[1:], g_t[1:]
    np.testing.assert_allclose(g, g_t, rtol=1e-15, atol=0)


def test_threshold_keeps_an_integer_dtype_as_pytorch() -> None:
    out = cr.nn.functional.threshold(cr.tensor([1, 2, 3]), 1, 5)
    expected = torch.nn.functional.threshold(torch.tensor([1, 2, 3]), 1, 5)
    assert out.tolist() == expected.tolist() and str(out.dtype) == "int64"


def test_threshold_in_place_writes_into_its_input_with_the_gradient_of_the_copy() -> None:
    values = [-1.0, 0.25, 2.0, 3.0]
    grads = []
    for m in (cr, torch):
        x = m.tensor(values, requires_grad=True)
        y = x * 2
        out = m.nn.functional.threshold_(y, 1.0, -5.0)
        assert out is y
        (out * out).sum().backward()
        grads.append((y.detach().tolist(), x.grad.tolist()))
    assert grads[0] == grads[1]


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.nn.Threshold(0.1, 20),
        lambda m: m.nn.Threshold(0.1, 20, inplace=True),
        lambda m: m.nn.Hardshrink(),
        lambda m: m.nn.Softshrink(0.3),
        lambda m: m.nn.LogSigmoid(),
        lambda m: m.nn.GLU(),
        lambda m: m.nn.GLU(dim=1),
        lambda m: m.nn.Softmin(1),
        lambda m: m.nn.Softmax2d(),
        lambda m: m.nn.RReLU(),
        lambda m: m.nn.RReLU(0.1, 0.3, True),
    ],
)
def test_module_reprs_match_pytorch(build: Any) -> None:
    assert repr(build(cr)) == repr(build(torch))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.nn.functional.glu(m.ones(3)), "dimension 0 is size 3"),
        (lambda m: m.nn.functional.glu(m.ones(2, 3), 1), "dimension 1 is size 3"),
        (lambda m: m.nn.functional.glu(m.tensor(1.0)), "scalar"),
        (lambda m: m.nn.functional.softshrink(m.ones(2), -1.0), "-1"),
        (lambda m: m.nn.functional.rrelu(m.ones(2), 0.5, 0.1), "upper bound"),
        (lambda m: m.nn.Softmax2d()(m.ones(3)), "expected input to be 3D or 4D, got 1D"),
        (lambda m: m.nn.functional.logsigmoid(m.tensor([1, 2])), "Long|int64"),
        (lambda m: m.nn.functional.hardshrink(m.tensor([1, 2])), "Long|int64"),
    ],
)
def test_bad_arguments_raise_where_pytorch_raises(call: Any, message: str) -> None:
    with pytest.raises((RuntimeError, ValueError, NotImplementedError), match=message):
        call(torch)
    with pytest.raises((RuntimeError, ValueError), match=message):
        call(cr)


def test_glu_of_a_non_tensor_names_glu() -> None:
    with pytest.raises(TypeError, match="glu: argument 'input' must be Tensor"):
        cr.nn.functional.glu([1.0, 2.0])


def test_softmin_without_dim_warns_and_picks_pytorchs_dimension() -> None:
    values = np.random.default_rng(0).normal(size=(2, 3, 4))
    for shape in [(4,), (2, 3), (2, 3, 4)]:
        x = values.reshape(-1)[: math.prod(shape)].reshape(shape)
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
            out = cr.nn.functional.softmin(cr.tensor(x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = torch.nn.functional.softmin(torch.tensor(x))
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12)


def test_rrelu_in_training_draws_one_slope_per_nonpositive_element_from_the_seed() -> None:
    x = cr.tensor(np.linspace(-4, 4, 4001), requires_grad=True)
    cr.manual_seed(3)
    y = cr.nn.RReLU(0.1, 0.3)(x)  # a module starts in training mode
    y.sum().backward()
    values, slopes = x.detach().numpy(), x.grad.numpy()
    kept = values > 0
    np.testing.assert_array_equal(y.detach().numpy()[kept], values[kept])
    np.testing.assert_array_equal(slopes[kept], 1.0)
    drawn = slopes[~kept]
    assert drawn.min() >= 0.1 and drawn.max() <= 0.3  # U(lower, upper)
    assert abs(drawn.mean() - 0.2) < 0.01 and len(np.unique(drawn)) > 1900
    np.testing.assert_allclose(y.detach().numpy()[~kept], values[~kept] * drawn, rtol=1e-15)
    cr.manual_seed(3)
    again = cr.nn.RReLU(0.1, 0.3)(cr.tensor(values))
    np.testing.assert_array_equal(again.numpy(), y.detach().numpy())  # the seed decides
    evaluated = cr.nn.RReLU(0.1, 0.3).eval()(cr.tensor(values))
    np.testing.assert_allclose(evaluated.numpy(), np.where(kept, values, 0.2 * values))


def test_rrelu_in_place_in_training_writes_its_input() -> None:
    x = cr.tensor([-1.0, 2.0])
    out = cr.nn.functional.rrelu_(x, 0.25, 0.25, training=True)
    assert out is x and x.tolist() == [-0.25, 2.0]


def test_top_level_and_method_names_of_pytorch() -> None:
    x = [-1.0, 0.2, 2.0]
    assert cr.hardshrink(cr.tensor(x), 0.5).tolist() == torch.hardshrink(torch.tensor(x)).tolist()
    assert cr.tensor(x).hardshrink(0.3).tolist() == torch.tensor(x).hardshrink(0.3).tolist()
    assert (
        cr.threshold(cr.tensor(x), 0.1, 7.0).tolist()
        == torch.threshold(torch.tensor(x), 0.1, 7.0).tolist()
    )
    assert (
        cr.rrelu(cr.tensor(x), 0.5, 0.5).tolist() == torch.rrelu(torch.tensor(x), 0.5, 0.5).tolist()
    )
