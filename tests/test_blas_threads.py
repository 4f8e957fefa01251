"""chainrule.blas_threads: small products on one BLAS thread, the process's count restored."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import chainrule as cr
from chainrule import blas_threads

OPENBLAS = any(pool["internal_api"] == "openblas" for pool in threadpool_info())

# (m, k, n): below the band, inside it (the digits layer's 64·64·128), at its top, above it.
SHAPES = [(4, 2, 2), (64, 64, 128), (64, 128, 128), (128, 784, 512)]


def test_the_controls_are_found_exactly_where_numpy_runs_openblas() -> None:
    found = blas_threads.controls()
    assert (found is not None) == OPENBLAS
    if found is not None:
        get, _ = found
        openblas = [pool for pool in threadpool_info() if pool["internal_api"] == "openblas"]
        assert get() == openblas[0]["num_threads"]


@pytest.mark.parametrize(("m", "k", "n"), SHAPES)
def test_the_product_is_numpys_and_runs_on_one_thread_inside_the_band(m, k, n) -> None:
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k)).astype(np.float32).T  # a transposed view, as Linear's
    with threadpool_limits(1, user_api="blas"):
        one = np.dot(a, b)
    result = blas_threads.dot(a, b)
    inside = blas_threads.one_thread(m * k * n)
    assert inside == (m * k * n in (64 * 64 * 128, 64 * 128 * 128))
    if inside:
        np.testing.assert_array_equal(result, one)
    np.testing.assert_allclose(result, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
    out = np.empty((m, n), dtype=np.float32)
    assert blas_threads.dot(a, b, out) is out
    np.testing.assert_array_equal(out, result)


@pytest.mark.skipif(not OPENBLAS, reason="NumPy's BLAS is not OpenBLAS here")
def test_the_thread_count_is_one_during_the_product_and_restored_after(monkeypatch) -> None:
    get, _ = blas_threads.controls()
    seen = []
    original = np.dot

    def watching(*args):
        seen.append(get())
        return original(*args)

    monkeypatch.setattr(blas_threads.numpy, "dot", watching)
    a = np.ones((64, 64), dtype=np.float32)
    b = np.ones((64, 128), dtype=np.float32)
    with threadpool_limits(2, user_api="blas"):
        blas_threads.dot(a, b)
        assert seen == [1]
        assert get() == 2
    # A limit the user set stays: one thread already, nothing changes it.
    with threadpool_limits(1, user_api="blas"):
        blas_threads.dot(a, b)
        assert get() == 1
    # Outside the band the product keeps every thread.
    seen.clear()
    with threadpool_limits(2, user_api="blas"):
        big = np.ones((256, 256), dtype=np.float32)
        blas_threads.dot(big, big)
        assert seen == [2]


@pytest.mark.skipif(not OPENBLAS, reason="NumPy's BLAS is not OpenBLAS here")
def test_the_count_is_restored_when_the_product_fails() -> None:
    get, _ = blas_threads.controls()
    a = np.ones((64, 64), dtype=np.float32)
    b = np.ones((64, 128), dtype=np.float32)
    wrong = np.empty((3, 3), dtype=np.float32)
    with threadpool_limits(2, user_api="blas"):
        with pytest.raises(ValueError):
            blas_threads.dot(a, b, wrong)
        assert get() == 2


def test_a_layer_in_the_band_gives_the_one_thread_numbers_forward_and_backward() -> None:
    cr.manual_seed(0)
    layer = cr.nn.Linear(64, 128)
    x = cr.randn(64, 64, requires_grad=True)
    y = layer(x)
    grad = np.random.default_rng(1).standard_normal((64, 128)).astype(np.float32)
    y.backward(cr.from_numpy(grad))
    w, b, xa = layer.weight.detach().numpy(), layer.bias.detach().numpy(), x.detach().numpy()
    with threadpool_limits(1, user_api="blas"):
        expected_y = np.dot(xa, w.T) + b
        expected_w = np.dot(grad.T, xa)
        expected_x = np.dot(grad, w)
    np.testing.assert_array_equal(y.detach().numpy(), expected_y)
    np.testing.assert_array_equal(layer.weight.grad.numpy(), expected_w)
    np.testing.assert_array_equal(x.grad.numpy(), expected_x)


def test_matmul_of_two_matrices_in_the_band_gives_the_one_thread_numbers() -> None:
    rng = np.random.default_rng(2)
    a = rng.standard_normal((64, 64)).astype(np.float32)
    b = rng.standard_normal((64, 128)).astype(np.float32)
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    out = ta @ tb
    grad = rng.standard_normal((64, 128)).astype(np.float32)
    out.backward(cr.from_numpy(grad))
    with threadpool_limits(1, user_api="blas"):
        expected = np.dot(a, b), np.dot(grad, b.T), np.dot(a.T, grad)
    np.testing.assert_array_equal(out.detach().numpy(), expected[0])
    np.testing.assert_array_equal(ta.grad.numpy(), expected[1])
    np.testing.assert_array_equal(tb.grad.numpy(), expected[2])
