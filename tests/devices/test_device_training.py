"""Everything around the layers on "cuda": optimisers and schedulers, gradient utilities, ``fit``
with its callbacks and checkpoints, saving and loading, ONNX export, the inspector, the compiled
step and the metrics.

Each test runs the same computation on the CPU (proven against PyTorch in the rest of the suite)
and on "cuda" (CuPy on a GPU, else the emulator of tests/devices/conftest.py, which refuses a
stray NumPy call as CuPy does), and asserts that the results agree and that what should live on
the device does. Everything is float64, so that 1e-10 tells a real difference from the GPU's
own roundings.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
import torch

import chainrule as cr
from chainrule import backend, nn, optim, train
from chainrule.optim import lr_scheduler

RNG = np.random.default_rng(17)
X = RNG.standard_normal((40, 4))
Y = X @ RNG.standard_normal((4, 2)) + 0.1 * RNG.standard_normal((40, 2))
LABELS = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
IMAGES = RNG.standard_normal((8, 1, 6, 6))
ATOL = 1e-10


def mlp(device: str = "cpu", out: int = 2) -> nn.Module:
    """The same float64 network on every call (seeded), on ``device``."""
    cr.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, out)).double().to(device)


def host(value: Any) -> np.ndarray:
    """A NumPy copy of a tensor or array from either device."""
    if isinstance(value, cr.Tensor):
        return value.detach().cpu().numpy()
    return backend.to_numpy(value)


def assert_same_parameters(cpu: nn.Module, cuda: nn.Module, atol: float = ATOL) -> None:
    for (name, p), q in zip(cpu.named_parameters(), cuda.parameters()):
        assert q.device == "cuda:0", f"{name} is on {q.device}"
        np.testing.assert_allclose(host(q), host(p), rtol=0, atol=atol, err_msg=name)


def lives_on_cuda(array: Any) -> bool:
    return backend.device_type_of(array) == "cuda"


# ---- optimisers ------------------------------------------------------------------------------

OPTIMIZERS: dict[str, Callable[[Any], optim.Optimizer]] = {
    "SGD-nesterov": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "SGD-dampening-maximize": lambda p: optim.SGD(
        p, lr=0.05, momentum=0.5, dampening=0.2, weight_decay=0.01, maximize=True
    ),
    "Adam-amsgrad": lambda p: optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.01),
    "AdamW-amsgrad": lambda p: optim.AdamW(p, lr=0.01, amsgrad=True, weight_decay=0.1),
    "RMSprop-centered": lambda p: optim.RMSprop(
        p, lr=0.01, centered=True, momentum=0.5, weight_decay=0.01
    ),
    "Adagrad": lambda p: optim.Adagrad(
        p, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.01
    ),
    "Adadelta": lambda p: optim.Adadelta(p, lr=1.0, weight_decay=0.01),
    "Adamax": lambda p: optim.Adamax(p, lr=0.01, weight_decay=0.01),
    "NAdam-decoupled": lambda p: optim.NAdam(
        p, lr=0.01, weight_decay=0.01, decoupled_weight_decay=True
    ),
    "RAdam": lambda p: optim.RAdam(p, lr=0.01, weight_decay=0.01),
    "ASGD": lambda p: optim.ASGD(p, lr=0.01, t0=2, weight_decay=0.01),
    "LBFGS-wolfe": lambda p: optim.LBFGS(
        p, lr=0.5, max_iter=4, history_size=3, line_search_fn="strong_wolfe"
    ),
}


def train_steps(
    device: str,
    make: Callable[[Any], optim.Optimizer],
    steps: int = 5,
    scheduler: Callable[[Any], Any] | None = None,
) -> tuple[nn.Module, optim.Optimizer, list[float]]:
    model = mlp(device)
    optimizer = make(model.parameters())
    schedule = None if scheduler is None else scheduler(optimizer)
    x, y = cr.tensor(X, device=device), cr.tensor(Y, device=device)
    rates = []

    def closure() -> cr.Tensor:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    for _ in range(steps):
        loss = optimizer.step(closure)
        if schedule is not None:
            if isinstance(schedule, lr_scheduler.ReduceLROnPlateau):
                schedule.step(loss.item())
            else:
                schedule.step()
        rates.append(optimizer.param_groups[0]["lr"])
    return model, optimizer, rates


def state_arrays(optimizer: optim.Optimizer) -> list[tuple[str, Any]]:
    """Every array in the optimiser's state (LBFGS's lists included), with its key."""
    return [(key, value) for key, value in state_values(optimizer) if backend.is_array(value)]


def state_values(optimizer: optim.Optimizer) -> list[tuple[str, Any]]:
    """Every value in the optimiser's state, lists flattened, with its key."""
    found = []
    for values in optimizer.state.values():
        for key, value in values.items():
            items = value if isinstance(value, list) else [value]
            found += [(key, item) for item in items]
    return found


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_optimizer_trains_on_cuda_as_on_the_cpu(name: str) -> None:
    cpu_model, cpu_optimizer, _ = train_steps("cpu", OPTIMIZERS[name])
    cuda_model, cuda_optimizer, _ = train_steps("cuda", OPTIMIZERS[name])
    assert_same_parameters(cpu_model, cuda_model)
    expected, values = state_values(cpu_optimizer), state_values(cuda_optimizer)
    assert [key for key, _ in values] == [key for key, _ in expected]
    assert any(backend.is_array(value) for _, value in expected)
    for (key, value), (_, reference) in zip(values, expected):
        if isinstance(reference, np.ndarray) and reference.ndim > 0:  # buffers live there
            assert lives_on_cuda(value), f"{name}: state {key!r} is on the CPU"
        if backend.is_array(value) or isinstance(value, (float, np.floating)):
            np.testing.assert_allclose(host(value), reference, rtol=1e-12, atol=ATOL, err_msg=key)
        else:
            assert value == reference, key


