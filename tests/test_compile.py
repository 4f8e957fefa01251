"""chainrule.compile against the eager step it records: bit for bit, for every layer kind, loss
and optimiser, over steps that replay (the first two calls of a kind record); and with numba's
kernels (compiled/kernels/), which sum in another order, to a few units in the last place."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.compiled import CompiledStep

STEPS = 7


class Recurrent(nn.Module):
    """A recurrent layer and a linear head on the last time step: a custom forward."""

    def __init__(self, kind: type) -> None:
        super().__init__()
        self.rnn = kind(3, 5, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def batches(shape: tuple, classes: int = 0, out: int = 1, steps: int = STEPS) -> list:
    """A new batch every step: class indices, or float targets with ``out`` columns."""
    rng = np.random.default_rng(0)
    made = []
    for _ in range(steps):
        x = cr.tensor(rng.normal(size=shape).astype(np.float32))
        if classes:
            y = cr.tensor(rng.integers(0, classes, shape[0]))
        else:
            y = cr.tensor(rng.normal(size=(shape[0], out)).astype(np.float32))
        made.append((x, y))
    return made


def standard_step(model, loss_fn, optimizer) -> Callable:
    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def state(model: nn.Module) -> list:
    """Parameters, gradients and buffers, copied."""
    arrays = []
    for p in model.parameters():
        arrays.append(p.detach().numpy().copy())
        arrays.append(None if p.grad is None else p.grad.numpy().copy())
    return arrays + [b.numpy().copy() for b in model.buffers()]


def trace(
    build,
    make_loss,
    make_opt,
    data,
    compiled,
    schedule=None,
    make_step=standard_step,
    kernels=False,
):
    """Every step's loss and state, eager or compiled, from the same seeds."""
    cr.manual_seed(0)
    model = build()
    loss_fn, optimizer = make_loss(), make_opt(model.parameters())
    scheduler = None if schedule is None else schedule(optimizer)
    step = make_step(model, loss_fn, optimizer)
    if compiled:
        step = CompiledStep(step, kernels=kernels)
    cr.manual_seed(1)  # the same dropout masks both ways
    steps = []
    for x, y in data:
        loss = step(x, y)
        steps.append((loss.item(), loss.dtype, state(model)))
        if scheduler is not None:
            scheduler.step()
    return step, steps


def assert_exact(
    build, make_loss, make_opt, data, kernels_close: bool = True, **options
) -> CompiledStep:
    _, want = trace(build, make_loss, make_opt, data, False, **options)
    step, got = trace(build, make_loss, make_opt, data, True, **options)
    assert step.reasons == []
    assert step.replays == len(data) - 2, "the steps after the first two must be replays"
    for i, ((loss, dtype, arrays), eager) in enumerate(zip(got, want)):
        assert (loss, dtype) == eager[:2], f"step {i}: loss {loss} ({dtype}), eager {eager[:2]}"
        for j, (a, b) in enumerate(zip(arrays, eager[2])):
            assert (a is None) == (b is None), f"step {i}, array {j}: grad presence differs"
            assert a is None or np.array_equal(a, b), f"step {i}, array {j} differs from eager"
    if kernels_close:
        assert_close_with_kernels(build, make_loss, make_opt, data, want, **options)
    return step


def assert_close_with_kernels(build, make_loss, make_opt, data, want, **options) -> None:
    """The same steps replayed through numba's kernels: every loss, parameter, gradient and
    buffer within a few float32 roundings of eager mode's."""
    step, got = trace(build, make_loss, make_opt, data, True, kernels=True, **options)
    assert step.reasons == []
    assert step.replays == len(data) - 2
    for i, ((loss, dtype, arrays), eager) in enumerate(zip(got, want)):
        assert dtype == eager[1]
        assert loss == pytest.approx(eager[0], rel=1e-5, abs=1e-6), f"step {i}: loss"
        for j, (a, b) in enumerate(zip(arrays, eager[2])):
            assert (a is None) == (b is None), f"step {i}, array {j}: grad presence differs"
            if a is not None:
                assert a.dtype == b.dtype
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"step {i}, {j}")


def adam(params):
    return optim.Adam(params, lr=0.01)


# ---- layers and losses ---------------------------------------------------------------------------

MLPS = {
    "relu-mse": lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)),
    "sigmoid-mse": lambda: nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 1)),
    "tanh-sigmoid-mse": lambda: nn.Sequential(
        nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid()
    ),
}


@pytest.mark.parametrize("build", MLPS.values(), ids=MLPS.keys())
def test_mlp_with_mse(build) -> None:
    assert_exact(build, nn.MSELoss, adam, batches((6, 4)))


def test_mlp_with_cross_entropy() -> None:
    def build():
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

    assert_exact(build, nn.CrossEntropyLoss, adam, batches((6, 4), classes=3))


def test_cnn_with_batch_norm_and_pooling() -> None:
    def build():
        return nn.Sequential(
            nn.Conv2d(1, 2, 3, padding=1),
            nn.BatchNorm2d(2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * 4 * 4, 3),
        )

    # Not compared through the kernels: batch norm removes what the convolution's bias adds,
    # so the bias's gradient is rounding noise, which Adam scales to whole steps; a rounding
    # anywhere upstream (even BLAS's, on arrays aligned otherwise) moves that bias freely.
    step = assert_exact(
        build, nn.CrossEntropyLoss, adam, batches((4, 1, 8, 8), classes=3), kernels_close=False
    )
    # The convolution, pooling and linear layers and the loss (its coefficients made from
    # the targets inside the operation) are on the tape; batch norm (running statistics) is
    # called as itself.
    (source,) = step.source()
    assert source.count(".forward((") == 1
    assert "ignore_index=-100, where='cross_entropy'" in source


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU])
def test_recurrent_model_with_custom_forward(kind) -> None:
    step = assert_exact(lambda: Recurrent(kind), nn.MSELoss, adam, batches((3, 4, 3), out=2))
    (source,) = step.source()
    assert ".forward((" not in source  # every operation on the tape


