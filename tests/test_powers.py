"""Powers, square, reciprocal and the roots against PyTorch, at the special values too.

Powers by the exponents 0, 1, 2, 3, −1 and −2 are computed as PyTorch computes them, from
products and one division, so their values and (but for −2) their gradients are PyTorch's bit
for bit, in float32 and float64, at zero, negative zero, infinities and nan included. The roots
are correctly rounded (PyTorch's vectorised square root is not on every CPU) and compared with
a tolerance; so are the general powers and tensor exponents, where NumPy's pow and PyTorch's
may differ by an ulp.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

FLOATS = [np.float32, np.float64]
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -0.5, 1e-20, -1e-20, 1e20, -1e20]
# (rtol, atol) where the two libraries' results may differ by rounding
TOLERANCE = {np.float32: (2e-6, 1e-30), np.float64: (1e-14, 1e-300)}


def bases(dtype: Any, seed: int = 0) -> np.ndarray:
    """Random bases of both signs and the special values, in ``dtype``."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.standard_normal(200) * 3, SPECIAL]).astype(dtype)


def forward_backward(lib: Any, op: Callable, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """op(x) and the gradient for a random upstream gradient, as NumPy arrays."""
    upstream = np.random.default_rng(1).standard_normal(base.shape).astype(base.dtype)
    x = lib.tensor(base, requires_grad=True)
    out = op(x)
    out.backward(lib.tensor(upstream))
    return out.detach().numpy(), x.grad.numpy()


def assert_same_bits(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    """Same dtype, nan at the same places, and every other value identical to the last bit
    (the sign of a zero included)."""
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    nan = np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(actual), nan, err_msg=f"{what}: nan positions")
    uint = f"u{actual.dtype.itemsize}"
    differ = np.flatnonzero(actual[~nan].view(uint) != expected[~nan].view(uint))
    assert differ.size == 0, (
        f"{what}: {differ.size} values differ, e.g. {actual[~nan][differ[:3]]} vs "
        f"{expected[~nan][differ[:3]]}"
    )


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    rtol, atol = TOLERANCE[actual.dtype.type]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


# name -> the operation, written the same for both libraries
EXACT = {
    "x ** 0": lambda m, x: x**0,
    "x ** 1": lambda m, x: x**1,
    "x ** 2": lambda m, x: x**2,
    "x ** 3": lambda m, x: x**3,
    "x ** -1": lambda m, x: x**-1,
    "x ** -2": lambda m, x: x**-2,
    "x ** 2.0": lambda m, x: x**2.0,
    "x ** 3.0": lambda m, x: x**3.0,
    "x ** -1.0": lambda m, x: x**-1.0,
    "x.pow(3)": lambda m, x: x.pow(3),
    "pow(x, 3)": lambda m, x: m.pow(x, 3),
    "x.square()": lambda m, x: x.square(),
    "square(x)": lambda m, x: m.square(x),
    "x.reciprocal()": lambda m, x: x.reciprocal(),
    "reciprocal(x)": lambda m, x: m.reciprocal(x),
}
# PyTorch's gradient of x⁻² is −2·x⁻³ through its general power: equal up to rounding.
GRADIENT_CLOSE = {"x ** -2"}


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", list(EXACT))
def test_integer_powers_are_pytorchs_bit_for_bit(name: str, dtype: Any) -> None:
    op, base = EXACT[name], bases(dtype)
    with np.errstate(all="ignore"):
        out, grad = forward_backward(cr, lambda x: op(cr, x), base)
    expected_out, expected_grad = forward_backward(torch, lambda x: op(torch, x), base)
    assert_same_bits(out, expected_out, f"{name} in {dtype.__name__}")
    if name in GRADIENT_CLOSE:
        finite = np.isfinite(expected_grad)
        np.testing.assert_array_equal(np.isfinite(grad), finite)
        assert_close(grad[finite], expected_grad[finite], f"d/dx {name}")
    else:
        assert_same_bits(grad, expected_grad, f"d/dx {name} in {dtype.__name__}")


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.__name__)
def test_integer_powers_are_the_products(dtype: Any) -> None:
    """x³ is x·x·x and x⁻² is 1/(x·x), the same bits as the arithmetic written out."""
    base = bases(dtype)
    x = cr.tensor(base)
    with np.errstate(all="ignore"):
        assert_same_bits((x**3).numpy(), (x * x * x).numpy(), "x ** 3")
        assert_same_bits((x**2).numpy(), (x * x).numpy(), "x ** 2")
        assert_same_bits((x**-1).numpy(), (1 / x).numpy(), "x ** -1")
        assert_same_bits((x**-2).numpy(), (1 / (x * x)).numpy(), "x ** -2")