SCHEDULES: dict[str, Callable[[Any], Any]] = {
    "StepLR": lambda o: lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
    "OneCycleLR": lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.2, total_steps=6),
    "CosineWarmRestarts": lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2),
    "CyclicLR": lambda o: lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2),
    "ReduceLROnPlateau": lambda o: lr_scheduler.ReduceLROnPlateau(o, "max", patience=0, factor=0.5),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedulers_drive_a_cuda_optimizer_as_a_cpu_one(name: str) -> None:
    def sgd(p: Any) -> optim.Optimizer:
        return optim.SGD(p, lr=0.1, momentum=0.9)

    cpu_model, _, cpu_rates = train_steps("cpu", sgd, 6, SCHEDULES[name])
    cuda_model, _, cuda_rates = train_steps("cuda", sgd, 6, SCHEDULES[name])
    assert cuda_rates == cpu_rates and len(set(cpu_rates)) > 1  # the schedule did change lr
    assert_same_parameters(cpu_model, cuda_model)


def test_an_optimizer_state_loads_across_devices_as_in_pytorch() -> None:
    # Two steps on the CPU, the state loaded into an optimiser of cuda parameters, three more
    # steps there: the state moves to the parameters' device, and the run equals five CPU steps.
    def adam(p: Any) -> optim.Optimizer:
        return optim.Adam(p, lr=0.01, amsgrad=True)

    cpu_model, cpu_optimizer, _ = train_steps("cpu", adam, steps=2)
    saved = cpu_optimizer.state_dict()
    cuda_model = mlp("cuda")
    cuda_model.load_state_dict(cpu_model.state_dict())
    cuda_optimizer = adam(cuda_model.parameters())
    cuda_optimizer.load_state_dict(saved)
    assert all(lives_on_cuda(array) for _, array in state_arrays(cuda_optimizer))
    assert all(not lives_on_cuda(array) for _, array in state_arrays(cpu_optimizer))  # not moved
    x, y = cr.tensor(X, device="cuda"), cr.tensor(Y, device="cuda")
    for _ in range(3):
        cuda_optimizer.zero_grad()
        nn.functional.mse_loss(cuda_model(x), y).backward()
        cuda_optimizer.step()
    five, _, _ = train_steps("cpu", adam, steps=5)
    assert_same_parameters(five, cuda_model)

    # And back: a cuda state into CPU parameters gives a CPU state.
    back = mlp("cpu")
    back_optimizer = adam(back.parameters())
    back_optimizer.load_state_dict(cuda_optimizer.state_dict())
    arrays = state_arrays(back_optimizer)
    assert arrays and all(type(a) is np.ndarray for _, a in arrays)


