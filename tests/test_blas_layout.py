"""chainrule.blas_layout: a small layer's x·Wᵀ with x in column order on SkylakeX kernels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

import chainrule as cr
from chainrule import blas_layout, blas_threads

OPENBLAS = [pool for pool in threadpool_info() if pool["internal_api"] == "openblas"]


@pytest.fixture
def on_kernels(monkeypatch):
    """Pretend NumPy's OpenBLAS runs the named kernels (the answer is looked up once)."""

    def use(name: str | None) -> None:
        monkeypatch.setattr(blas_threads, "_core", name)
        monkeypatch.setattr(blas_layout, "_copying", blas_layout._UNSET)

    yield use
    monkeypatch.setattr(blas_layout, "_copying", blas_layout._UNSET)


def test_the_kernels_are_the_ones_threadpoolctl_reads_from_openblas() -> None:
    name = blas_threads.core_name()
    if OPENBLAS:
        assert name is not None
        assert name.lower() == OPENBLAS[0]["architecture"].lower()
    else:
        assert name is None


@pytest.mark.parametrize(
    ("shape", "copies"),
    [
        ((32, 64, 128), True),  # the benchmark's clearest win: 8.2 against 5.2 µs
        ((64, 64, 128), True),  # the digits network's first layer
        ((16, 64, 128), True),
        ((16, 64, 64), False),  # under 32 rows, 64 outputs lost to the copy
        ((64, 16, 256), False),  # too few inputs
        ((64, 128, 128), False),  # 2²⁰ multiply-adds: past the bound
        ((128, 64, 128), False),  # 128 rows: the plain product was as fast or faster
        ((8, 64, 128), False),
        ((64, 64, 32), False),
    ],
)
def test_the_rule_takes_the_copy_only_for_the_measured_shapes(shape, copies) -> None:
    assert blas_layout.copies_input(*shape) is copies


@pytest.mark.parametrize("core", ["SkylakeX", "Haswell", "Zen", None])
@pytest.mark.parametrize("shape", [(32, 64, 128), (128, 64, 128), (4, 2, 2)])
def test_the_product_is_x_times_w_transposed_on_every_kernel(on_kernels, core, shape) -> None:
    on_kernels(core)
    batch, inputs, outputs = shape
    rng = np.random.default_rng(batch + inputs + outputs)
    x = rng.standard_normal((batch, inputs)).astype(np.float32)
    w = rng.standard_normal((outputs, inputs)).astype(np.float32)
    result = blas_layout.transposed_product(x, w)
    copied = core == "SkylakeX" and blas_layout.copies_input(*shape)
    expected = blas_threads.dot(np.asfortranarray(x) if copied else x, w.T)
    np.testing.assert_array_equal(result, expected)  # the route the rule names, bit for bit
    assert result.shape == (batch, outputs) and result.dtype == np.float32
    assert result.flags.c_contiguous
    np.testing.assert_allclose(result, x.astype(np.float64) @ w.T, rtol=1e-5, atol=1e-5)


def test_other_kernels_and_float64_never_copy(on_kernels, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("x was copied")

    x32 = np.ones((32, 64), np.float32)
    w32 = np.ones((128, 64), np.float32)
    monkeypatch.setattr(blas_layout.numpy, "asfortranarray", refuse)
    on_kernels("Zen")
    assert blas_layout.transposed_product(x32, w32)[0, 0] == 64
    on_kernels("SkylakeX")
    x64, w64 = x32.astype(np.float64), w32.astype(np.float64)
    assert blas_layout.transposed_product(x64, w64)[0, 0] == 64
    with pytest.raises(AssertionError, match="x was copied"):
        blas_layout.transposed_product(x32, w32)


def test_a_linear_layer_in_the_copied_range_matches_pytorch(on_kernels) -> None:
    on_kernels("SkylakeX")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((32, 64)).astype(np.float32)
    w = rng.standard_normal((128, 64)).astype(np.float32) / 8
    b = rng.standard_normal(128).astype(np.float32)
    layer = cr.nn.Linear(64, 128)
    reference = torch.nn.Linear(64, 128)
    with cr.no_grad(), torch.no_grad():
        layer.weight.copy_(cr.from_numpy(w))
        layer.bias.copy_(cr.from_numpy(b))
        reference.weight.copy_(torch.from_numpy(w))
        reference.bias.copy_(torch.from_numpy(b))
    ours, theirs = cr.from_numpy(x).requires_grad_(), torch.from_numpy(x).requires_grad_()
    out, expected = layer(ours), reference(theirs)
    np.testing.assert_allclose(
        out.detach().numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-5
    )
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    for mine, torchs in [
        (ours, theirs),
        (layer.weight, reference.weight),
        (layer.bias, reference.bias),
    ]:
        np.testing.assert_allclose(mine.grad.numpy(), torchs.grad.numpy(), rtol=1e-4, atol=1e-4)
