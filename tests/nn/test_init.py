"""Initialisers: the statistics of each on a large tensor match its formula; gains match
PyTorch; orthogonal_ is orthogonal; fan-based initialisers reject 1-D tensors.

Tolerances: with n draws the sample mean is within a few σ/√n of the true mean and the sample
standard deviation within a few σ/√(2n); n is at least 60 000 below, so 2% on the standard
deviation and a few thousandths of σ on the mean are comfortably (> 5σ) wide.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.nn import init


def values(t: Any) -> np.ndarray:
    return np.asarray(t.detach().data, dtype=np.float64)


def assert_uniform(t: Any, low: float, high: float) -> None:
    v = values(t)
    assert v.min() >= low and v.max() <= high, "outside the interval"
    width = high - low
    assert v.min() < low + 0.001 * width and v.max() > high - 0.001 * width, "too narrow"
    assert abs(v.mean() - (low + high) / 2) < 0.01 * width
    assert abs(v.std() / (width / math.sqrt(12)) - 1) < 0.02


def assert_normal(t: Any, mean: float, std: float) -> None:
    v = values(t)
    assert abs(v.mean() - mean) < 0.02 * std
    assert abs(v.std() / std - 1) < 0.02
    # Gaussian, not merely the right two moments: about 68.3% within one σ.
    assert abs(np.mean(np.abs(v - mean) < std) - 0.6827) < 0.01


def test_uniform_and_normal() -> None:
    t = cr.empty(300, 200)
    assert init.uniform_(t, -0.5, 2.0) is t
    assert_uniform(t, -0.5, 2.0)
    assert_uniform(init.uniform_(cr.empty(300, 200)), 0.0, 1.0)
    assert_normal(init.normal_(cr.empty(300, 200), mean=1.5, std=0.3), 1.5, 0.3)
    assert_normal(init.normal_(cr.empty(60000)), 0.0, 1.0)


def test_constants_keep_the_dtype_and_the_object() -> None:
    t = cr.empty(3, 4, dtype=cr.float64)
    assert init.constant_(t, 0.25) is t and t.dtype == cr.float64
    np.testing.assert_array_equal(values(t), np.full((3, 4), 0.25))
    np.testing.assert_array_equal(values(init.zeros_(t)), np.zeros((3, 4)))
    np.testing.assert_array_equal(values(init.ones_(t)), np.ones((3, 4)))
    assert init.normal_(t).dtype == cr.float64


def test_initialising_a_parameter_keeps_it_a_trainable_leaf() -> None:
    p = cr.nn.Parameter(cr.zeros(4, 5))
    for fill in (init.xavier_uniform_, init.kaiming_normal_, init.orthogonal_, init.ones_):
        assert fill(p) is p
        assert p.requires_grad and p.is_leaf and p.grad_fn is None


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier(gain: float) -> None:
    fan_out, fan_in = 300, 200
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    assert_uniform(init.xavier_uniform_(cr.empty(fan_out, fan_in), gain=gain), -bound, bound)
    std = gain * math.sqrt(2 / (fan_in + fan_out))
    assert_normal(init.xavier_normal_(cr.empty(fan_out, fan_in), gain=gain), 0.0, std)


@pytest.mark.parametrize(
    ("a", "nonlinearity", "gain"),
    [
        (0.0, "leaky_relu", math.sqrt(2)),  # the default: a ReLU
        (math.sqrt(5), "leaky_relu", math.sqrt(1 / 3)),  # Linear's default
        (0.0, "relu", math.sqrt(2)),
        (0.0, "linear", 1.0),
        (0.0, "tanh", 5 / 3),
    ],
)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming(mode: str, a: float, nonlinearity: str, gain: float) -> None:
    fan_out, fan_in = 250, 400
    fan = fan_in if mode == "fan_in" else fan_out
    bound = gain * math.sqrt(3 / fan)
    t = init.kaiming_uniform_(cr.empty(fan_out, fan_in), a=a, mode=mode, nonlinearity=nonlinearity)
    assert_uniform(t, -bound, bound)
    t = init.kaiming_normal_(cr.empty(fan_out, fan_in), a=a, mode=mode, nonlinearity=nonlinearity)
    assert_normal(t, 0.0, gain / math.sqrt(fan))


def test_fans_of_a_convolution_weight_include_the_receptive_field() -> None:
    # (out_channels, in_channels, kh, kw): fan_in = 16·3·3, fan_out = 64·3·3.
    t = init.kaiming_uniform_(cr.empty(64, 16, 3, 3), nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / (16 * 9))
    assert_uniform(t, -bound, bound)
    t = init.xavier_normal_(cr.empty(64, 16, 3, 3))
    assert_normal(t, 0.0, math.sqrt(2 / (16 * 9 + 64 * 9)))


def test_initialisers_are_reproducible_under_manual_seed() -> None:
    for fill in (init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_normal_):
        cr.manual_seed(11)
        first = values(fill(cr.empty(5, 4)))
        cr.manual_seed(11)
        np.testing.assert_array_equal(values(fill(cr.empty(5, 4))), first)
        assert not np.array_equal(values(fill(cr.empty(5, 4))), first)


NONLINEARITIES = [
    ("linear", None),
    ("conv1d", None),
    ("conv2d", None),
    ("conv3d", None),
    ("conv_transpose1d", None),
    ("conv_transpose2d", None),
    ("conv_transpose3d", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0.2),
    ("leaky_relu", 0),
    ("selu", None),
]


@pytest.mark.parametrize(("nonlinearity", "param"), NONLINEARITIES)
def test_calculate_gain_matches_torch(nonlinearity: str, param: Any) -> None:
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


def test_calculate_gain_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="softplus"):
        init.calculate_gain("softplus")


@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (5, 5), (4, 2, 3)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal(shape: tuple, gain: float) -> None:
    t = init.orthogonal_(cr.empty(*shape, dtype=cr.float64), gain=gain)
    assert t.shape == shape
    w = values(t).reshape(shape[0], -1)
    rows, cols = w.shape
    if rows <= cols:
        np.testing.assert_allclose(w @ w.T, gain**2 * np.eye(rows), atol=1e-12)
    else:
        np.testing.assert_allclose(w.T @ w, gain**2 * np.eye(cols), atol=1e-12)


def test_orthogonal_draws_differ_and_reproduce() -> None:
    cr.manual_seed(2)
    first = values(init.orthogonal_(cr.empty(4, 4)))
    second = values(init.orthogonal_(cr.empty(4, 4)))
    cr.manual_seed(2)
    np.testing.assert_array_equal(values(init.orthogonal_(cr.empty(4, 4))), first)
    assert not np.allclose(first, second)


@pytest.mark.parametrize(
    "fill",
    [
        init.xavier_uniform_,
        init.xavier_normal_,
        init.kaiming_uniform_,
        init.kaiming_normal_,
        init.orthogonal_,
    ],
)
def test_fan_based_initialisers_reject_1d_tensors(fill: Any) -> None:
    with pytest.raises(ValueError, match=r"2 dimensions.*\(5,\)"):
        fill(cr.empty(5))


def test_kaiming_rejects_an_unknown_mode_and_skips_empty_tensors() -> None:
    with pytest.raises(ValueError, match="fan_avg"):
        init.kaiming_uniform_(cr.empty(3, 4), mode="fan_avg")
    for fill in (init.kaiming_uniform_, init.kaiming_normal_):
        empty = cr.empty(3, 0)
        assert fill(empty) is empty and empty.shape == (3, 0)
