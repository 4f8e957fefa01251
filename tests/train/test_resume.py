"""Resuming training exactly: 2 epochs, a stop, 2 more in a new process equal 4 in one go.

The subprocess test runs this file as a script three times: process A trains 2 epochs of every
configuration with a checkpoint, process B starts from other seeds and resumes each to 4, and
process C trains 4 epochs straight. The configurations cover every optimiser of
``chainrule.optim`` (LBFGS through the closure that ``fit`` gives it), the schedulers stepped
per epoch and per step, and the three sources of the shuffling order: the loader's own seeded
generator, chainrule's global generator, and a user's DataLoader generator. Every model has
Dropout, which draws from the global generator.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, RandomSampler, TensorDataset
from chainrule.optim import lr_scheduler
from chainrule.train import fit

OPTIMIZERS = {
    "SGD": lambda p: optim.SGD(p, lr=0.1),
    "SGD-nesterov": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "Adam": lambda p: optim.Adam(p, lr=0.01),
    "Adam-amsgrad": lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
    "AdamW": lambda p: optim.AdamW(p, lr=0.01),
    "RMSprop": lambda p: optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5),
    "Adagrad": lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01),
    "Adadelta": lambda p: optim.Adadelta(p, lr=1.0),
    "Adamax": lambda p: optim.Adamax(p, lr=0.01),
    "NAdam": lambda p: optim.NAdam(p, lr=0.01),
    "RAdam": lambda p: optim.RAdam(p, lr=0.01, decoupled_weight_decay=True, weight_decay=0.01),
    "ASGD": lambda p: optim.ASGD(p, lr=0.05, t0=3),
    "LBFGS": lambda p: optim.LBFGS(p, lr=0.5, history_size=3, max_iter=4),
}

SCHEDULERS = {
    "none": lambda o: None,
    "StepLR": lambda o: lr_scheduler.StepLR(o, step_size=1, gamma=0.7),
    "MultiStepLR": lambda o: lr_scheduler.MultiStepLR(o, milestones=[1, 3], gamma=0.5),
    "ExponentialLR": lambda o: lr_scheduler.ExponentialLR(o, gamma=0.95),
    "CosineAnnealingLR": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=3),
    "CosineAnnealingWarmRestarts": lambda o: lr_scheduler.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2
    ),
    "LinearLR": lambda o: lr_scheduler.LinearLR(o, start_factor=0.3, total_iters=3),
    "ConstantLR": lambda o: lr_scheduler.ConstantLR(o, factor=0.5, total_iters=6),
    "OneCycleLR": lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=16),
    "CyclicLR": lambda o: lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3),
    "LambdaLR": lambda o: lr_scheduler.LambdaLR(o, lambda epoch: 0.9**epoch),
    "MultiplicativeLR": lambda o: lr_scheduler.MultiplicativeLR(o, lambda epoch: 0.8),
    "SequentialLR": lambda o: lr_scheduler.SequentialLR(
        o,
        [
            lr_scheduler.LinearLR(o, start_factor=0.5, total_iters=2),
            lr_scheduler.ExponentialLR(o, 0.9),
        ],
        [2],
    ),
    "ChainedScheduler": lambda o: lr_scheduler.ChainedScheduler(
        [lr_scheduler.ConstantLR(o, factor=0.5, total_iters=5), lr_scheduler.ExponentialLR(o, 0.9)]
    ),
    "ReduceLROnPlateau": lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=0),
    "PolynomialLR": lambda o: lr_scheduler.PolynomialLR(o, total_iters=10, power=2.0),
}

# (optimiser, scheduler, scheduler_interval, where the shuffling order comes from)
CONFIGS = [
    ("SGD", "none", "epoch", "seed"),
    ("SGD-nesterov", "CyclicLR", "step", "global"),
    ("Adam", "OneCycleLR", "step", "seed"),
    ("Adam-amsgrad", "StepLR", "epoch", "generator"),
    ("AdamW", "CosineAnnealingWarmRestarts", "step", "seed"),
    ("RMSprop", "MultiStepLR", "epoch", "seed"),
    ("Adagrad", "ExponentialLR", "step", "global"),
    ("Adadelta", "CosineAnnealingLR", "epoch", "seed"),
    ("Adamax", "LinearLR", "epoch", "global"),
    ("NAdam", "ConstantLR", "step", "seed"),
    ("RAdam", "LambdaLR", "epoch", "generator"),
    ("ASGD", "MultiplicativeLR", "epoch", "global"),
    ("SGD-nesterov", "SequentialLR", "epoch", "seed"),
    ("Adam", "ChainedScheduler", "step", "global"),
    ("RMSprop", "ReduceLROnPlateau", "epoch", "global"),
    ("AdamW", "PolynomialLR", "step", "seed"),
    ("Adamax", "none", "epoch", "generator"),
    ("LBFGS", "StepLR", "epoch", "seed"),
]


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    return x, y


def _run(config: tuple[str, str, str, str], init_seed: int, **fit_args):
    """Build the configuration's model, optimiser and scheduler from ``init_seed`` and fit."""
    opt_name, sched_name, interval, order = config
    cr.manual_seed(init_seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
    optimizer = OPTIMIZERS[opt_name](model.parameters())
    scheduler = SCHEDULERS[sched_name](optimizer)
    x, y = _data()
    if order == "generator":
        train = DataLoader(
            TensorDataset(cr.tensor(x), cr.tensor(y)),
            batch_size=16,
            shuffle=True,
            generator=cr.Generator().manual_seed(3),
        )
    else:
        train = (x, y)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        train,
        val_data=(x[:16], y[:16]),
        batch_size=16,
        scheduler=scheduler,
        scheduler_interval=interval,
        seed=1 if order == "seed" else None,
        progress=False,
        **fit_args,
    )
    return model, history


