"""``chainrule.interop``: PyTorch weights into chainrule models and back, exactly."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.interop import from_torch_state_dict, to_torch_state_dict


def _torch_convnet() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, padding=1),
        torch.nn.BatchNorm2d(3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 5 * 5, 4),
    )


def _convnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3 * 5 * 5, 4),
    )


def _trained_torch_convnet() -> tuple[torch.nn.Module, torch.Tensor]:
    """A conv net after a few training steps: the BatchNorm's running statistics and its
    num_batches_tracked are no longer their initial values."""
    model = _torch_convnet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(6, 2, 5, 5)
    for _ in range(3):
        optimizer.zero_grad()
        (model(x) ** 2).mean().backward()
        optimizer.step()
    return model.eval(), x


def _assert_state_dicts_equal(got: dict, expected: dict) -> None:
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype, key
        assert torch.equal(got[key], value), key


def test_a_torch_convnet_with_batchnorm_gives_the_same_outputs_in_chainrule() -> None:
    torch_model, x = _trained_torch_convnet()
    assert int(torch_model[1].num_batches_tracked) == 3
    model = _convnet()
    state = from_torch_state_dict(torch_model.state_dict())
    assert list(state) == list(torch_model.state_dict())
    assert all(isinstance(value, cr.Tensor) for value in state.values())
    assert state["1.num_batches_tracked"].shape == () and state["1.num_batches_tracked"].item() == 3
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        expected = torch_model(x).numpy()
    got = model(cr.tensor(x.numpy())).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model[1].running_var.numpy(), torch_model[1].running_var.numpy())


def test_chainrule_weights_go_back_into_torch_exactly() -> None:
    torch_model, x = _trained_torch_convnet()
    model = _convnet()
    model.load_state_dict(from_torch_state_dict(torch_model.state_dict()))
    twin = _torch_convnet().eval()
    twin.load_state_dict(to_torch_state_dict(model))
    _assert_state_dicts_equal(twin.state_dict(), torch_model.state_dict())
    with torch.no_grad():
        assert torch.equal(twin(x), torch_model(x))


def test_an_lstm_with_a_linear_head_gives_the_same_outputs() -> None:
    torch_lstm = torch.nn.LSTM(3, 5, num_layers=2, batch_first=True)
    torch_head = torch.nn.Linear(5, 2)
    lstm = nn.LSTM(3, 5, num_layers=2, batch_first=True)
    head = nn.Linear(5, 2)
    lstm.load_state_dict(from_torch_state_dict(torch_lstm.state_dict()))
    head.load_state_dict(from_torch_state_dict(torch_head.state_dict()))
    x = torch.randn(4, 7, 3)
    with torch.no_grad():
        expected = torch_head(torch_lstm(x)[0][:, -1]).numpy()
    got = head(lstm(cr.tensor(x.numpy()))[0][:, -1]).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    back = torch.nn.LSTM(3, 5, num_layers=2, batch_first=True)
    back.load_state_dict(to_torch_state_dict(lstm))
    _assert_state_dicts_equal(back.state_dict(), torch_lstm.state_dict())


def test_the_round_trip_is_exact_for_every_dtype_and_keeps_order_and_shape() -> None:
    weight = torch.nn.Parameter(torch.randn(3, 4))
    state = {
        "z.weight": weight,  # a parameter that requires grad
        "a.transposed": torch.randn(4, 3).t(),  # not contiguous
        "m.half": torch.randn(5).half(),
        "m.double": torch.randn(2, 2, dtype=torch.float64),
        "m.bfloat16": torch.randn(6).to(torch.bfloat16),
        "m.count": torch.tensor(7),  # 0-d int64, like num_batches_tracked
        "m.mask": torch.tensor([True, False]),
        "m.bytes": torch.tensor([0, 255], dtype=torch.uint8),
        "m.int32": torch.tensor([[-5, 9]], dtype=torch.int32),
        "m.empty": torch.zeros(0, 3),
    }
    converted = from_torch_state_dict(state)
    assert list(converted) == list(state)
    assert converted["m.bfloat16"].dtype == cr.bfloat16
    assert converted["a.transposed"].shape == (3, 4)
    back = to_torch_state_dict(converted)
    assert list(back) == list(state)
    for key, value in state.items():
        assert back[key].dtype == value.dtype, key
        assert back[key].shape == value.shape, key
        assert torch.equal(back[key], value.detach()), key
        assert not back[key].requires_grad


def test_converted_values_share_no_memory_with_the_source() -> None:
    source = {"w": torch.zeros(3)}
    converted = from_torch_state_dict(source)
    source["w"].add_(1.0)
    np.testing.assert_array_equal(converted["w"].numpy(), np.zeros(3, dtype=np.float32))
    model = nn.Linear(2, 2)
    exported = to_torch_state_dict(model)
    with cr.no_grad():
        model.weight.fill_(5.0)
    assert not torch.equal(exported["weight"], torch.full((2, 2), 5.0))


def test_a_torch_optimizer_state_continues_in_chainrule_and_goes_back_exactly() -> None:
    x = torch.randn(8, 4)
    torch_model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    torch_optimizer = torch.optim.Adam(torch_model.parameters(), lr=0.01)

    def torch_step() -> None:
        torch_optimizer.zero_grad()
        (torch_model(x) ** 2).mean().backward()
        torch_optimizer.step()

    for _ in range(3):
        torch_step()
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    optimizer = cr.optim.Adam(model.parameters(), lr=0.01)
    model.load_state_dict(from_torch_state_dict(torch_model.state_dict()))
    optimizer.load_state_dict(from_torch_state_dict(torch_optimizer.state_dict()))
    assert optimizer.state[model[0].weight]["step"] == 3.0
    # The exact round trip of the optimizer's state, before either side moves on.
    back = to_torch_state_dict(optimizer)
    expected = torch_optimizer.state_dict()
    assert back["param_groups"] == expected["param_groups"]
    for index, values in expected["state"].items():
        _assert_state_dicts_equal(back["state"][index], values)
    # Both continue for two steps, from the same state, to the same weights.
    for _ in range(2):
        torch_step()
        optimizer.zero_grad()
        (model(cr.tensor(x.numpy())) ** 2).mean().backward()
        optimizer.step()
    for ours, theirs in zip(model.parameters(), torch_model.parameters()):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=1e-6)


def test_a_nested_checkpoint_round_trips() -> None:
    torch_model, _ = _trained_torch_convnet()
    checkpoint = {"epoch": 3, "model": torch_model.state_dict(), "note": None, "sizes": (1, 2)}
    converted = from_torch_state_dict(checkpoint)
    assert converted["epoch"] == 3 and converted["note"] is None and converted["sizes"] == (1, 2)
    back = to_torch_state_dict(converted)
    _assert_state_dicts_equal(back["model"], torch_model.state_dict())


def test_numpy_arrays_convert_without_torch() -> None:
    converted = from_torch_state_dict({"w": np.arange(6.0).reshape(2, 3).T})
    assert isinstance(converted["w"], cr.Tensor)
    np.testing.assert_array_equal(converted["w"].numpy(), np.arange(6.0).reshape(2, 3).T)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (torch.zeros(2, dtype=torch.complex64), r"state_dict\['c'\] has dtype torch.complex64"),
        (torch.zeros(2).to(torch.float8_e4m3fn), r"state_dict\['c'\] has dtype torch.float8"),
        (torch.zeros(2, 2).to_sparse(), r"state_dict\['c'\] is a torch.sparse_coo tensor"),
        (torch.zeros(2, device="meta"), r"state_dict\['c'\] is on the meta device"),
    ],
)
def test_tensors_chainrule_cannot_hold_are_named(value, message) -> None:
    with pytest.raises(TypeError, match=message):
        from_torch_state_dict({"c": value})


def test_arguments_that_are_not_state_dicts_are_type_errors() -> None:
    with pytest.raises(TypeError, match="expected a state dict"):
        from_torch_state_dict([torch.zeros(1)])
    with pytest.raises(TypeError, match="expected a chainrule Module"):
        to_torch_state_dict(42)


def test_without_torch_to_torch_state_dict_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(ImportError, match="needs the optional package 'torch'"):
        to_torch_state_dict(nn.Linear(2, 2))


def test_importing_interop_does_not_import_torch() -> None:
    code = "import sys, chainrule.interop; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
