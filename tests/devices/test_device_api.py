"""The device API on "cuda" (PyTorch's names and rules) and the CuPy emulator's own refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import cuda_emulator as cp


def test_the_cuda_questions_are_answered(cuda_device: str) -> None:
    assert cr.cuda.is_available() and cr.cuda.device_count() == 1
    assert cr.cuda.current_device() == 0 and cr.cuda.is_initialized()
    assert isinstance(cr.cuda.get_device_name(), str) and cr.cuda.get_device_name()
    assert cr.accelerator.is_available() and cr.accelerator.current_accelerator() == "cuda"
    assert cr.cuda.is_emulated() is (cuda_device == "emulator")
    cr.cuda.synchronize()


def test_tensors_move_and_say_where_they_are() -> None:
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = x.to("cuda")
    assert x.device == "cpu" and y.device == cr.device("cuda", 0) and y.is_cuda and not y.is_cpu
    assert y.get_device() == 0 and x.get_device() == -1
    assert y.to("cuda") is y and y.cuda() is y and x.cpu() is x and x.to("cpu:0") is x
    back = y.cpu()
    assert back.device == "cpu" and back.tolist() == x.tolist()
    assert y.tolist() == x.tolist() and y[1, 0].item() == 3.0 and float(y.sum()) == 10.0
    assert repr(y) == repr(torch.tensor([[1.0, 2.0], [3.0, 4.0]])).replace(
        ")", ", device='cuda:0')"
    )
    assert y.to("cuda", cr.float64).dtype == cr.float64
    assert x.to(y).device == "cuda:0", "to(other) takes the other tensor's device"


def test_numpy_of_a_gpu_tensor_is_refused_as_in_pytorch() -> None:
    y = cr.ones(3, device="cuda")
    with pytest.raises(TypeError, match=r"can't convert cuda:0 device type tensor to numpy\. Use "):
        y.numpy()
    with pytest.raises(TypeError, match=r"Tensor\.cpu"):
        np.asarray(y)
    assert y.cpu().numpy().tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "make",
    [
        lambda d: cr.zeros(2, 3, device=d),
        lambda d: cr.ones(2, device=d),
        lambda d: cr.full((2,), 7.0, device=d),
        lambda d: cr.empty(4, device=d),
        lambda d: cr.arange(5, device=d),
        lambda d: cr.linspace(0, 1, 5, device=d),
        lambda d: cr.logspace(0, 2, 3, device=d),
        lambda d: cr.eye(3, device=d),
        lambda d: cr.tensor([1, 2], device=d),
        lambda d: cr.as_tensor([1.0], device=d),
        lambda d: cr.rand(3, device=d),
        lambda d: cr.randn(3, device=d),
        lambda d: cr.randint(0, 5, (3,), device=d),
        lambda d: cr.randperm(5, device=d),
    ],
)
def test_creation_functions_make_data_on_the_device_with_the_cpus_values(make) -> None:
    cr.manual_seed(3)
    on_cpu = make("cpu")
    cr.manual_seed(3)
    on_gpu = make("cuda")
    assert on_gpu.device == "cuda:0" and on_gpu.dtype == on_cpu.dtype
    np.testing.assert_array_equal(on_gpu.cpu().numpy(), on_cpu.numpy())


def test_like_functions_and_the_default_device_follow_pytorch() -> None:
    y = cr.ones(2, 2, device="cuda")
    for like in (cr.zeros_like, cr.ones_like, cr.empty_like, cr.rand_like, cr.randn_like):
        assert like(y).device == "cuda:0"
        assert like(y, device="cpu").device == "cpu"
    assert cr.randint_like(y, 3).device == "cuda:0"
    with cr.device("cuda"):
        assert cr.zeros(1).device == "cuda:0"
        assert cr.get_default_device() == "cuda:0"
    assert cr.zeros(1).device == "cpu"
    assert cr.tensor(y).device == "cuda:0", "a copy of a GPU tensor stays on the GPU"


def test_gradients_flow_through_moves_between_devices() -> None:
    x = cr.tensor([1.0, -2.0, 3.0], dtype=cr.float64, requires_grad=True)
    w = cr.tensor([0.5, 0.25, 2.0], dtype=cr.float64, device="cuda", requires_grad=True)
    loss = ((x.cuda() * w).tanh().cpu() ** 2).sum()
    loss.backward()
    tx = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    tw = torch.tensor([0.5, 0.25, 2.0], dtype=torch.float64, requires_grad=True)
    ((tx * tw).tanh() ** 2).sum().backward()
    assert x.grad.device == "cpu" and w.grad.device == "cuda:0"
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.cpu().numpy(), tw.grad.numpy(), rtol=1e-12)


def test_mixing_devices_is_pytorchs_error_but_a_cpu_scalar_tensor_is_a_number() -> None:
    y = cr.ones(3, device="cuda")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        _ = y + cr.ones(3)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        cr.matmul(cr.ones(2, 3, device="cuda"), cr.ones(3, 2))
    for compare in (cr.allclose, cr.isclose, cr.equal):
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            compare(y, cr.ones(3))
    assert cr.allclose(y, cr.ones(3, device="cuda")) and cr.equal(y, y.clone())
    assert cr.isclose(y, cr.tensor(1.0)).device == "cuda:0"
    both = y * cr.tensor(2.0)
    assert both.device == "cuda:0" and both.tolist() == [2.0, 2.0, 2.0]


def test_a_module_moves_in_place_and_keeps_its_parameters() -> None:
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.BatchNorm1d(4), cr.nn.Linear(4, 1))
    before = [p for p in model.parameters()]
    values = [p.detach().numpy().copy() for p in before]
    assert model.cuda() is model
    assert [p for p in model.parameters()] == before, "the same Parameter objects"
    assert all(p.device == "cuda:0" for p in model.parameters())
    assert all(b.device == "cuda:0" for b in model.buffers())
    model.cpu()
    for p, v in zip(model.parameters(), values):
        assert p.device == "cpu"
        np.testing.assert_array_equal(p.detach().numpy(), v)


def test_the_emulator_refuses_what_cupy_refuses(cuda_device: str) -> None:
    if cuda_device != "emulator":
        pytest.skip("the emulator's own rules, not CuPy's (this is the CuPy run)")
    a = cp.asarray(np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    with pytest.raises(TypeError, match="Unsupported type"):
        _ = a + np.ones(3)
    with pytest.raises(TypeError, match="Unsupported type"):
        cp.maximum(a, np.zeros(3))
    with pytest.raises(AttributeError, match="errstate"):
        _ = cp.errstate
    with pytest.raises(TypeError, match="unexpected keyword argument 'writeable'"):
        cp.lib.stride_tricks.as_strided(a, (3,), (8,), writeable=False)
    with pytest.raises(AttributeError, match="writeable"):
        _ = a.flags.writeable
    total = cp.sum(a)
    assert isinstance(total, cp.ndarray) and total.ndim == 0, "reductions give 0-d arrays"
    assert float(total) == 15.0 and a.get().tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert isinstance(np.sum(a), cp.ndarray), "NumPy functions dispatch to the device"
    assert cp.get_array_module(a) is cp and cp.get_array_module(np.ones(1)) is np
    out = cp.empty((2, 3))
    assert cp.multiply(a, 2.0, out=out) is out, "out= gives back the same array"