# name -> (the operation, whether it is the root's reciprocal)
ROOTS = {
    "x.sqrt()": (lambda m, x: x.sqrt(), False),
    "sqrt(x)": (lambda m, x: m.sqrt(x), False),
    "x ** 0.5": (lambda m, x: x**0.5, False),
    "x.rsqrt()": (lambda m, x: x.rsqrt(), True),
    "x ** -0.5": (lambda m, x: x**-0.5, True),
}


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", list(ROOTS))
def test_roots_are_correctly_rounded_and_match_pytorch(name: str, dtype: Any) -> None:
    """√x correctly rounded (float32 from float64's root, which rounds once more exactly), and
    1/√x the correctly rounded reciprocal of that, as PyTorch defines rsqrt."""
    op, reciprocal = ROOTS[name]
    base = bases(dtype)
    with np.errstate(all="ignore"):
        out, grad = forward_backward(cr, lambda x: op(cr, x), base)
        expected = np.sqrt(base.astype(np.float64)).astype(dtype)
        if reciprocal:
            expected = 1 / expected
    assert_same_bits(out, expected, name)
    expected_out, expected_grad = forward_backward(torch, lambda x: op(torch, x), base)
    for what, ours, theirs in ((name, out, expected_out), (f"d/dx {name}", grad, expected_grad)):
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=what)
        assert_close(ours, theirs, what)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.__name__)
def test_tensor_exponents_match_pytorch(dtype: Any) -> None:
    """Bases of both signs and zero to a row of exponents, broadcast; both gradients."""
    rng = np.random.default_rng(2)
    base = np.concatenate([rng.uniform(-3, 3, 10), [0.0, 1.0, -2.0]]).astype(dtype)[:, None]
    exponent = np.array([[0, 1, 2, 3, -1, -2, 0.5, 2.5]], dtype=dtype)
    upstream = rng.standard_normal((base.shape[0], exponent.shape[1])).astype(dtype)
    results = []
    for lib in (cr, torch):
        x = lib.tensor(base, requires_grad=True)
        y = lib.tensor(exponent, requires_grad=True)
        with np.errstate(all="ignore"):
            out = x**y
            out.backward(lib.tensor(upstream))
        results.append([t.detach().numpy() for t in (out, x.grad, y.grad)])
    for what, ours, theirs in zip(("x ** y", "d/dx", "d/dy"), *results):
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=what)
        assert_close(ours, theirs, what)


@pytest.mark.parametrize(
    "op",
    [
        lambda m, x: x ** m.tensor(3.0),  # a 0-d tensor exponent
        lambda m, x: 2**x,
        lambda m, x: 2.5**x,
        lambda m, x: x**2.5,
        lambda m, x: x**4,
    ],
    ids=["0d_exponent", "int_base", "float_base", "x**2.5", "x**4"],
)
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.__name__)
def test_general_powers_match_pytorch(op: Callable, dtype: Any) -> None:
    base = np.random.default_rng(3).uniform(0.25, 3, 50).astype(dtype)
    out, grad = forward_backward(cr, lambda x: op(cr, x), base)
    expected_out, expected_grad = forward_backward(torch, lambda x: op(torch, x), base)
    assert_close(out, expected_out, "value")
    assert_close(grad, expected_grad, "gradient")


@pytest.mark.parametrize("exponent", [0, 1, 2, 3])
def test_integer_tensors_stay_integer(exponent: int) -> None:
    base = np.array([-5, -2, -1, 0, 1, 2, 7, 1000], dtype=np.int64)
    out = cr.tensor(base) ** exponent
    expected = torch.tensor(base) ** exponent
    assert out.dtype == cr.int64
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_integer_tensors_refuse_negative_integer_powers() -> None:
    with pytest.raises(ValueError, match="negative integer powers"):
        cr.tensor([1, 2, 3]) ** -1


def test_integer_tensor_to_a_float_power_is_float32() -> None:
    out = cr.tensor([1, 2, 3]) ** 2.0
    assert out.dtype == cr.float32
    assert out.tolist() == [1.0, 4.0, 9.0]


def test_square_of_bool_is_int64() -> None:
    out = cr.tensor([True, False]).square()
    assert out.dtype == cr.int64
    assert out.tolist() == [1, 0]


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: d.__name__)
def test_zero_dim_powers(dtype: Any) -> None:
    for exponent in (0, 1, 2, 3, -1, -2, 0.5):
        x = cr.tensor(np.array(1.5, dtype=dtype), requires_grad=True)
        t = torch.tensor(np.array(1.5, dtype=dtype), requires_grad=True)
        out, expected = x**exponent, t**exponent
        out.backward()
        expected.backward()
        assert out.shape == () and out.detach().numpy().dtype == dtype
        assert out.item() == expected.item(), exponent
        assert x.grad.item() == pytest.approx(t.grad.item(), rel=1e-6), exponent


def test_in_place_powers_match_pytorch() -> None:
    base = bases(np.float32)
    for exponent in (2, 3, -1):
        x, t = cr.tensor(base), torch.tensor(base)
        with np.errstate(all="ignore"):
            x.pow_(exponent)
        t.pow_(exponent)
        assert_same_bits(x.numpy(), t.numpy(), f"pow_({exponent})")


def test_powers_without_a_graph() -> None:
    x = cr.tensor([1.5, -2.0], requires_grad=True)
    with cr.no_grad():
        out = x**3
    assert not out.requires_grad
    assert out.tolist() == [3.375, -8.0]