def _parameters(model) -> list[np.ndarray]:
    return [tensor.numpy() for tensor in model.state_dict().values()]


def main(phase: str, directory: str) -> None:
    """One process of the subprocess test: A (2 epochs, checkpoint), B (resume to 4 from other
    seeds), C (4 straight); B and C write their parameters and losses to ``directory``."""
    results = {}
    for i, config in enumerate(CONFIGS):
        path = os.path.join(directory, f"config{i}.ckpt")
        if phase == "A":
            _run(config, init_seed=0, epochs=2, checkpoint=path)
            continue
        if phase == "B":
            model, history = _run(config, init_seed=123, epochs=4, resume_from=path)
        else:
            model, history = _run(config, init_seed=0, epochs=4)
        for k, array in enumerate(_parameters(model)):
            results[f"{i}.param{k}"] = array
        results[f"{i}.loss"] = np.array(history["loss"])
        results[f"{i}.epochs"] = np.array(history.epoch)
    if phase != "A":
        np.savez(os.path.join(directory, f"{phase}.npz"), **results)


def _script(phase: str, directory: Path) -> subprocess.Popen:
    source = str(Path(cr.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([source, os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen(
        [sys.executable, __file__, phase, str(directory)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output


def test_resuming_in_a_new_process_equals_training_straight_through(tmp_path) -> None:
    first, straight = _script("A", tmp_path), _script("C", tmp_path)
    _finish(first)
    _finish(straight)
    _finish(_script("B", tmp_path))
    resumed, expected = np.load(tmp_path / "B.npz"), np.load(tmp_path / "C.npz")
    assert sorted(resumed.files) == sorted(expected.files)
    for i, config in enumerate(CONFIGS):
        assert resumed[f"{i}.epochs"].tolist() == [0, 1, 2, 3], config
        assert np.array_equal(resumed[f"{i}.loss"], expected[f"{i}.loss"]), config
    for name in expected.files:
        assert np.array_equal(resumed[name], expected[name]), (
            name,
            CONFIGS[int(name.split(".")[0])],
        )


# ---- fit twice in one process: the pre-flight check draws no random numbers ---------------------


class Noisy(nn.Module):
    """A layer whose forward draws from the global generator in train and in eval mode."""

    def forward(self, x):
        return x + 0.01 * cr.randn(*x.shape)


def _loader(kind: str, x: np.ndarray, y: np.ndarray):
    dataset = TensorDataset(cr.tensor(x), cr.tensor(y))
    if kind == "generator":
        return DataLoader(
            dataset, batch_size=16, shuffle=True, generator=cr.Generator().manual_seed(7)
        )
    if kind == "sampler":
        sampler = RandomSampler(dataset, generator=np.random.default_rng(7))
        return DataLoader(dataset, batch_size=16, sampler=sampler)
    return (x, y)  # shuffled from chainrule's global generator (seed=None)


@pytest.mark.parametrize("kind", ["generator", "sampler", "global"])
def test_fit_twice_equals_fit_once_for_twice_the_epochs(kind) -> None:
    x, y = _data()
    finals = []
    for splits in ([4], [2, 2], [1, 3]):
        cr.manual_seed(11)
        model = nn.Sequential(Noisy(), nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 3))
        optimizer = optim.Adam(model.parameters(), lr=0.01)
        scheduler = lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.8)
        train = _loader(kind, x, y)
        for epochs in splits:
            fit(
                model,
                nn.CrossEntropyLoss(),
                optimizer,
                train,
                epochs=epochs,
                batch_size=16,
                scheduler=scheduler,
                val_data=(x[:8], y[:8]),
                progress=False,
            )
        finals.append(_parameters(model))
    for other in finals[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(finals[0], other))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])


def _stopping_run(epochs: int, **fit_args):
    cr.manual_seed(0)
    x = cr.linspace(-1, 1, 32).reshape(32, 1)
    model = nn.Linear(1, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    data = DataLoader(TensorDataset(x, 3 * x), batch_size=8)
    history = fit(model, nn.MSELoss(), optimizer, data, epochs=epochs, progress=False, **fit_args)
    return model, history


@pytest.mark.parametrize(
    "stop",
    [
        {"callbacks": "early"},
        {"stop_at_loss": 0.05},
    ],
    ids=["EarlyStopping", "stop_at_loss"],
)
def test_a_run_stopped_where_its_checkpoint_was_written_stays_stopped(tmp_path, stop) -> None:
    """A run whose first part ended at the very epoch where early stopping (or stop_at_loss)
    ended the uninterrupted run: resuming it trains no further, as the uninterrupted run."""

    def arguments() -> dict:
        if stop.get("callbacks") == "early":
            return {"callbacks": [cr.train.EarlyStopping("loss", patience=2, min_delta=0.5)]}
        return dict(stop)

    whole, whole_history = _stopping_run(100, **arguments())
    epochs = len(whole_history.epoch)
    assert epochs < 100, "the stop acted"
    path = tmp_path / "part.ckpt"
    _stopping_run(epochs, checkpoint=path, **arguments())
    resumed, history = _stopping_run(100, resume_from=path, **arguments())
    assert history.epoch == whole_history.epoch
    assert history.stop_reason == whole_history.stop_reason
    for p, q in zip(whole.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(q.detach().numpy(), p.detach().numpy())


def test_a_run_stopped_by_its_step_budget_goes_on_with_a_larger_one(tmp_path) -> None:
    path = tmp_path / "part.ckpt"
    _stopping_run(100, max_steps=8, checkpoint=path)  # two whole epochs of 4 steps
    _, history = _stopping_run(100, max_steps=12, resume_from=path)
    _, straight = _stopping_run(100, max_steps=12)
    assert history.steps == 12 and history.history["loss"] == straight.history["loss"]