def test_a_loaded_state_takes_the_parameters_dtype_as_in_pytorch() -> None:
    def states(lib: Any, param_dtype: Any, state_dtype: Any, device: str = "cpu") -> list:
        where = {"device": device} if lib is cr else {}
        w = lib.zeros(3, dtype=param_dtype, requires_grad=True, **where)
        source = lib.zeros(3, dtype=state_dtype, requires_grad=True)
        first = lib.optim.Adam([source])
        source.grad = lib.ones(3, dtype=state_dtype)
        first.step()
        second = lib.optim.Adam([w])
        second.load_state_dict(first.state_dict())
        state = next(iter(second.state.values()))
        return [str(state[k].dtype).replace("torch.", "") for k in ("exp_avg", "exp_avg_sq")]

    expected = states(torch, torch.float64, torch.float32)
    assert states(cr, cr.float64, cr.float32, "cuda") == expected == ["float64", "float64"]


# ---- gradient utilities ----------------------------------------------------------------------


def gradients(device: str) -> nn.Module:
    model = mlp(device)
    x, y = cr.tensor(X, device=device), cr.tensor(Y, device=device)
    nn.functional.mse_loss(model(x), y).backward()
    return model


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm_on_cuda_equals_the_cpu(norm_type: float) -> None:
    cpu, cuda = gradients("cpu"), gradients("cuda")
    expected = nn.utils.clip_grad_norm_(cpu.parameters(), 0.1, norm_type=norm_type)
    total = nn.utils.clip_grad_norm_(cuda.parameters(), 0.1, norm_type=norm_type)
    assert total.device == "cuda:0"
    np.testing.assert_allclose(host(total), host(expected), rtol=1e-12)
    assert expected.item() > 0.1  # the gradients were clipped
    for p, q in zip(cpu.parameters(), cuda.parameters()):
        assert q.grad.device == "cuda:0"
        np.testing.assert_allclose(host(q.grad), host(p.grad), rtol=0, atol=1e-12)


def test_clip_grad_value_and_parameter_vectors_on_cuda() -> None:
    cpu, cuda = gradients("cpu"), gradients("cuda")
    nn.utils.clip_grad_value_(cpu.parameters(), 0.05)
    nn.utils.clip_grad_value_(cuda.parameters(), 0.05)
    for p, q in zip(cpu.parameters(), cuda.parameters()):
        assert q.grad.device == "cuda:0"
        np.testing.assert_array_equal(host(q.grad), host(p.grad))
    assert max(float(abs(host(p.grad)).max()) for p in cpu.parameters()) == 0.05

    vector = nn.utils.parameters_to_vector(cuda.parameters())
    assert vector.device == "cuda:0" and vector.shape == (4 * 8 + 8 + 8 * 2 + 2,)
    np.testing.assert_array_equal(
        host(vector), host(nn.utils.parameters_to_vector(cpu.parameters()))
    )
    nn.utils.vector_to_parameters(vector * 2, cuda.parameters())
    for p, q in zip(cpu.parameters(), cuda.parameters()):
        assert q.device == "cuda:0"
        np.testing.assert_array_equal(host(q), 2 * host(p))


# ---- fit, callbacks, checkpoints -------------------------------------------------------------


def run_fit(tmp_path: Any, tag: str, device: Any, epochs: int = 4, **options: Any) -> tuple:
    """fit on data kept on the CPU (a pinned-memory loader), with a validation set, a scheduler,
    metrics and callbacks; the model starts on the CPU unless ``options['model']``."""
    model = options.pop("model", None) or mlp()
    patience = options.pop("patience", 1)
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    data = cr.data.DataLoader(
        cr.data.TensorDataset(cr.tensor(X[:32]), cr.tensor(Y[:32])),
        batch_size=8,
        shuffle=True,
        seed=5,
        pin_memory=True,
    )
    history = train.fit(
        model,
        nn.MSELoss(),
        optimizer,
        data,
        epochs=epochs,
        val_data=(cr.tensor(X[32:]), cr.tensor(Y[32:])),
        scheduler=lr_scheduler.StepLR(optimizer, 2, 0.5),
        metrics=["mae", "r2"],
        callbacks=[
            train.EarlyStopping(monitor="val_loss", patience=patience, min_delta=0.5),
            train.ModelCheckpoint(tmp_path / f"{tag}-best.safetensors"),
        ],
        checkpoint=tmp_path / f"{tag}.ckpt",
        progress=False,
        device=device,
        **options,
    )
    return model, optimizer, history


