"""Batch norm over arrays in every memory layout (chainrule/ops/channel_rows.py).

ChannelRows sees x (N, C, *) as (outer, C, inner) in the order x lies in memory; batch norm's
statistics, output and gradients must not depend on that order, and its output and gradient
keep the input's layout. Compared with PyTorch on the same values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.ops.channel_rows import ChannelRows
from chainrule.ops.norm import batch_statistics


def _layouts(values: np.ndarray) -> dict[str, np.ndarray]:
    """The same (N, C, H, W) values stored in several orders (each a view with that shape)."""
    return {
        "nchw": values.copy(),
        "batch-last": np.ascontiguousarray(values.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2),
        "channels-last": np.ascontiguousarray(values.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
        "fortran": np.asfortranarray(values),
        "sliced": np.repeat(values, 2, axis=3)[..., ::2],  # not contiguous in any order
    }


def test_rows_are_views_in_memory_order_and_restore_keeps_the_layout() -> None:
    values = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    expected_rows = {"nchw": (2, 3, 20), "batch-last": (1, 3, 40), "channels-last": (40, 3)}
    for name, x in _layouts(values).items():
        view = ChannelRows(x)
        if name in expected_rows:
            assert view.rows.shape == expected_rows[name]
            assert np.shares_memory(view.rows, x)  # a view, no copy
        back = view.restore(view.rows.copy())
        np.testing.assert_array_equal(back, values)
        if name != "sliced":
            assert back.strides == x.strides, name
        sums = view.sum(view.rows)
        np.testing.assert_allclose(sums, values.sum(axis=(0, 2, 3)), rtol=1e-6)
    matrix = np.asfortranarray(np.arange(12.0).reshape(4, 3))  # (N, C) stored by columns
    view = ChannelRows(matrix)
    assert view.rows.shape == (1, 3, 4)
    np.testing.assert_array_equal(view.sum(view.rows), matrix.sum(axis=0))


def test_take_reads_an_array_of_another_layout_as_rows_like_x() -> None:
    values = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    layouts = _layouts(values)
    view = ChannelRows(layouts["batch-last"])
    for x in layouts.values():
        rows = view.take(x)
        assert rows.shape == view.rows.shape
        np.testing.assert_array_equal(view.restore(np.ascontiguousarray(rows)), values)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_statistics_in_every_layout(dtype: type) -> None:
    rng = np.random.default_rng(1)
    values = (rng.standard_normal((8, 4, 6, 5)) * 3 + 100).astype(dtype)  # a large mean
    want_mean = values.astype(np.float64).mean(axis=(0, 2, 3))
    want_var = values.astype(np.float64).var(axis=(0, 2, 3))
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for name, x in _layouts(values).items():
        mean, var = batch_statistics(x)
        np.testing.assert_allclose(mean, want_mean, rtol=tolerance, err_msg=name)
        np.testing.assert_allclose(var, want_var, rtol=100 * tolerance, err_msg=name)


@pytest.mark.parametrize("layout", ["nchw", "batch-last", "channels-last", "fortran", "sliced"])
@pytest.mark.parametrize("grad_layout", ["nchw", "batch-last"])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_2d_matches_pytorch_in_every_layout(
    layout: str, grad_layout: str, training: bool
) -> None:
    rng = np.random.default_rng(2)
    values = (rng.standard_normal((16, 6, 7, 7)) * 2 + 0.5).astype(np.float32)
    upstream = _layouts(rng.standard_normal(values.shape).astype(np.float32))[grad_layout]
    weight = rng.uniform(0.5, 1.5, 6).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    ours = cr.nn.BatchNorm2d(6)
    theirs = torch.nn.BatchNorm2d(6)
    ours.load_state_dict(
        {**ours.state_dict(), "weight": cr.tensor(weight), "bias": cr.tensor(bias)}
    )
    theirs.load_state_dict(
        {**theirs.state_dict(), "weight": torch.tensor(weight), "bias": torch.tensor(bias)}
    )
    ours.train(training)
    theirs.train(training)
    x = cr.tensor(_layouts(values)[layout], requires_grad=True)
    x_theirs = torch.tensor(values, requires_grad=True)
    y = ours(x)
    y_theirs = theirs(x_theirs)
    np.testing.assert_allclose(y.detach().numpy(), y_theirs.detach().numpy(), atol=2e-5)
    if layout != "sliced":
        assert y.array.strides == x.array.strides  # the output keeps the input's layout
    y.backward(cr.tensor(upstream))
    y_theirs.backward(torch.tensor(np.ascontiguousarray(upstream)))
    np.testing.assert_allclose(x.grad.numpy(), x_theirs.grad.numpy(), atol=2e-5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-4)
    np.testing.assert_allclose(
        ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("shape", [(32, 5), (6, 4, 9), (2, 3, 4, 3, 2)])
def test_batch_norm_gradcheck_in_float64(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(3)
    channels = shape[1]
    x = cr.tensor(rng.standard_normal(shape), requires_grad=True)
    weight = cr.tensor(rng.uniform(0.5, 1.5, channels), requires_grad=True)
    bias = cr.tensor(rng.standard_normal(channels), requires_grad=True)

    def fn(x, weight, bias):
        return cr.nn.functional.batch_norm(x, None, None, weight, bias, training=True)

    assert cr.autograd.gradcheck(fn, (x, weight, bias)) is True


@pytest.mark.parametrize("shape", [(1, 1, 0), (2, 3, 0, 4), (0, 2, 3)])
def test_batch_norm_of_empty_maps_has_pytorchs_parameter_gradients(shape: tuple) -> None:
    # Found by the gradient fuzzer (seed 1227): the channel sums of an (N, C, 0) input kept
    # the empty axis, and the bias gradient came out (1, 0) for a (1,) bias.
    def run(m: Any) -> list[np.ndarray]:
        x = m.zeros(shape, dtype=m.float64, requires_grad=True)
        weight = m.full((shape[1],), 1.5, dtype=m.float64, requires_grad=True)
        bias = m.full((shape[1],), 0.5, dtype=m.float64, requires_grad=True)
        out = m.nn.functional.batch_norm(x, None, None, weight, bias, training=True)
        out.sum().backward()
        return [x.grad.numpy(), weight.grad.numpy(), bias.grad.numpy()]

    for actual, expected in zip(run(cr), run(torch)):
        assert actual.shape == expected.shape
        np.testing.assert_array_equal(actual, expected)
