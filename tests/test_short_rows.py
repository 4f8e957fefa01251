"""Reductions along short rows (chainrule/ops/short_rows.py) and the operations that use them.

The maximum through the transposed copy must be NumPy's row maximum exactly (nan, ±inf and all);
the sums through BLAS must agree with NumPy's to rounding. Softmax, log-softmax and
cross-entropy over batches in and out of the fast region are compared with PyTorch and checked
by finite differences, first and second order, in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - the name PyTorch users write
from chainrule.ops import short_rows

SHAPES = [(32, 2), (64, 10), (1024, 10), (33, 24), (31, 10), (64, 25), (4, 3), (32, 1), (8, 100)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_row_max_is_numpys_maximum_bit_for_bit(shape: tuple[int, int], dtype: type) -> None:
    rng = np.random.default_rng(sum(shape))
    rows = (rng.standard_normal(shape) * 50).astype(dtype)
    rows[0, 0] = np.nan  # nan wins its row, as in NumPy's maximum
    rows[1, :] = -np.inf
    rows[2, -1] = np.inf
    rows[3, :] = rows[3, 0]  # a row of one value
    got = short_rows.row_max(rows)
    want = rows.max(axis=1, keepdims=True)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[0, 0]) and got[1, 0] == -np.inf and got[2, 0] == np.inf


def test_row_max_takes_the_transposed_copy_only_in_its_region(monkeypatch) -> None:
    """The region's edges, seen through the copy NumPy makes: 32 rows and up, 2 to 24 classes,
    float32 and float64 NumPy arrays only."""
    copies = []
    real = np.ascontiguousarray

    def counted(array):
        copies.append(array.shape)
        return real(array)

    monkeypatch.setattr(short_rows.numpy, "ascontiguousarray", counted)
    rng = np.random.default_rng(0)
    for shape, dtype, taken in [
        ((32, 10), np.float32, True),
        ((31, 10), np.float32, False),
        ((64, 24), np.float64, True),
        ((64, 25), np.float32, False),
        ((64, 1), np.float32, False),
        ((64, 10), np.float16, False),
        ((64, 10), np.int32, False),
    ]:
        copies.clear()
        rows = rng.standard_normal(shape).astype(dtype)
        np.testing.assert_array_equal(short_rows.row_max(rows), rows.max(axis=1, keepdims=True))
        assert bool(copies) is taken, (shape, dtype)


@pytest.mark.parametrize("shape", [(1024, 10), (16, 3), (4, 2, 8), (64, 1000)])
def test_sum_along_agrees_with_numpys_sum(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    z = rng.standard_normal(shape)
    for dtype in (np.float32, np.float64):
        values = z.astype(dtype)
        got = short_rows.sum_along(values, values.ndim - 1)
        want = values.sum(axis=-1, keepdims=True)
        assert got.shape == want.shape and got.dtype == want.dtype
        tolerance = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * shape[-1])


def test_max_and_sum_along_other_axes_and_layouts_are_numpys() -> None:
    rng = np.random.default_rng(2)
    z = rng.standard_normal((40, 6, 5)).astype(np.float32)
    for values, dim in [(z, 1), (z, 0), (z.transpose(0, 2, 1), 2), (z[:, :, ::2], -1)]:
        np.testing.assert_array_equal(
            short_rows.max_along(values, dim), values.max(axis=dim, keepdims=True)
        )
        np.testing.assert_array_equal(
            short_rows.sum_along(values, dim), np.add.reduce(values, axis=dim, keepdims=True)
        )
    empty = np.zeros((3, 0), dtype=np.float32)
    assert short_rows.max_along(empty, 1).tolist() == [[-np.inf]] * 3  # max over nothing
    assert short_rows.sum_along(empty, 1).tolist() == [[0.0]] * 3
    assert short_rows.max_along(np.zeros((0, 10), np.float32), 1).shape == (0, 1)


def _pair(array: np.ndarray, requires_grad: bool = True) -> tuple:
    return (
        cr.tensor(array, requires_grad=requires_grad),
        torch.tensor(array, requires_grad=requires_grad),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1024, 10), (64, 3), (48, 24), (40, 7, 5), (8, 10)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmaxes_match_pytorch(name: str, shape: tuple[int, ...], dtype: type) -> None:
    rng = np.random.default_rng(3)
    z = (rng.standard_normal(shape) * 4).astype(dtype)
    z[1, ..., 0] = -np.inf  # a masked logit
    z[2] += 80.0  # large logits: the shift keeps exp finite
    ours, theirs = _pair(z)
    upstream = rng.standard_normal(shape).astype(dtype)
    out = getattr(F, name)(ours, dim=-1)
    expected = getattr(torch.nn.functional, name)(theirs, dim=-1)
    tolerance = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(
        out.detach().numpy(), expected.detach().numpy(), rtol=tolerance, atol=tolerance
    )
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(
        ours.grad.numpy(), theirs.grad.numpy(), rtol=10 * tolerance, atol=10 * tolerance
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch, classes", [(1024, 10), (32, 2), (96, 24), (16, 10)])
def test_cross_entropy_matches_pytorch(batch: int, classes: int, dtype: type) -> None:
    rng = np.random.default_rng(4)
    z = (rng.standard_normal((batch, classes)) * 3).astype(dtype)
    target = rng.integers(0, classes, batch)
    ours, theirs = _pair(z)
    loss = F.cross_entropy(ours, cr.tensor(target))
    expected = torch.nn.functional.cross_entropy(theirs, torch.tensor(target))
    tolerance = 2e-6 if dtype == np.float32 else 1e-13
    assert loss.item() == pytest.approx(expected.item(), rel=tolerance)
    loss.backward()
    expected.backward()
    np.testing.assert_allclose(
        ours.grad.numpy(), theirs.grad.numpy(), rtol=10 * tolerance, atol=tolerance / batch
    )


@pytest.mark.parametrize(
    "fn",
    [
        lambda z: F.softmax(z, dim=-1),
        lambda z: F.log_softmax(z, dim=1),
        lambda z: F.cross_entropy(z, cr.tensor(np.arange(40) % 5)),
    ],
    ids=["softmax", "log_softmax", "cross_entropy"],
)
def test_first_and_second_derivatives_in_the_fast_region(fn) -> None:
    """40 rows of 5 classes: the transposed maximum and the BLAS sums, checked by finite
    differences, and again under a backward that records a graph."""
    z = cr.tensor(np.random.default_rng(5).standard_normal((40, 5)), requires_grad=True)
    assert cr.autograd.gradcheck(fn, (z,)) is True
    assert cr.autograd.gradgradcheck(fn, (z,)) is True


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_of_class_indices_without_the_one_hot_matrix(reduction, dtype) -> None:
    """Every target a class: the loss from the N picked entries and the gradient softmax·Σa − a
    without the (N, C) matrix a. The same values as the general path (through weights of 1,
    which builds a) and PyTorch's, masked logits (−inf) included."""
    rng = np.random.default_rng(6)
    z = (rng.standard_normal((256, 1000)) * 3).astype(dtype)
    target = rng.integers(0, 1000, 256)
    z[0, (target[0] + 1) % 1000] = -np.inf  # a masked class that is not the target
    upstream = rng.standard_normal(256).astype(dtype) if reduction == "none" else None
    results = []
    for weight in (None, cr.ones(1000, dtype=getattr(cr, dtype.__name__))):
        x = cr.tensor(z, requires_grad=True)
        loss = F.cross_entropy(x, cr.tensor(target), weight=weight, reduction=reduction)
        loss.backward(None if upstream is None else cr.tensor(upstream))
        results.append((loss.detach().numpy(), x.grad.numpy()))
    x_torch = torch.tensor(z, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(x_torch, torch.tensor(target), reduction=reduction)
    expected.backward(None if upstream is None else torch.tensor(upstream))
    tolerance = 2e-6 if dtype == np.float32 else 1e-13
    for loss, grad in results:
        np.testing.assert_allclose(loss, expected.detach().numpy(), rtol=tolerance)
        np.testing.assert_allclose(grad, x_torch.grad.numpy(), rtol=tolerance, atol=tolerance)
        assert grad[0, (target[0] + 1) % 1000] == 0  # the masked class: softmax 0
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=tolerance, atol=tolerance)


def test_cross_entropy_where_the_target_is_masked_is_infinite_as_pytorchs() -> None:
    z = np.zeros((32, 5), dtype=np.float32)
    z[3, 2] = -np.inf
    target = np.full(32, 2)
    ours = F.cross_entropy(cr.tensor(z), cr.tensor(target)).item()
    theirs = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(target)).item()
    assert ours == theirs == np.inf


def test_cross_entropy_second_derivative_through_the_one_hot_path() -> None:
    z = cr.tensor(np.random.default_rng(7).standard_normal((40, 5)), requires_grad=True)
    target = cr.tensor(np.arange(40) % 5)
    (grad,) = cr.autograd.grad(F.cross_entropy(z, target), z, create_graph=True)
    z_torch = torch.tensor(z.detach().numpy(), requires_grad=True)
    loss = torch.nn.functional.cross_entropy(z_torch, torch.tensor(np.arange(40) % 5))
    (grad_torch,) = torch.autograd.grad(loss, z_torch, create_graph=True)
    (grad**3).sum().backward()
    (grad_torch**3).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), z_torch.grad.numpy(), rtol=1e-10, atol=1e-14)
