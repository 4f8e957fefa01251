"""TrainStep against the four eager lines it replaces: bit for bit, on the fast path and off it."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import TrainStep

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


class CountingStep(TrainStep):
    """Counts the calls that fell back to eager mode, so a test can tell which path ran."""

    fallbacks = 0

    def eager_forward(self, inputs, target):
        self.fallbacks += 1
        return super().eager_forward(inputs, target)


class Shift(nn.Module):
    """An eager piece with a parameter of its own, which the engine, not the fast path, fills."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.shift = nn.Parameter(cr.tensor(np.linspace(-0.5, 0.5, size, dtype=np.float32)))

    def forward(self, x):
        return x + self.shift


def xor_net() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())


def eager_step(model, loss_fn, optimizer, x, y):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.detach()


def state(model: nn.Module) -> list:
    """Parameters, their gradients and the buffers, copied, so later steps cannot change them."""
    arrays = []
    for p in model.parameters():
        arrays.append(p.detach().numpy().copy())
        arrays.append(None if p.grad is None else p.grad.numpy().copy())
    arrays += [b.numpy().copy() for b in model.buffers()]
    return arrays


def run(build, make_loss, make_opt, batches, fast: bool, before=None, seed: int = 0):
    cr.manual_seed(seed)
    model = build()
    loss_fn, optimizer = make_loss(), make_opt(model.parameters())
    step = CountingStep(model, loss_fn, optimizer)
    cr.manual_seed(seed + 1)  # the same dropout masks in both runs
    trace = []
    for i, (x, y) in enumerate(batches):
        if before is not None:
            before(model, i)
        loss = step(x, y) if fast else eager_step(model, loss_fn, optimizer, x, y)
        trace.append((loss.item(), loss.dtype, state(model)))
    return model, step, trace


def assert_same_as_eager(build, make_loss, make_opt, batches, fallback=False, before=None):
    """Runs the batches both ways and holds every step's loss and state to eager's, bit for bit;
    ``fallback`` says whether TrainStep is expected to have run eager mode itself."""
    _, _, want = run(build, make_loss, make_opt, batches, False, before)
    model, step, got = run(build, make_loss, make_opt, batches, True, before)
    assert step.fallbacks == (len(batches) if fallback else 0)
    for i, ((loss, dtype, arrays), eager) in enumerate(zip(got, want)):
        assert (loss, dtype) == eager[:2], f"step {i}: loss {loss} ({dtype}), eager {eager[:2]}"
        for j, (a, b) in enumerate(zip(arrays, eager[2])):
            assert (a is None) == (b is None), f"step {i}, array {j}: grad presence differs"
            assert a is None or np.array_equal(a, b), f"step {i}, array {j} differs from eager"
    return model, got


def xor_batches(steps: int) -> list:
    return [(cr.tensor(XOR_X), cr.tensor(XOR_Y))] * steps


def batches(steps: int, shape=(8, 4), out: int = 1, classes: int = 0, dtype=np.float32) -> list:
    """A new batch every step: float targets with ``out`` columns, or int64 class indices."""
    rng = np.random.default_rng(0)
    made = []
    for _ in range(steps):
        x = rng.normal(size=shape).astype(dtype)
        if classes:
            y = rng.integers(0, classes, shape[0]).astype(np.int64)
        else:
            y = rng.normal(size=(*shape[:-1], out)).astype(dtype)
        made.append((cr.tensor(x), cr.tensor(y)))
    return made


def sgd(lr: float = 0.1, **options) -> Callable:
    return lambda params: optim.SGD(params, lr=lr, **options)


# ---- the fast path -------------------------------------------------------------------------------


def test_xor_matches_eager_for_200_steps_and_learns() -> None:
    _, trace = assert_same_as_eager(xor_net, nn.MSELoss, sgd(0.5), xor_batches(200))
    # At lr=0.5 a 2-2-1 net reaches only the 0.25 plateau in 200 steps; falling to it is learning.
    assert trace[-1][0] < 0.98 * trace[0][0]


OPTIMISERS = {
    "sgd-nesterov": sgd(0.05, momentum=0.9, nesterov=True),
    "adam": lambda p: optim.Adam(p, lr=0.01),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01),
    "adamw": lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.1),
}


