"""Devices against PyTorch (a CPU-only build of it): the device object, ``device=`` on every
creation function, ``Tensor.to``/``cpu``/``cuda``, ``Module.to``, and the ``cuda`` and
``accelerator`` modules. The CPU works everywhere; a GPU is a clear RuntimeError."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

WITHOUT_GPU = pytest.mark.skipif(
    cr.cuda.is_available(),
    reason="CuPy sees a GPU here: the errors of a machine without one cannot be tested",
)

NO_GPU = r"is not available: chainrule computes on the CPU.*device='cpu'"


def same_error(make: Any) -> tuple[type, str]:
    """The exception class and message that ``make(torch)`` raises."""
    with pytest.raises(Exception) as caught:
        make(torch)
    return type(caught.value), str(caught.value)


# ---- the device object -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("cpu",), {}),
        (("cuda",), {}),
        (("cuda:0",), {}),
        (("cuda:12",), {}),
        (("cuda", 1), {}),
        (("cpu", 0), {}),
        (("cpu:1",), {}),
        (("mps",), {}),
        (("meta",), {}),
        (("xpu",), {}),
        ((), {"type": "cuda", "index": 3}),
    ],
)
def test_device_matches_torch(args: tuple, kwargs: dict) -> None:
    ours, theirs = cr.device(*args, **kwargs), torch.device(*args, **kwargs)
    assert (ours.type, ours.index) == (theirs.type, theirs.index)
    assert repr(ours) == repr(theirs) and str(ours) == str(theirs)
    assert cr.device(ours) == ours and cr.device(str(ours)) == ours
    assert hash(cr.device(str(ours))) == hash(ours)
    assert pickle.loads(pickle.dumps(ours)) == ours


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("gpu",), RuntimeError),
        (("CPU",), RuntimeError),
        ((" cpu",), RuntimeError),
        (("cuda:x",), RuntimeError),
        (("cuda:-1",), RuntimeError),
        (("cuda:01",), RuntimeError),
        (("cuda", -1), RuntimeError),
        (("cpu:0", 1), RuntimeError),
        (("cpu", "a"), TypeError),
        ((0,), RuntimeError),
    ],
)
def test_bad_devices_raise_what_torch_raises(args: tuple, error: type) -> None:
    kind, message = same_error(lambda m: m.device(*args))
    assert kind is error
    with pytest.raises(error) as caught:
        cr.device(*args)
    if args[0] != 0:  # for an index of no accelerator ours also names the fix
        assert str(caught.value) == message


def test_a_torch_device_is_read_by_its_name() -> None:
    assert cr.device(torch.device("cuda:1")) == cr.device("cuda", 1)
    assert cr.zeros(1, device=torch.device("cpu")).device == "cpu"
    with pytest.raises(TypeError, match="expected a string or a device, got list"):
        cr.device(["cpu"])


def test_devices_compare_by_type_and_index() -> None:
    assert cr.device("cpu") == cr.device("cpu") and cr.device("cuda:0") != cr.device("cuda")
    assert cr.device("cpu") != cr.device("cpu", 0)  # as torch: None is not index 0
    assert torch.device("cpu") != torch.device("cpu", 0)
    assert cr.device("cpu") != 3 and cr.device("cpu") != "nonsense"
    # Beyond PyTorch (where a device never equals a string): a device equals its name.
    assert cr.device("cpu") == "cpu" and cr.device("cuda", 1) == "cuda:1"
    assert {cr.device("cpu"): 1}["cpu"] == 1
    with pytest.raises(AttributeError):
        cr.device("cpu").type = "cuda"  # type: ignore[misc]


def test_the_usual_device_idiom_picks_the_cpu() -> None:
    device = cr.device("cuda" if cr.cuda.is_available() else "cpu")
    theirs = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert repr(device) == repr(theirs)
    x = cr.randn(3, device=device).to(device)
    model = cr.nn.Linear(3, 2).to(device)
    assert model(x).device == device and x.device.type == "cpu"


def test_tensor_device_is_a_device_object() -> None:
    ours, theirs = cr.ones(2).device, torch.ones(2).device
    assert isinstance(ours, cr.device) and repr(ours) == repr(theirs)
    assert ours == "cpu" and ours.type == "cpu" and ours.index is None
    t, tt = cr.ones(2), torch.ones(2)
    assert (t.is_cuda, t.is_cpu, t.get_device()) == (tt.is_cuda, tt.is_cpu, tt.get_device())


# ---- device= on the creation functions ---------------------------------------------------------

CREATIONS = [
    ("tensor", ([1.0, 2.0],), {}),
    ("as_tensor", ([1, 2],), {}),
    ("zeros", (2, 3), {}),
    ("ones", ((2,),), {}),
    ("empty", (0,), {}),
    ("full", ((2,), 1.5), {}),
    ("arange", (5,), {}),
    ("linspace", (0.0, 1.0, 4), {}),
    ("eye", (3,), {}),
    ("rand", (2,), {}),
    ("randn", (2,), {}),
    ("randint", (0, 5, (3,)), {}),
    ("randperm", (4,), {}),
    ("normal", (0.0, 1.0, (2,)), {}),
]
LIKES = ["zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"]


@pytest.mark.parametrize(("name", "args", "kwargs"), CREATIONS)
@pytest.mark.parametrize("device", ["cpu", "cpu:0", torch.device("cpu"), None])
def test_creation_functions_take_the_cpu_as_torch(
    name: str, args: tuple, kwargs: dict, device: Any
) -> None:
    ours_device = device if device is None else cr.device(str(device))
    ours = getattr(cr, name)(*args, device=ours_device, **kwargs)
    theirs = getattr(torch, name)(*args, device=device, **kwargs)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert repr(ours.device) == repr(theirs.device)


@pytest.mark.parametrize(("name", "args", "kwargs"), CREATIONS)
@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps"])
@WITHOUT_GPU
def test_creation_functions_refuse_a_gpu_naming_the_fix(
    name: str, args: tuple, kwargs: dict, device: str
) -> None:
    with pytest.raises(RuntimeError, match=rf"^{name}: device '{device}' is not available.*"):
        getattr(cr, name)(*args, device=device, **kwargs)
    with pytest.raises(RuntimeError, match=NO_GPU):
        getattr(cr, name)(*args, device=cr.device(device), **kwargs)


@pytest.mark.parametrize("name", LIKES)
@WITHOUT_GPU
def test_like_functions_take_a_device(name: str) -> None:
    base = cr.ones(2, 3, dtype=cr.float64)
    ours = getattr(cr, name)(base, device="cpu")
    theirs = getattr(torch, name)(torch.ones(2, 3, dtype=torch.float64), device="cpu")
    assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == "float64"
    with pytest.raises(RuntimeError, match=NO_GPU):
        getattr(cr, name)(base, device="cuda")
    assert cr.full_like(base, 2.0, device="cpu").tolist() == [[2.0] * 3] * 2
    assert cr.randint_like(base, 5, device="cpu").shape == (2, 3)


@WITHOUT_GPU
def test_legacy_constructors_take_a_device() -> None:
    assert cr.Tensor([1.0], device="cpu").tolist() == [1.0]
    assert cr.FloatTensor([1.0], device=cr.device("cpu")).tolist() == [1.0]
    with pytest.raises(RuntimeError, match=NO_GPU):
        cr.LongTensor([1], device="cuda")


@WITHOUT_GPU
def test_default_device_is_the_cpu_and_only_the_cpu() -> None:
    assert repr(cr.get_default_device()) == repr(torch.get_default_device())
    cr.set_default_device("cpu")
    assert cr.get_default_device() == cr.device("cpu")
    with pytest.raises(RuntimeError, match=NO_GPU):
        cr.set_default_device("cuda")
    cr.set_default_device(None)
    assert cr.zeros(1).device == "cpu"
    with cr.device("cpu"):
        assert cr.zeros(1).device == "cpu"
    with pytest.raises(RuntimeError, match=NO_GPU), cr.device("cuda"):
        pass
    assert cr.get_default_device() == cr.device("cpu")


# ---- Tensor.to, cpu, cuda ----------------------------------------------------------------------

TO_CALLS = [
    (("cpu",), {}),
    (("cpu", "float64"), {}),
    (("cpu",), {"dtype": "float64"}),
    ((), {"device": "cpu", "dtype": "int64"}),
    (("float64",), {}),
    (("float64", True), {}),
    (("float64",), {"non_blocking": True, "copy": True}),
    (("cpu", "float16", False, True), {}),
    ((float,), {}),
    ((int,), {}),
    ((bool,), {}),
    (("tensor_int",), {}),
    ((None,), {}),
    ((), {}),
]


def _to_args(m: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    def convert(value: Any) -> Any:
        if value in ("float64", "int64", "float16"):
            return getattr(m, value)
        if value == "tensor_int":
            return m.ones(1, dtype=m.int64)
        if value == "cpu":
            return m.device("cpu")
        return value

    return tuple(convert(a) for a in args), {k: convert(v) for k, v in kwargs.items()}


@pytest.mark.parametrize(("args", "kwargs"), TO_CALLS)
def test_to_matches_torch(args: tuple, kwargs: dict) -> None:
    x, tx = cr.tensor([1.5, -2.0]), torch.tensor([1.5, -2.0])
    ours = x.to(*_to_args(cr, args, kwargs)[0], **_to_args(cr, args, kwargs)[1])
    theirs = tx.to(*_to_args(torch, args, kwargs)[0], **_to_args(torch, args, kwargs)[1])
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert ours.tolist() == theirs.tolist()
    assert (ours is x) == (theirs is tx), "a copy exactly when torch makes one"


def test_to_with_strings_for_devices_and_copy_as_torch() -> None:
    x, tx = cr.ones(2), torch.ones(2)
    assert (x.to("cpu") is x) == (tx.to("cpu") is tx)
    assert x.to("cpu:0") is x  # torch copies here (index 0 is not "no index"); nothing moves
    assert x.to("cpu", copy=True) is not x and x.to(x) is x
    copied = x.to(copy=True)
    copied.add_(1)
    assert x.tolist() == [1.0, 1.0], "copy=True gives new memory"
    assert x.cpu() is x and tx.cpu() is tx


@pytest.mark.parametrize("call", ["to('cuda')", "to(device='cuda:0')", "to('mps', 'float64')"])
@WITHOUT_GPU
def test_to_a_gpu_is_a_clear_error(call: str) -> None:
    with pytest.raises(RuntimeError, match=NO_GPU):
        eval(f"x.{call}", {"x": cr.ones(2)})


def test_cuda_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match=r"cuda: device 'cuda' is not available"):
        cr.ones(2).cuda()
    with pytest.raises(RuntimeError, match=r"device 'cuda:1' is not available"):
        cr.ones(2).cuda(1)


def test_to_rejects_what_torch_rejects() -> None:
    x = cr.ones(2)
    for bad in [{"foo": 1}]:
        same_error(lambda m, bad=bad: m.ones(2).to(**bad))
        with pytest.raises(TypeError, match="foo"):
            x.to(**bad)
    same_error(lambda m: m.ones(2).to(m.float64, m.float32))
    with pytest.raises(TypeError):
        x.to(cr.float64, cr.float32)
    same_error(lambda m: m.ones(2).to(0))
    with pytest.raises(RuntimeError, match="accelerator"):
        x.to(0)


def test_to_keeps_the_graph_like_torch() -> None:
    for m in (cr, torch):
        w = m.tensor([1.5, 2.5], requires_grad=True)
        y = w.to("cpu", m.float64)
        (y * y).sum().backward()
        assert y.requires_grad and str(w.grad.dtype).endswith("float32")
        np.testing.assert_allclose(w.grad.numpy(), [3.0, 5.0])


# ---- modules -----------------------------------------------------------------------------------


def linear_pair() -> tuple[Any, Any]:
    ours, theirs = cr.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.detach().numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.detach().numpy()))
    return ours, theirs


@pytest.mark.parametrize(
    "convert",
    [
        lambda m, net: net.to(m.device("cpu")),
        lambda m, net: net.to("cpu"),
        lambda m, net: net.to("cpu", m.float64),
        lambda m, net: net.to(m.ones(1, dtype=m.float64)),
        lambda m, net: net.to(dtype=m.float16),
        lambda m, net: net.cpu(),
        lambda m, net: net.half(),
        lambda m, net: net.double(),
        lambda m, net: net.double().float(),
    ],
)
def test_module_conversions_match_torch(convert: Any) -> None:
    ours, theirs = linear_pair()
    assert convert(cr, ours) is ours and convert(torch, theirs) is theirs
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        assert str(p.dtype) == str(tp.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(p.detach().numpy(), tp.detach().numpy())


def test_module_conversion_converts_gradients_too() -> None:
    ours, theirs = linear_pair()
    for net, m in ((ours, cr), (theirs, torch)):
        net(m.ones(4, 3)).sum().backward()
        net.double()
        assert str(net.weight.grad.dtype).endswith("float64")


@WITHOUT_GPU
def test_module_refuses_an_integer_dtype_and_a_gpu() -> None:
    ours, theirs = linear_pair()
    kind, _ = same_error(lambda m: theirs.to(m.int64))
    with pytest.raises(kind, match="only accepts floating point"):
        ours.to(cr.int64)
    with pytest.raises(RuntimeError, match=NO_GPU):
        ours.to("cuda")
    with pytest.raises(RuntimeError, match=r"Module.cuda: device 'cuda' is not available"):
        ours.cuda()
    assert ours.weight.dtype == cr.float32, "a refused conversion changes nothing"


# ---- the cuda and accelerator modules ----------------------------------------------------------


@WITHOUT_GPU
def test_cuda_and_accelerator_say_there_is_no_gpu_as_a_cpu_torch_does() -> None:
    assert cr.cuda.is_available() is torch.cuda.is_available() is False
    assert cr.cuda.device_count() == torch.cuda.device_count() == 0
    assert cr.cuda.is_initialized() is torch.cuda.is_initialized()
    assert cr.accelerator.is_available() is torch.accelerator.is_available()
    assert cr.accelerator.current_accelerator() is torch.accelerator.current_accelerator()
    assert cr.accelerator.device_count() == torch.accelerator.device_count()
    # The seeding functions are no-ops that scripts may call beside manual_seed.
    assert cr.cuda.manual_seed(0) is torch.cuda.manual_seed(0) is None
    assert cr.cuda.manual_seed_all(0) is torch.cuda.manual_seed_all(0) is None
    cr.cuda.synchronize()
    cr.cuda.empty_cache()
    with pytest.raises(RuntimeError, match=NO_GPU):
        cr.cuda.current_device()
