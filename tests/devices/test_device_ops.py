"""Every case of the op table (tests/op_cases.py) run on "cuda" against the same case on the CPU.

The CPU results are proven against PyTorch and finite differences in tests/test_ops.py; here
the forward values, dtypes and the gradients computed on the device must equal them, the
results must stay on the device, and no NumPy array may leak into device code (the emulator
raises where CuPy would).
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from op_cases import CASES, Case

DIFFERENTIABLE = [c for c in CASES if c.differentiable]
NOT_DIFFERENTIABLE = [c for c in CASES if not c.differentiable]


def _rng(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def _join(out: Any) -> Any:
    if isinstance(out, (tuple, list)):
        return cr.cat([piece.reshape(-1) for piece in out])
    return out


def _host(t: cr.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _run(case: Case, arrays: list, upstream: Any, grad: bool) -> tuple:
    xs = [cr.tensor(a, requires_grad=grad) for a in arrays]
    out = _join(case.cr(*xs))
    grads = []
    if grad:
        out.backward(cr.tensor(upstream))
        grads = [x.grad for x in xs]
    return out, grads, xs


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=lambda c: c.id)
def test_forward_backward_on_cuda_equal_the_cpu(case: Case, on_cuda: None) -> None:
    rng = _rng("device", case.id)
    arrays = case.inputs(rng)
    cr.set_default_device("cpu")
    expected, expected_grads, _ = _run(case, arrays, None, grad=False)
    upstream = rng.standard_normal(expected.shape).astype(np.float64)
    expected, expected_grads, _ = _run(case, arrays, upstream, grad=True)
    cr.set_default_device("cuda")
    out, grads, _xs = _run(case, arrays, upstream, grad=True)
    assert out.device == "cuda:0", f"{case.id}: the result is on {out.device}"
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(_host(out), _host(expected), rtol=1e-12, atol=1e-12)
    for i, (g, e) in enumerate(zip(grads, expected_grads)):
        assert (g is None) == (e is None), f"{case.id}: gradient {i}"
        if g is not None:
            assert g.device == "cuda:0", f"{case.id}: gradient {i} is on {g.device}"
            np.testing.assert_allclose(_host(g), _host(e), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", NOT_DIFFERENTIABLE, ids=lambda c: c.id)
def test_indices_and_comparisons_on_cuda_equal_the_cpu(case: Case, on_cuda: None) -> None:
    arrays = case.inputs(_rng("device-nograd", case.id))
    cr.set_default_device("cpu")
    expected = case.cr(*[cr.tensor(a) for a in arrays])
    cr.set_default_device("cuda")
    out = case.cr(*[cr.tensor(a) for a in arrays])
    assert out.device == "cuda:0"
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(_host(out), _host(expected))


# ---- tensors on two devices ---------------------------------------------------------------------

# PyTorch's words for tensors on two devices in one operation (its RuntimeError says this, then
# names the two devices); chainrule's message starts with the operation's name.
TWO_DEVICES = "Expected all tensors to be on the same device, but found at least two devices"

MIXED = {
    "add": lambda gpu, cpu: gpu + cpu,
    "add_reflected": lambda gpu, cpu: cpu + gpu,
    "matmul": lambda gpu, cpu: gpu @ cpu.T,
    "cat": lambda gpu, cpu: cr.cat([gpu, cpu]),
    "where_branch": lambda gpu, cpu: cr.where(gpu > 0, gpu, cpu),
    "where_condition": lambda gpu, cpu: cr.where(cpu > 0, gpu, gpu),
    "lt": lambda gpu, cpu: gpu < cpu,
    "ge_reflected": lambda gpu, cpu: cpu >= gpu,
    "eq": lambda gpu, cpu: cr.eq(gpu, cpu),
}


@pytest.mark.parametrize("op", MIXED.values(), ids=MIXED.keys())
def test_a_cuda_and_a_cpu_tensor_in_one_operation_raise_pytorchs_error(
    op: Any, cuda_device: str
) -> None:
    rng = _rng("mixed")
    gpu = cr.tensor(rng.standard_normal((2, 3)), device="cuda", requires_grad=True)
    cpu = cr.tensor(rng.standard_normal((2, 3)))
    with pytest.raises(RuntimeError, match=TWO_DEVICES) as raised:
        op(gpu, cpu)
    assert "cuda:0 and cpu!" in str(raised.value)


ZERO_D = {
    "add": (lambda t, s: t + s, lambda a, s: a + s),
    "mul_reflected": (lambda t, s: s * t, lambda a, s: s * a),
    "where": (lambda t, s: cr.where(t > 0, t, s), lambda a, s: np.where(a > 0, a, s)),
    "lt": (lambda t, s: t < s, lambda a, s: a < s),
    "gt_reflected": (lambda t, s: s > t, lambda a, s: s > a),
}


@pytest.mark.parametrize("ops", ZERO_D.values(), ids=ZERO_D.keys())
def test_a_0d_cpu_tensor_with_a_cuda_tensor_works_on_cuda(ops: tuple, cuda_device: str) -> None:
    """As in PyTorch, a 0-d CPU tensor stands for a number beside a cuda tensor."""
    ours, reference = ops
    values = _rng("zero-d").standard_normal((2, 3))
    out = ours(cr.tensor(values, device="cuda"), cr.tensor(0.25, dtype=cr.float64))
    assert out.device == "cuda:0"
    np.testing.assert_array_equal(_host(out), reference(values, 0.25))


def test_gradient_flows_back_through_to_cuda_and_cpu_to_the_cpu_leaf(cuda_device: str) -> None:
    """C = Σ x·sin(3x) with sin(3x) computed on cuda: ∂C/∂x = sin(3x) + 3x·cos(3x), on the
    CPU, where the leaf is."""
    values = _rng("round-trip").standard_normal(5)
    x = cr.tensor(values, requires_grad=True)
    on_gpu = (x.to("cuda") * 3).sin()
    assert on_gpu.device == "cuda:0" and on_gpu.requires_grad
    (on_gpu.cpu() * x).sum().backward()
    assert x.grad.device == "cpu"
    expected = np.sin(3 * values) + 3 * values * np.cos(3 * values)
    np.testing.assert_allclose(_host(x.grad), expected, rtol=1e-12, atol=1e-12)


def test_gradient_flows_back_through_cpu_and_cuda_to_the_cuda_leaf(cuda_device: str) -> None:
    """C = Σ x·eˣ with eˣ computed on the CPU: ∂C/∂x = eˣ(1 + x), on cuda."""
    values = _rng("round-trip-back").standard_normal(5)
    x = cr.tensor(values, device="cuda", requires_grad=True)
    on_cpu = x.cpu().exp()
    assert on_cpu.device == "cpu" and on_cpu.requires_grad
    (on_cpu.cuda() * x).sum().backward()
    assert x.grad.device == "cuda:0"
    np.testing.assert_allclose(_host(x.grad), np.exp(values) * (1 + values), rtol=1e-12)