@pytest.mark.parametrize("activation", [nn.Tanh, nn.ReLU])
@pytest.mark.parametrize("make_opt", OPTIMISERS.values(), ids=OPTIMISERS.keys())
def test_classifier_with_cross_entropy_and_changing_batches(activation, make_opt) -> None:
    def build():
        return nn.Sequential(nn.Linear(4, 8), activation(), nn.Linear(8, 3))

    assert_same_as_eager(build, nn.CrossEntropyLoss, make_opt, batches(15, classes=3))


EAGER_PIECES = {
    "dropout": lambda: nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.3), nn.Tanh(), nn.Linear(6, 1)),
    "dropout-eval": lambda: nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.3).eval(), nn.Linear(6, 1)),
    "batchnorm": lambda: nn.Sequential(
        nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 1)
    ),
    "batchnorm-first": lambda: nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 1)),
    "leaky-flatten": lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(4, 6), nn.LeakyReLU(0.1), nn.Flatten(), nn.Linear(6, 1)
    ),
    "nested-identity": lambda: nn.Sequential(
        nn.Identity(),
        nn.Sequential(nn.Linear(4, 6), nn.Sequential(nn.Sigmoid(), nn.Identity())),
        nn.Identity(),
        nn.Linear(6, 1),
    ),
    "no-bias": lambda: nn.Sequential(nn.Linear(4, 6, bias=False), nn.Tanh(), nn.Linear(6, 1)),
    "custom-piece": lambda: nn.Sequential(nn.Linear(4, 6), Shift(6), nn.Tanh(), nn.Linear(6, 1)),
}


@pytest.mark.parametrize("build", EAGER_PIECES.values(), ids=EAGER_PIECES.keys())
def test_eager_pieces_in_the_chain(build) -> None:
    assert_same_as_eager(build, nn.MSELoss, sgd(0.1, momentum=0.9), batches(10))


def test_frozen_first_layer_keeps_no_grad_and_does_not_move() -> None:
    def build():
        return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 1))

    def freeze(model, i):  # after the optimiser exists: it refuses frozen parameters
        if i == 0:
            model[0].requires_grad_(False)

    model, _ = assert_same_as_eager(build, nn.MSELoss, sgd(0.1), batches(10), before=freeze)
    cr.manual_seed(0)
    initial = build()
    for frozen, start in zip(model[0].parameters(), initial[0].parameters()):
        assert frozen.grad is None
        assert np.array_equal(frozen.detach().numpy(), start.detach().numpy())
    assert model[2].weight.grad is not None


@pytest.mark.parametrize("uses", [2, 3])
def test_tied_layer_accumulates_gradients_like_eager(uses: int) -> None:
    def build():
        shared = nn.Linear(5, 5)
        middle = [m for _ in range(uses) for m in (shared, nn.Tanh())]
        return nn.Sequential(nn.Linear(4, 5), *middle, nn.Linear(5, 1))

    assert_same_as_eager(build, nn.MSELoss, sgd(0.05), batches(10))


@pytest.mark.parametrize("shape", [(4,), (8, 4), (2, 3, 4)], ids=["1-d", "2-d", "3-d"])
def test_float64_with_summed_mse_and_any_batch_shape(shape) -> None:
    def build():
        return nn.Sequential(nn.Linear(4, 6), nn.Sigmoid(), nn.Linear(6, 2)).double()

    data = batches(10, shape, out=2, dtype=np.float64)
    _, trace = assert_same_as_eager(build, lambda: nn.MSELoss(reduction="sum"), sgd(0.01), data)
    assert trace[0][1] == cr.float64


def test_gradients_equal_eager_and_share_no_memory() -> None:
    def build():
        return nn.Sequential(nn.Linear(4, 6), Shift(6), nn.ReLU(), nn.Linear(6, 6), Shift(6))

    model, _ = assert_same_as_eager(build, nn.MSELoss, sgd(0.1), batches(3, out=6))
    grads = [p.grad.numpy() for p in model.parameters()]
    assert all(g is not None for g in grads)
    for a, b in itertools.combinations(grads, 2):
        assert not np.shares_memory(a, b)


class Detach(nn.Module):
    """Cuts the graph: nothing before it may receive a gradient."""

    def forward(self, x):
        return x.detach()