def assert_same_history(cpu: train.History, cuda: train.History) -> None:
    assert cpu.epoch == cuda.epoch and cpu.stop_reason == cuda.stop_reason
    for key, values in cpu.history.items():
        if key != "time":
            np.testing.assert_allclose(cuda.history[key], values, rtol=1e-10, err_msg=key)


@pytest.mark.parametrize("compiled", [False, True])
def test_fit_with_device_cuda_equals_the_cpu_run(tmp_path: Any, compiled: bool) -> None:
    cpu_model, _, cpu_history = run_fit(tmp_path, "cpu", None, compile=compiled)
    cuda_model, cuda_optimizer, cuda_history = run_fit(tmp_path, "cuda", "cuda", compile=compiled)
    assert_same_history(cpu_history, cuda_history)
    assert "EarlyStopping" in cpu_history.stop_reason  # the callback acted, alike on both
    assert_same_parameters(cpu_model, cuda_model)
    assert all(lives_on_cuda(a) for _, a in state_arrays(cuda_optimizer))
    best = cr.load(tmp_path / "cuda-best.safetensors")
    assert all(t.device == "cuda:0" for t in best.values())  # saved from cuda, back there

    x = cr.tensor(X)
    np.testing.assert_allclose(
        train.predict(cuda_model, x), train.predict(cpu_model, x), rtol=0, atol=ATOL
    )
    figures = train.evaluate(cuda_model, (x, cr.tensor(Y)), ["mae"], nn.MSELoss())
    expected = train.evaluate(cpu_model, (x, cr.tensor(Y)), ["mae"], nn.MSELoss())
    assert figures == pytest.approx(expected, rel=1e-10)


def test_fit_follows_a_model_moved_to_cuda_by_hand(tmp_path: Any) -> None:
    # No device argument: the CPU batches go where the model's parameters are.
    _, _, cpu_history = run_fit(tmp_path, "cpu", None, epochs=2)
    model, _, history = run_fit(tmp_path, "cuda", None, epochs=2, model=mlp("cuda"))
    assert next(model.parameters()).device == "cuda:0"
    assert_same_history(cpu_history, history)


def test_a_cuda_run_resumes_from_its_checkpoint_exactly(tmp_path: Any) -> None:
    whole, _, whole_history = run_fit(tmp_path, "whole", "cuda", compile=False)
    run_fit(tmp_path, "part", "cuda", epochs=2, compile=False)
    saved = train.load_checkpoint(tmp_path / "part.ckpt")
    assert saved["model"]["0.weight"].device == "cuda:0"
    assert train.load_checkpoint(tmp_path / "part.ckpt", "cpu")["model"]["0.weight"].device == "cpu"
    resume = {"compile": False, "resume_from": tmp_path / "part.ckpt"}
    resumed, _, history = run_fit(tmp_path, "part", "cuda", **resume)
    assert history.history["loss"] == whole_history.history["loss"]
    for p, q in zip(whole.parameters(), resumed.parameters()):
        assert q.device == "cuda:0"
        np.testing.assert_array_equal(host(q), host(p))
    # The same checkpoint resumed on the CPU continues as the CPU run does.
    cpu, _, _ = run_fit(tmp_path, "part", None, **resume)
    assert all(p.device == "cpu" for p in cpu.parameters())
    np.testing.assert_allclose(
        host(next(cpu.parameters())), host(next(whole.parameters())), atol=ATOL
    )


# ---- saving and loading ----------------------------------------------------------------------