class StackedLSTM(nn.Module):
    """Two bidirectional layers started from learnt states: the states reach the LSTM inside
    a tuple, and every path of the layer (both directions, given states, a layer's input that
    wants its gradient) runs."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 6, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(12, 2)
        self.h0 = nn.Parameter(cr.randn(4, 1, 6) * 0.5)
        self.c0 = nn.Parameter(cr.randn(4, 1, 6) * 0.5)

    def forward(self, x):
        batch = x.shape[0]
        states = (self.h0.expand(4, batch, 6), self.c0.expand(4, batch, 6))
        out, _ = self.lstm(x, states)
        return self.head(out[:, -1])


def test_a_module_given_tensors_inside_a_tuple_replays() -> None:
    # The tensors of an LSTM's (h0, c0) are the step's values, not constants of the recording.
    step = assert_exact(StackedLSTM, nn.MSELoss, adam, batches((5, 7, 3), out=2))
    (source,) = step.source()
    assert ".forward((" not in source


def test_dropout_draws_new_masks_in_eager_order() -> None:
    def build():
        return nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Tanh(), nn.Linear(8, 1))

    assert_exact(build, nn.MSELoss, adam, batches((6, 4)))
    # Not one mask frozen at recording: with nothing learnt, one batch gives other losses.
    cr.manual_seed(0)
    model = build()
    frozen = optim.SGD(model.parameters(), lr=0.0)
    step = CompiledStep(standard_step(model, nn.MSELoss(), frozen))
    x, y = batches((6, 4), steps=1)[0]
    losses = {step(x, y).item() for _ in range(6)}
    assert step.replays == 4
    assert len(losses) == 6


# ---- optimisers and schedules --------------------------------------------------------------------

OPTIMISERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.1),
    "sgd-momentum": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
    "sgd-nesterov": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda p: optim.Adam(p, lr=0.01),
    "adamw": lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.1),
    "amsgrad": lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.1),
    "adadelta": lambda p: optim.Adadelta(p),
    "adamax": lambda p: optim.Adamax(p, lr=0.01),
    "nadam": lambda p: optim.NAdam(p, lr=0.01),
    "radam": lambda p: optim.RAdam(p, lr=0.01),
    "asgd": lambda p: optim.ASGD(p, lr=0.01),
}


@pytest.mark.parametrize("make_opt", OPTIMISERS.values(), ids=OPTIMISERS.keys())
def test_every_optimiser(make_opt) -> None:
    def build():
        return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))

    assert_exact(build, nn.CrossEntropyLoss, make_opt, batches((5, 4), classes=3))


def test_scheduler_between_steps_changes_the_replayed_rate() -> None:
    def build():
        return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 1))

    def schedule(optimizer):
        return optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)

    assert_exact(build, nn.MSELoss, adam, batches((5, 4)), schedule=schedule)


def test_scheduler_inside_the_step_is_called_again() -> None:
    def make_step(model, loss_fn, optimizer):
        scheduler = optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1 / (1 + epoch))

        def step(x, y):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
            return loss

        return step

    def build():
        return nn.Sequential(nn.Linear(4, 1))

    sgd = lambda p: optim.SGD(p, lr=0.1)  # noqa: E731
    assert_exact(build, nn.MSELoss, sgd, batches((5, 4)), make_step=make_step)


# ---- what the replay gives back ------------------------------------------------------------------


def test_returns_the_step_result_without_a_graph() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    @cr.compile
    def step(x, y):
        optimizer.zero_grad()
        out = model(x)
        loss = ((out - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        with cr.no_grad():
            error = (out - y).abs().mean()
        return {"loss": loss, "output": out, "mae": error, "tag": "ok"}

    data = batches((5, 4), out=2, steps=4)
    results = [step(x, y) for x, y in data]
    assert step.replays == 2
    last = results[-1]
    assert last["tag"] == "ok"
    assert last["output"].shape == (5, 2)
    for name in ("loss", "output", "mae"):
        assert isinstance(last[name], cr.Tensor)
        assert not last[name].requires_grad and last[name].grad_fn is None
    assert last["mae"].item() == pytest.approx((last["output"] - data[-1][1]).abs().mean().item())


def test_decorator_with_options_and_the_replay_source() -> None:
    model = nn.Linear(3, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    @cr.compile(cache_size=2)
    def step(x):
        optimizer.zero_grad()
        loss = model(x).sum()
        loss.backward()
        optimizer.step()
        return loss

    assert isinstance(step, CompiledStep) and step.cache_size == 2
    for rows in (1, 2, 3, 1):  # three kinds in a cache of two: the first is recorded again
        for _ in range(3):
            step(cr.ones(rows, 3))
    assert step.recordings == 8 and step.replays == 4
    assert all(text.startswith("def replay(i0):") for text in step.source())
    assert "chainrule.compile" in repr(step)
