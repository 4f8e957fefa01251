"""chainrule.compile where a replay could go wrong: steps it declines (and says why), changes it
notices (new shapes, eval mode, frozen or added parameters, hooks), and fit(compile=True)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.autograd import function as function_module
from chainrule.compiled import CompiledStep
from chainrule.nn.module import Module

rng = np.random.default_rng(0)
XS = [cr.tensor(rng.normal(size=(5, 4)).astype(np.float32)) for _ in range(8)]
YS = [cr.tensor(rng.normal(size=(5, 1)).astype(np.float32)) for _ in range(8)]


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 1))


def mse_step(model, optimizer):
    def step(x, y):
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        return loss

    return step


def both_ways(make_step, build=mlp, steps=8, data=None, between=None):
    """The final parameters and gradients of the eager and the compiled run, and the
    compiled step; the same seeds both ways."""
    data = data or list(zip(XS, YS))
    results = []
    for compiled in (False, True):
        cr.manual_seed(0)
        model = build()
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        step = make_step(model, optimizer)
        if compiled:
            step = CompiledStep(step)
        cr.manual_seed(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for i in range(steps):
                if between is not None:
                    between(model, i)
                step(*data[i % len(data)])
        arrays = [p.detach().numpy().copy() for p in model.parameters()]
        arrays += [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()]
        results.append(arrays)
    eager, compiled = results
    for a, b in zip(eager, compiled):
        assert (a is None) == (b is None)
        assert a is None or np.array_equal(a, b)
    return step


# ---- steps that run eagerly, and why -------------------------------------------------------------


def mean_square(model, x, y):
    return ((model(x) - y) ** 2).mean()


def reads_a_value(model, optimizer, x, y, calls):
    optimizer.zero_grad()
    loss = mean_square(model, x, y)
    if loss.item() > 0.5:  # decided by a value: not replayable
        loss = loss * 2
    loss.backward()


def clips_gradients(model, optimizer, x, y, calls):
    optimizer.zero_grad()
    mean_square(model, x, y).backward()
    nn.utils.clip_grad_norm_(model.parameters(), 0.05)


def counts_calls(model, optimizer, x, y, calls):
    optimizer.zero_grad()
    (mean_square(model, x, y) * float(calls)).backward()  # a new constant each call


def changes_in_place(model, optimizer, x, y, calls):
    optimizer.zero_grad()
    out = model(x) * 1.0
    out += 1.0
    ((out - y) ** 2).mean().backward()


def warms_up(model, optimizer, x, y, calls):
    for group in optimizer.param_groups:  # the rate set by hand, not by a scheduler
        group["lr"] = 0.1 * min(1.0, calls / 4)
    optimizer.zero_grad()
    mean_square(model, x, y).backward()


def clears_private_gradients(model, optimizer, x, y, calls):
    for p in model.parameters():
        p._grad = None
    mean_square(model, x, y).backward()


EAGER = {
    "value-read": (reads_a_value, "reads a tensor's values in Python (item) outside any module"),
    "clip-gradients": (clips_gradients, "changes gradients outside operations before Optimizer"),
    "python-counter": (counts_calls, "other operations on its second call"),
    "in-place": (changes_in_place, "changes a tensor in place outside any module"),
    "learning-rate": (warms_up, "changes an optimiser's settings before Optimizer.zero_grad"),
    "private-grad": (clears_private_gradients, "changes gradients outside operations before back"),
}


@pytest.mark.parametrize("body, reason", EAGER.values(), ids=EAGER.keys())
def test_steps_that_cannot_be_replayed_run_eagerly_and_say_why(body, reason) -> None:
    def make_step(model, optimizer):
        calls = [0]

        def step(x, y):
            calls[0] += 1
            body(model, optimizer, x, y, calls[0])
            optimizer.step()

        return step

    step = both_ways(make_step)
    assert step.replays == 0
    assert len(step.reasons) == 1 and reason in step.reasons[0]


def test_the_reason_is_a_warning_given_once() -> None:
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    @cr.compile
    def step(x, y):
        reads_a_value(model, optimizer, x, y, 0)

    with pytest.warns(RuntimeWarning, match=r"runs eagerly: .*\(item\)"):
        step(XS[0], YS[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step(XS[1], YS[1])


@pytest.mark.parametrize("clear", ["model.zero_grad", "grad = None"])
def test_gradients_cleared_in_the_step_are_cleared_in_the_replay(clear) -> None:
    def make_step(model, optimizer):
        def step(x, y):
            if clear == "model.zero_grad":
                model.zero_grad()
            else:
                for p in model.parameters():
                    p.grad = None
            mean_square(model, x, y).backward()
            optimizer.step()

        return step

    assert both_ways(make_step).replays == 6


class Square(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


class SquareLayer(Module):
    def forward(self, x):
        return Square.apply(x)


def test_a_custom_function_is_replayed_eagerly_inside_its_module() -> None:
    def build():
        return nn.Sequential(nn.Linear(4, 6), SquareLayer(), nn.Linear(6, 1))

    step = both_ways(mse_step, build)
    assert step.replays == 6
    assert step.source()[0].count(".forward((") == 1  # the layers around it are on the tape

    def top_level(model, optimizer):
        def step(x, y):
            optimizer.zero_grad()
            Square.apply(model(x) - y).mean().backward()
            optimizer.step()

        return step

    step = both_ways(top_level)
    assert step.replays == 0 and "SquareBackward" in step.reasons[0]


def test_recording_leaves_eager_mode_as_it_was_even_after_an_error() -> None:
    call, step_method = Module.__call__, optim.SGD.step

    @cr.compile
    def failing(x):
        nn.Linear(3, 1)(x)

    with pytest.raises(ValueError, match="Linear"):
        failing(cr.ones(2, 5))
    assert function_module.recorder is None
    assert Module.__call__ is call and optim.SGD.step is step_method
    assert not isinstance(cr.random.DEFAULT.numpy, cr.compiled.intercept.WatchedGenerator)


# ---- changes a replay notices --------------------------------------------------------------------


def test_a_smaller_last_batch_is_recorded_once_as_a_second_kind() -> None:
    small = (cr.tensor(rng.normal(size=(2, 4)).astype(np.float32)), YS[0][:2])
    epoch = [*zip(XS[:3], YS[:3]), small]
    step = both_ways(mse_step, steps=16, data=epoch)
    assert step.recordings == 4  # two of each batch size
    assert step.replays == 12


def test_eval_mode_frozen_and_added_parameters_record_again() -> None:
    def build():
        return nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.3), nn.BatchNorm1d(6), nn.Linear(6, 1))

    def toggle(model, i):
        model.train(i % 3 != 2)  # eval now and then, as for a validation pass

    step = both_ways(mse_step, build, steps=14, between=toggle)
    assert step.replays > 0 and step.reasons == []

    def freeze(model, i):
        model[0].weight.requires_grad_(i < 4)
        if i == 5:
            model.append(nn.Tanh())

    step = both_ways(mse_step, steps=10, between=freeze)
    assert step.replays == 5 and step.recordings == 5


def test_module_hooks_run_on_every_replay() -> None:
    calls = []

    def hook_later(model, i):
        if i == 4:
            model[1].register_forward_hook(lambda module, args, out: calls.append(i) or out * 2)

    step = both_ways(mse_step, between=hook_later)
    assert len(calls) == 8  # four steps each way, the compiled ones replays
    assert step.replays == 4


def test_gradients_accumulated_over_steps_and_two_backward_passes() -> None:
    def accumulating(model, optimizer):
        def step(x, y):  # no zero_grad: gradients add up over calls
            ((model(x) - y) ** 2).mean().backward()

        return step

    assert both_ways(accumulating).replays == 6

    def two_losses(model, optimizer):
        def step(x, y):
            optimizer.zero_grad()
            out = model(x)
            ((out - y) ** 2).mean().backward(retain_graph=True)
            out.abs().mean().backward()
            optimizer.step()

        return step

    assert both_ways(two_losses).replays == 6


def test_an_input_that_requires_grad_gets_its_gradient() -> None:
    cr.manual_seed(0)
    model = mlp()

    @cr.compile
    def saliency(x):
        model.zero_grad()
        model(x).sum().backward()

    for x in XS[:4]:
        x = x.detach().requires_grad_()
        saliency(x)
        twin = x.detach().requires_grad_()
        model(twin).sum().backward()
        assert np.array_equal(x.grad.numpy(), twin.grad.numpy())
    assert saliency.replays == 2


# ---- fit -----------------------------------------------------------------------------------------


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(3, 4, batch_first=True)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class GradientNorms(cr.train.Callback):
    def __init__(self) -> None:
        self.norms = []

    def on_backward_end(self, step, logs):
        grads = [p.grad for p in self.model.parameters()]
        self.norms.append(sum(float((g * g).sum()) for g in grads if g is not None))


def test_fit_compiled_equals_eager_and_callbacks_see_gradients(monkeypatch) -> None:
    from chainrule.data import TensorDataset
    from chainrule.train import loop

    runners = []

    class Watched(loop.TrainStep):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            runners.append(self)

    monkeypatch.setattr(loop, "TrainStep", Watched)

    x = cr.tensor(rng.normal(size=(22, 5, 3)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 2, 22))
    results = []
    for compiled in (False, True):
        cr.manual_seed(0)
        model = Recurrent()
        norms = GradientNorms()
        history = cr.train.fit(
            model,
            nn.CrossEntropyLoss(),
            optim.Adam(model.parameters(), lr=0.01),
            TensorDataset(x, y),
            epochs=3,
            batch_size=8,  # 8, 8 and a last batch of 6
            seed=0,
            metrics=["accuracy"],
            callbacks=[norms],
            progress=False,
            compile=compiled,
        )
        params = [p.detach().numpy().copy() for p in model.parameters()]
        results.append((history.history, norms.norms, params))
    (eager_history, eager_norms, eager_params), (history, norms, params) = results
    assert runners[0].compiled.recordings == 0  # compile=False: a custom model runs eagerly
    assert runners[1].compiled.replays == 9 - 4  # two recordings per batch size
    for key in ("loss", "accuracy"):
        assert history[key] == eager_history[key]
    assert norms == eager_norms and all(n > 0 for n in norms)
    for a, b in zip(params, eager_params):
        assert np.array_equal(a, b)


def test_the_same_tensor_twice_is_another_kind_of_input() -> None:
    def run(compiled: bool) -> list:
        cr.manual_seed(0)
        layer = nn.Linear(4, 1)

        def step(a, b):
            layer.zero_grad()
            (layer(a) * b.sum()).sum().backward()

        step = CompiledStep(step) if compiled else step
        grads = []
        for i in range(6):
            a = XS[i].detach().requires_grad_()
            b = a if i >= 3 else XS[i + 1].detach().requires_grad_()
            step(a, b)
            grads.append((a.grad.numpy().copy(), layer.weight.grad.numpy().copy()))
        return grads

    for (a, w), (a_eager, w_eager) in zip(run(True), run(False)):
        assert np.array_equal(a, a_eager) and np.array_equal(w, w_eager)