class UnderNoGrad(nn.Module):
    def forward(self, x):
        with cr.no_grad():
            return x * 2.0


@pytest.mark.parametrize("cut", [Detach, UnderNoGrad])
def test_a_piece_that_cuts_the_graph_stops_the_gradient(cut) -> None:
    def build():
        return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), cut(), nn.Linear(6, 1))

    model, _ = assert_same_as_eager(build, nn.MSELoss, sgd(0.1), batches(3))
    assert model[0].weight.grad is None


# ---- hooks and the fallbacks ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["module", "tensor"])
def test_hooks_run_once_per_step_and_their_results_are_used(where: str) -> None:
    calls = []

    def build():
        model = xor_net()
        if where == "module":
            model[2].register_forward_hook(lambda module, args, out: calls.append(1) or out * 2)
        else:
            model[0].weight.register_hook(lambda g: calls.append(1) or g * -3.0)
        return model

    assert_same_as_eager(build, nn.MSELoss, sgd(0.5), xor_batches(10))
    assert len(calls) == 20  # ten steps eagerly, ten with TrainStep


class Wrapped(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = xor_net()

    def forward(self, x):
        return self.body(x)


def hooked(module: nn.Module) -> nn.Module:
    module.register_forward_pre_hook(lambda module, args: None)
    return module


XOR_WITH_GRAD = [(cr.tensor(XOR_X, requires_grad=True), cr.tensor(XOR_Y))] * 5
PLAIN = contextlib.nullcontext
FALLBACKS = {
    "custom-module": (Wrapped, nn.MSELoss, xor_batches(5), PLAIN),
    "container-hook": (lambda: hooked(xor_net()), nn.MSELoss, xor_batches(5), PLAIN),
    "loss-hook": (xor_net, lambda: hooked(nn.MSELoss()), xor_batches(5), PLAIN),
    "input-requires-grad": (xor_net, nn.MSELoss, XOR_WITH_GRAD, PLAIN),
    "anomaly": (xor_net, nn.MSELoss, xor_batches(5), cr.autograd.detect_anomaly),
}


@pytest.mark.parametrize("build, make_loss, data, context", FALLBACKS.values(), ids=FALLBACKS)
def test_fallbacks_match_eager(build, make_loss, data, context) -> None:
    with context():
        assert_same_as_eager(build, make_loss, sgd(0.5), data, fallback=True)


# ---- errors --------------------------------------------------------------------------------------


def errors(model, x, y, context=PLAIN, freeze: bool = False) -> tuple:
    """The error of the eager step and that of TrainStep, on twin models."""
    caught = []
    for fast in (False, True):
        cr.manual_seed(0)
        m = model()
        loss_fn, optimizer = nn.MSELoss(), optim.SGD(m.parameters(), lr=0.1)
        if freeze:
            m.requires_grad_(False)
        with pytest.raises(Exception) as info, context():
            if fast:
                TrainStep(m, loss_fn, optimizer)(x, y)
            else:
                eager_step(m, loss_fn, optimizer, x, y)
        caught.append(info.value)
    return tuple(caught)


@pytest.mark.parametrize("why", ["no_grad", "all-frozen"])
def test_nothing_that_requires_grad_raises_eagers_error(why: str) -> None:
    context = cr.no_grad if why == "no_grad" else PLAIN
    want, got = errors(xor_net, *xor_batches(1)[0], context, freeze=why == "all-frozen")
    assert type(want) is type(got) is RuntimeError
    assert str(got) == str(want)


def test_wrong_number_of_features_names_the_layer() -> None:
    x = cr.tensor(np.ones((4, 5), np.float32))
    want, got = errors(xor_net, x, cr.tensor(XOR_Y))
    assert isinstance(got, ValueError)
    assert "Linear(in_features=2, out_features=2)" in str(got)
    assert str(got) == str(want)


@pytest.mark.parametrize("which", ["model", "loss_fn", "optimizer"])
def test_constructor_checks_its_arguments(which: str) -> None:
    model = xor_net()
    arguments = {"model": model, "loss_fn": nn.MSELoss(), "optimizer": sgd()(model.parameters())}
    arguments[which] = 42
    with pytest.raises(TypeError, match=which):
        TrainStep(**arguments)


# ---- changes, the result, PyTorch ----------------------------------------------------------------

CHANGES = {
    "append": lambda model: model.append(nn.Tanh()),
    "replace": lambda model: setattr(model, "1", nn.ReLU()),
    "nested": lambda model: model[1].append(nn.Sigmoid()),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_containers_changed_after_the_first_call_are_picked_up(change) -> None:
    def build():
        return nn.Sequential(nn.Linear(4, 5), nn.Sequential(nn.Tanh()), nn.Linear(5, 1))

    def before(model, i):
        if i == 3:
            change(model)

    assert_same_as_eager(build, nn.MSELoss, sgd(0.1), batches(8), before=before)


@pytest.mark.parametrize("make_loss", [nn.MSELoss, nn.L1Loss], ids=["fast", "eager"])
def test_returned_loss_is_a_tensor_without_a_graph(make_loss) -> None:
    model = xor_net()
    loss = TrainStep(model, make_loss(), sgd()(model.parameters()))(*xor_batches(1)[0])
    assert isinstance(loss, cr.Tensor)
    assert loss.requires_grad is False
    assert loss.grad_fn is None
    assert loss.dtype == cr.float32
    assert loss.shape == ()


def test_agrees_with_pytorch() -> None:
    cr.manual_seed(0)
    model = xor_net()
    reference = torch.nn.Sequential(
        torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1), torch.nn.Sigmoid()
    )
    reference.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    step = CountingStep(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.5))
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.5)
    x, y = torch.tensor(XOR_X), torch.tensor(XOR_Y)
    for _ in range(20):
        step(cr.tensor(XOR_X), cr.tensor(XOR_Y))
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(reference(x), y).backward()
        optimizer.step()
    assert step.fallbacks == 0
    for (name, mine), theirs in zip(model.state_dict().items(), reference.state_dict().values()):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