def test_save_and_load_a_cuda_model_with_map_location(tmp_path: Any) -> None:
    model = mlp("cuda")
    path = tmp_path / "model.safetensors"
    cr.save(model.state_dict(), path)
    expected = {k: host(v) for k, v in mlp("cpu").state_dict().items()}
    # Host copies in the file, which any safetensors reader takes.
    on_disk = safetensors.numpy.load_file(str(path))
    assert on_disk.keys() == expected.keys()
    for key, value in on_disk.items():
        np.testing.assert_array_equal(value, expected[key])
    for location, where in [(None, "cuda:0"), ("cpu", "cpu"), ("cuda", "cuda:0")]:
        loaded = cr.load(path, map_location=location)
        assert list(loaded) == list(expected)
        for key, tensor in loaded.items():
            assert tensor.device == where, (location, key)
            np.testing.assert_array_equal(host(tensor), expected[key])
    mapped = cr.load(path, map_location={"cuda:0": "cpu"})
    assert all(t.device == "cpu" for t in mapped.values())
    # A CPU file loaded to cuda, and a cuda state dict into a CPU model and back.
    cr.save(mlp("cpu").state_dict(), tmp_path / "cpu.safetensors")
    assert all(t.device == "cuda:0" for t in cr.load(tmp_path / "cpu.safetensors", "cuda").values())
    target = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    target.load_state_dict(cr.load(path))
    assert all(p.device == "cpu" for p in target.parameters())
    assert_same_parameters(target, model.to("cuda"))
    target.to("cuda").load_state_dict(cr.load(path, map_location="cpu"))
    assert_same_parameters(mlp("cpu"), target)


def test_save_and_load_a_checkpoint_of_a_cuda_optimizer() -> None:
    _, optimizer, _ = train_steps("cuda", OPTIMIZERS["Adam-amsgrad"], steps=2)
    buffer = io.BytesIO()
    cr.save({"optimizer": optimizer.state_dict(), "w": next(iter(optimizer.state))}, buffer)
    buffer.seek(0)
    back = cr.load(buffer)
    assert back["w"].device == "cuda:0" and back["w"].requires_grad
    state = back["optimizer"]["state"][0]
    assert lives_on_cuda(state["exp_avg"]) and state["step"] == 2.0
    buffer.seek(0)
    on_host = cr.load(buffer, map_location="cpu")["optimizer"]["state"][0]
    assert type(on_host["exp_avg"]) is np.ndarray
    np.testing.assert_array_equal(on_host["exp_avg"], host(state["exp_avg"]))


def test_onnx_export_of_a_cuda_model_equals_the_cpu_export() -> None:
    def export(device: str, make: Callable[[], nn.Module], shape: tuple) -> bytes:
        cr.manual_seed(1)
        model = make().to(device)
        buffer = io.BytesIO()
        cr.onnx.export(model, cr.ones(*shape, device=device), buffer)
        return buffer.getvalue()

    def cnn() -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3)
        )

    def lstm() -> nn.Module:
        return nn.LSTM(3, 4, batch_first=True)

    for make, shape in ((cnn, (2, 1, 6, 6)), (lstm, (2, 5, 3))):
        assert export("cuda", make, shape) == export("cpu", make, shape)


# ---- the inspector ---------------------------------------------------------------------------


def sigmoid_mlp(device: str) -> nn.Module:
    cr.manual_seed(4)
    model = nn.Sequential(nn.Linear(4, 6), nn.Sigmoid(), nn.Linear(6, 2), nn.Tanh())
    return model.double().to(device)


def test_trace_and_explain_a_cuda_model() -> None:
    cpu = cr.inspect.trace(sigmoid_mlp("cpu"), cr.tensor(X), cr.tensor(Y), nn.MSELoss())
    model = sigmoid_mlp("cuda")
    cuda = cr.inspect.trace(
        model, cr.tensor(X, device="cuda"), cr.tensor(Y, device="cuda"), nn.MSELoss()
    )
    assert all(p.device == "cuda:0" and p.grad is None for p in model.parameters())
    assert cuda.loss == pytest.approx(cpu.loss, rel=1e-12)
    for a, b in zip(cpu.layers, cuda.layers, strict=True):
        for field in ("a_in", "z", "delta", "grad_weight", "grad_bias"):
            np.testing.assert_allclose(getattr(b, field), getattr(a, field), atol=1e-12)
    assert str(cuda.explain(1)) == str(cpu.explain(1))
    assert cuda.table() == cpu.table()


