"""The fast paths of a classifier's training step give the numbers of the plain code they
replace: ReLU's forward (NumPy's maximum, special values included), the SGD update through a
cache-sized block, cross-entropy's one-hot coefficients and its shortcut for class indices,
and the shared vectors of ones. Each is compared bit for bit with the plain NumPy expression
or the general path, and with PyTorch where PyTorch defines the result.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention
from chainrule.ops import classification_losses as losses
from chainrule.ops.broadcast import ones_vector, sum_rows
from chainrule.optim.optimizer import add_scaled_

FLOATS = [np.float16, np.float32, np.float64]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def with_special_values(shape: tuple[int, ...], dtype: type, seed: int = 0) -> np.ndarray:
    """Random values with nan, ±inf, ±0 and tiny numbers sprinkled in."""
    z = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)
    flat = z.reshape(-1)
    for start, value in enumerate([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40]):
        flat[start::9] = value
    return z


# ---- ReLU ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(128, 512), (64, 16, 28, 28), (100, 7), (4, 2)])
def test_relu_forward_is_numpy_maximum_bit_for_bit(shape: tuple[int, ...], dtype: type) -> None:
    z = with_special_values(shape, dtype)
    out = cr.relu(cr.tensor(z)).numpy()
    assert same_bits(out, np.maximum(z, 0))
    assert not np.shares_memory(out, z)
    transposed = with_special_values(shape[::-1], dtype).T
    assert same_bits(cr.relu(cr.tensor(transposed)).numpy(), np.maximum(transposed, 0))


def test_relu_matches_pytorch_forward_and_backward() -> None:
    z = np.random.default_rng(1).standard_normal((128, 512)).astype(np.float32)
    upstream = np.random.default_rng(2).standard_normal((128, 512)).astype(np.float32)
    x = cr.tensor(z, requires_grad=True)
    y = cr.relu(x)
    y.backward(cr.tensor(upstream))
    tx = torch.tensor(z, requires_grad=True)
    ty = torch.relu(tx)
    ty.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


# ---- the SGD update ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(512, 784), (65536,), (65537,), (3, 100_000), (10,), ()])
def test_add_scaled_is_the_plain_expression_bit_for_bit(
    shape: tuple[int, ...], dtype: type
) -> None:
    rng = np.random.default_rng(4)
    target = rng.standard_normal(shape).astype(dtype)
    values = rng.standard_normal(shape).astype(dtype)
    expected = target.copy()
    expected += -0.0137 * values
    add_scaled_(target, -0.0137, values)
    assert same_bits(target, expected)


def test_add_scaled_with_values_that_are_the_target() -> None:
    target = np.random.default_rng(5).standard_normal((512, 784)).astype(np.float32)
    expected = target + 0.5 * target
    add_scaled_(target, 0.5, target)
    assert same_bits(target, expected)


def test_add_scaled_with_overlapping_memory() -> None:
    memory = np.random.default_rng(6).standard_normal(200_000).astype(np.float32)
    expected = memory.copy()
    expected[:150_000] += 0.25 * memory[50_000:].copy()
    add_scaled_(memory[:150_000], 0.25, memory[50_000:])
    assert same_bits(memory, expected)


def test_add_scaled_on_a_transposed_target() -> None:
    rng = np.random.default_rng(7)
    target = rng.standard_normal((784, 512)).astype(np.float32).T
    values = rng.standard_normal((512, 784)).astype(np.float32)
    expected = target.copy()
    expected += 2.0 * values
    add_scaled_(target, 2.0, values)
    assert same_bits(np.ascontiguousarray(target), expected)


@pytest.mark.parametrize(
    "options", [{}, {"momentum": 0.9}, {"momentum": 0.9, "dampening": 0.3}, {"nesterov": True}]
)
def test_sgd_on_a_large_layer_matches_pytorch(options: dict) -> None:
    if options.get("nesterov"):
        options = {"momentum": 0.9, "nesterov": True}
    rng = np.random.default_rng(8)
    weight = rng.standard_normal((512, 784)).astype(np.float32)
    grads = [rng.standard_normal((512, 784)).astype(np.float32) for _ in range(3)]
    p = cr.tensor(weight, requires_grad=True)
    tp = torch.tensor(weight, requires_grad=True)
    optimizer = cr.optim.SGD([p], lr=0.01, **options)
    torch_optimizer = torch.optim.SGD([tp], lr=0.01, **options)
    for grad in grads:
        p.grad = cr.tensor(grad)
        tp.grad = torch.tensor(grad)
        optimizer.step()
        torch_optimizer.step()
    # PyTorch fuses θ − lr·d into one rounding, chainrule rounds lr·d first: an ulp apart.
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(p.grad.numpy(), grads[-1])  # the gradient is left as it was


def test_sgd_step_is_the_plain_update_bit_for_bit() -> None:
    rng = np.random.default_rng(9)
    weight = rng.standard_normal((512, 784)).astype(np.float32)
    grad = rng.standard_normal((512, 784)).astype(np.float32)
    p = cr.tensor(weight, requires_grad=True)
    p.grad = cr.tensor(grad)
    cr.optim.SGD([p], lr=0.03).step()
    assert same_bits(p.detach().numpy(), weight - 0.03 * grad)


# ---- cross-entropy -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("count", [1, 7, 64, 100, 128])
@pytest.mark.parametrize("target_dtype", [np.int64, np.int32, np.uint8])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_one_hot_coefficients_are_the_general_ones(
    count: int, dtype: type, target_dtype: type, reduction: str
) -> None:
    target = np.random.default_rng(count).integers(0, 10, count).astype(target_dtype)
    fast = losses.one_hot_coefficients(target, 10, np.dtype(dtype), reduction)
    # A weight of ones takes the general path and must give the same numbers.
    general = losses.class_coefficients(
        target, 10, np.dtype(dtype), np.ones(10, dtype), -100, 0.0, reduction, "test"
    )
    assert fast is not None and same_bits(fast, general)


@pytest.mark.parametrize("target", [[3, -100], [0, 10], [-1, 2], []])
def test_one_hot_coefficients_leave_other_targets_to_the_general_path(target: list) -> None:
    assert losses.one_hot_coefficients(np.array(target, dtype=np.int64), 10, "f4", "mean") is None


def cross_entropy_both(logits: np.ndarray, target: np.ndarray, **kwargs: object) -> tuple:
    x = cr.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, cr.tensor(target), **kwargs)
    loss.backward()
    tx = torch.tensor(logits, requires_grad=True)
    torch_loss = torch.nn.functional.cross_entropy(tx, torch.tensor(target), **kwargs)
    torch_loss.backward()
    return loss, x.grad, torch_loss, tx.grad


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_of_class_indices_matches_pytorch(reduction: str) -> None:
    rng = np.random.default_rng(10)
    logits = (rng.standard_normal((128, 10)) * 4).astype(np.float32)
    target = rng.integers(0, 10, 128)
    loss, grad, torch_loss, torch_grad = cross_entropy_both(logits, target, reduction=reduction)
    np.testing.assert_allclose(loss.item(), torch_loss.item(), rtol=2e-6)
    np.testing.assert_allclose(grad.numpy(), torch_grad.numpy(), rtol=1e-5, atol=2e-7)


def test_cross_entropy_shortcut_meets_masked_logits_as_pytorch() -> None:
    # −∞ logits of classes that are not the target: 0·(−∞) must not turn the loss into nan.
    rng = np.random.default_rng(11)
    logits = rng.standard_normal((16, 5)).astype(np.float32)
    target = rng.integers(0, 3, 16)
    logits[:, 4] = -np.inf
    loss, grad, torch_loss, torch_grad = cross_entropy_both(logits, target)
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), torch_loss.item(), rtol=2e-6)
    np.testing.assert_allclose(grad.numpy(), torch_grad.numpy(), rtol=1e-5, atol=2e-7)


@pytest.mark.parametrize("target", [[1, -100, 2, 0], [-100, -100, -100, -100]])
def test_cross_entropy_with_ignored_samples_takes_the_general_path(target: list) -> None:
    logits = np.random.default_rng(12).standard_normal((4, 3)).astype(np.float32)
    loss, grad, torch_loss, torch_grad = cross_entropy_both(logits, np.array(target))
    np.testing.assert_allclose(loss.item(), torch_loss.item(), rtol=2e-6, equal_nan=True)
    np.testing.assert_allclose(grad.numpy(), torch_grad.numpy(), rtol=1e-5, atol=2e-7)


def test_cross_entropy_shortcut_still_refuses_a_class_out_of_range() -> None:
    x = cr.zeros(4, 3, requires_grad=True)
    with pytest.raises(ValueError, match="target class 3 is out of range for 3 classes"):
        F.cross_entropy(x, cr.tensor([0, 1, 2, 3]))


# ---- vectors of ones ---------------------------------------------------------------------------


def test_ones_vector_is_shared_and_read_only() -> None:
    ones = ones_vector(128, np.dtype(np.float32))
    assert ones is ones_vector(128, np.dtype(np.float32))
    assert ones.dtype == np.float32 and ones.shape == (128,) and (ones == 1).all()
    with pytest.raises(ValueError, match="read-only"):
        ones[0] = 2
    assert ones_vector(128, np.dtype(np.float64)).dtype == np.float64


def test_sum_rows_of_a_batch() -> None:
    rows = np.random.default_rng(13).standard_normal((128, 10)).astype(np.float32)
    np.testing.assert_allclose(sum_rows(rows), rows.sum(axis=0), rtol=1e-5, atol=1e-6)
    assert sum_rows(rows).flags.writeable