# ---- the forward pass on its own, and fit -------------------------------------------------------


@pytest.mark.parametrize("make_loss", [nn.MSELoss, nn.L1Loss], ids=["fast", "eager"])
def test_forward_gives_eager_output_and_loss_and_waits_for_backward(make_loss) -> None:
    x, y = batches(1, shape=(5, 4))[0]
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1))
    cr.manual_seed(0)
    twin = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1))
    step = CountingStep(model, make_loss(), sgd()(model.parameters()))
    run = step.forward(x, y)
    output = twin(x)
    loss = make_loss()(output, y)
    assert np.array_equal(run.output.numpy(), output.detach().numpy())
    assert run.loss.item() == loss.item()
    assert all(p.grad is None for p in model.parameters())  # nothing flows back yet
    run.backward()
    loss.backward()
    for mine, theirs in zip(model.parameters(), twin.parameters()):
        assert np.array_equal(mine.grad.numpy(), theirs.grad.numpy())
    with pytest.raises(RuntimeError, match="already"):
        run.backward()
    assert step.fallbacks == 0


def test_fit_takes_the_fast_path_and_keeps_eager_results(monkeypatch) -> None:
    from chainrule.data import TensorDataset
    from chainrule.train import fit

    x, y = batches(1, shape=(32, 4), classes=3)[0]
    results = []
    for fast in (True, False):
        fallbacks = []
        original = TrainStep.eager_forward

        def counted(self, inputs, target, original=original, fallbacks=fallbacks):
            fallbacks.append(1)
            return original(self, inputs, target)

        monkeypatch.setattr(TrainStep, "eager_forward", counted)
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        if not fast:  # a hook on the container that changes nothing: every step runs eagerly
            model.register_forward_hook(lambda module, args, out: None)
        history = fit(
            model,
            nn.CrossEntropyLoss(),
            optim.Adam(model.parameters(), lr=0.01),
            TensorDataset(x, y),
            epochs=3,
            batch_size=8,
            seed=0,
            metrics=["accuracy"],
            progress=False,
        )
        assert len(fallbacks) == (0 if fast else 12)
        results.append((history.history, [p.detach().numpy().copy() for p in model.parameters()]))
    (fast_history, fast_params), (eager_history, eager_params) = results
    for key in ("loss", "accuracy"):
        assert fast_history[key] == eager_history[key]
    for a, b in zip(fast_params, eager_params):
        assert np.array_equal(a, b)