def test_gradient_monitor_summary_and_sharpness_on_cuda(tmp_path: Any) -> None:
    records = []
    for device in ("cpu", "cuda"):
        model = sigmoid_mlp(device)
        monitor = cr.inspect.GradientMonitor()
        data = (cr.tensor(X), cr.tensor(Y))
        train.fit(
            model,
            nn.MSELoss(),
            optim.SGD(model.parameters(), lr=0.5),
            data,
            epochs=2,
            batch_size=10,
            callbacks=[monitor],
            progress=False,
            shuffle=False,
            device=device,
        )
        records.append(monitor.history)
    cpu, cuda = records
    assert len(cpu) == len(cuda) == 8
    for a, b in zip(cpu, cuda):
        assert b.grad_norm == pytest.approx(a.grad_norm, rel=1e-10)
        assert b.update_ratio == pytest.approx(a.update_ratio, rel=1e-10)

    tables = []
    for device in ("cpu", "cuda"):
        with redirect_stdout(io.StringIO()):
            table = cr.summary(sigmoid_mlp(device), input_size=(8, 4), dtypes=[cr.float64])
        tables.append(str(table))
    assert tables[0] == tables[1]
    model = sigmoid_mlp("cpu")
    # device= moves the model, as torchinfo's does.
    cr.summary(model, input_data=cr.tensor(X), device="cuda", verbose=0)
    assert next(model.parameters()).device == "cuda:0"

    # 40 rows: from 32 rows on, Linear's bias gradient takes another path (a product with a
    # cached vector of ones), which a graph-recording backward must not take on a device.
    rows = slice(0, 40)
    expected = cr.inspect.sharpness(
        sigmoid_mlp("cpu"), (cr.tensor(X[rows]), cr.tensor(Y[rows])), nn.MSELoss()
    )
    batch = (cr.tensor(X[rows], device="cuda"), cr.tensor(Y[rows], device="cuda"))
    result = cr.inspect.sharpness(sigmoid_mlp("cuda"), batch, nn.MSELoss())
    assert result.lambda_max == pytest.approx(expected.lambda_max, rel=1e-10)
    assert result.iterations == expected.iterations


# ---- the compiled step -----------------------------------------------------------------------


def conv_step(device: str, compiled: bool, loss_fn: nn.Module, kernels: bool = False) -> tuple:
    cr.manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 2)
    ).double()
    model.to(device)
    optimizer = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)

    def step(x: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    runner = cr.compile(step, kernels=kernels) if compiled else step
    x, y = cr.tensor(IMAGES, device=device), cr.tensor(Y[:8], device=device)
    losses = [runner(x, y) for _ in range(6)]
    return model, losses, runner


@pytest.mark.parametrize("loss_fn", [nn.MSELoss(), nn.L1Loss(), nn.SmoothL1Loss()], ids=str)
def test_a_compiled_step_on_cuda_equals_the_eager_one(loss_fn: nn.Module) -> None:
    eager, eager_losses, _ = conv_step("cuda", False, loss_fn)
    replayed, losses, runner = conv_step("cuda", True, loss_fn)
    assert (runner.recordings, runner.replays, runner.reasons) == (2, 4, [])
    assert all(loss.device == "cuda:0" for loss in losses)
    for p, q in zip(eager.parameters(), replayed.parameters()):  # bit for bit, as on the CPU
        assert q.device == "cuda:0"
        np.testing.assert_array_equal(host(q), host(p))
    assert [host(a) for a in losses] == [host(a) for a in eager_losses]
    cpu, _, _ = conv_step("cpu", False, loss_fn)
    assert_same_parameters(cpu, replayed)


def test_numba_kernels_are_for_the_cpu_a_gpu_step_replays_its_own_operations() -> None:
    pytest.importorskip("numba", reason="the kernels need numba: pip install 'chainrule[numba]'")
    eager, _, _ = conv_step("cuda", False, nn.MSELoss())
    replayed, _, runner = conv_step("cuda", True, nn.MSELoss(), kernels=True)
    (source,) = runner.source()
    assert " = K" not in source and "_fused" not in source  # no kernel on the device's arrays
    for p, q in zip(eager.parameters(), replayed.parameters()):
        np.testing.assert_array_equal(host(q), host(p))


def test_a_replay_recorded_on_one_device_is_not_run_on_the_other() -> None:
    model = mlp("cpu")
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    @cr.compile
    def step(x: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    x, y = cr.tensor(X), cr.tensor(Y)
    for _ in range(3):
        step(x, y)
    assert (step.recordings, step.replays) == (2, 1)
    model.to("cuda")
    cuda_x, cuda_y = x.to("cuda"), y.to("cuda")
    for _ in range(3):
        loss = step(cuda_x, cuda_y)
    assert loss.device == "cuda:0"
    assert (step.recordings, step.replays) == (4, 2)  # recorded anew for the cuda inputs
    reference = mlp("cpu")
    reference_optimizer = optim.SGD(reference.parameters(), lr=0.1)
    for _ in range(6):
        reference_optimizer.zero_grad()
        nn.functional.mse_loss(reference(x), y).backward()
        reference_optimizer.step()
    assert_same_parameters(reference, model)


# ---- metrics ---------------------------------------------------------------------------------


def test_metrics_take_cuda_tensors_and_arrays() -> None:
    predicted = (X[:, 0] > 0).astype(np.int64)
    on_device = cr.tensor(LABELS, device="cuda"), cr.tensor(predicted, device="cuda")
    for metric in (cr.metrics.accuracy, cr.metrics.f1_score, cr.metrics.confusion_matrix):
        expected = metric(LABELS, predicted)
        np.testing.assert_array_equal(metric(*on_device), expected)
        np.testing.assert_array_equal(metric(*(t.to("cuda").array for t in on_device)), expected)
    target, output = cr.tensor(Y, device="cuda"), cr.tensor(Y + X[:, :2] / 10, device="cuda")
    for metric in (cr.metrics.r2_score, cr.metrics.mean_squared_error):
        assert metric(target, output) == pytest.approx(metric(Y, Y + X[:, :2] / 10), rel=1e-12)


def test_fit_a_classifier_on_cuda_with_label_metrics() -> None:
    histories, models = [], []
    for device in (None, "cuda"):
        model = mlp(out=2)
        history = train.fit(
            model,
            nn.CrossEntropyLoss(),
            optim.SGD(model.parameters(), lr=0.3, momentum=0.5),
            (cr.tensor(X), cr.tensor(LABELS)),
            epochs=3,
            batch_size=10,
            metrics=["accuracy", "f1", "precision", "recall"],
            seed=0,
            progress=False,
            device=device,
        )
        histories.append(history)
        models.append(model)
    assert_same_history(*histories)
    assert histories[1].history["accuracy"][-1] > 0.7  # it learned the boundary
    assert_same_parameters(*models)


# ---- the learning-rate range test --------------------------------------------------------------


@pytest.mark.parametrize("moved", ["device=", "by hand"])
def test_lr_find_on_cuda_equals_the_cpu_and_restores_the_model_there(moved: str) -> None:
    data = (cr.tensor(X), cr.tensor(Y))  # on the CPU: batches move as they come

    def find(model: nn.Module, device: Any) -> Any:
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return train.lr_find(
            model, nn.MSELoss(), optimizer, data, steps=30, batch_size=8, sharpness=True,
            device=device,
        )  # fmt: skip

    expected = find(mlp("cpu"), None)
    model = mlp("cpu") if moved == "device=" else mlp("cuda")
    before = [host(p).copy() for p in mlp("cpu").parameters()]
    result = find(model, "cuda" if moved == "device=" else None)
    np.testing.assert_allclose(result.losses, expected.losses, rtol=1e-10)
    assert result.suggestion == pytest.approx(expected.suggestion, rel=1e-10)
    assert result.sharpness == pytest.approx(expected.sharpness, rel=1e-10)
    for p, b in zip(model.parameters(), before):
        assert p.device == "cuda:0"
        np.testing.assert_array_equal(host(p), b)  # the weights are put back, on the device
