"""chainrule.distributed across real processes: each test launches ``mpiexec -n 2`` on this file.

The file is also the program the processes run (``python test_distributed.py SCENARIO OUT``,
the block at the bottom), so each scenario sits beside the assertions on its results. Ranks
write their results under OUT; the test compares them with one process trained here, in
float64, on the batch that the two ranks share between them (B samples each, 2B in all).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy
import pytest

import chainrule as cr
from chainrule import nn, optim

WORLD = 2  # processes launched by every test
B = 4  # samples per rank per step
STEPS = 5
# Parameters of the MLP 5-7-3 in float64: 280, 56, 168 and 24 bytes. A cap of 300 bytes makes
# two buckets, [weight 1, bias 1] and [weight 2, bias 2]: two Allreduce calls per step.
SMALL_BUCKET_MB = 300 / 2**20
TIMEOUT = 60  # seconds for one launch, start to finish


def make_model(seed: int) -> nn.Module:
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()


def make_optimizer(name: str, params: Any) -> Any:
    if name == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9)
    return optim.Adam(params, lr=0.01)


def step_data(steps: int) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Inputs (steps, 2B, 5) and targets (steps, 2B, 3): rank r trains on rows rB..rB+B-1."""
    rng = numpy.random.default_rng(7)
    return rng.standard_normal((steps, WORLD * B, 5)), rng.standard_normal((steps, WORLD * B, 3))


def fit_data() -> tuple[numpy.ndarray, numpy.ndarray]:
    rng = numpy.random.default_rng(11)
    return rng.standard_normal((24, 5)), rng.standard_normal((24, 3))


def arrays(model: nn.Module) -> list[numpy.ndarray]:
    return [p.array.copy() for p in model.parameters()]


def mse(output: cr.Tensor, target: numpy.ndarray) -> cr.Tensor:
    return ((output - cr.tensor(target)) ** 2).mean()


# ---- launching ---------------------------------------------------------------------------------


def mpiexec() -> str:
    """mpiexec of this Python's environment (the mpich wheel puts it there), else of PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpiexec")
    assert found, 'mpiexec not found next to Python nor on PATH: pip install "chainrule[mpi]"'
    return found


def launch(scenario: str, out: Path, *args: str, ranks: int | None = WORLD) -> Any:
    """Run this file's ``scenario`` in ``ranks`` processes (None: plain python, no mpiexec)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [sys.executable, __file__, scenario, str(out), *args]
    if ranks is not None:
        command = [mpiexec(), "-n", str(ranks), *command]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    done.elapsed = time.monotonic() - started
    return done


def check(done: Any) -> None:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def results(out: Path, rank: int) -> dict[str, Any]:
    with numpy.load(out / f"rank{rank}.npz", allow_pickle=False) as saved:
        return dict(saved)


# ---- the tests -----------------------------------------------------------------------------------


def reference_steps(optimizer: str, steps: int) -> list[numpy.ndarray]:
    """One process, rank 0's initial model, batches of 2B: what both ranks must end with."""
    model = make_model(seed=100)
    opt = make_optimizer(optimizer, model.parameters())
    x, y = step_data(steps)
    for step in range(steps):
        opt.zero_grad()
        mse(model(cr.tensor(x[step])), y[step]).backward()
        opt.step()
    return arrays(model)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The train scenario, run once per optimiser for the tests that read its results."""
    folders = {}
    for optimizer in ("sgd", "adam"):
        folders[optimizer] = out = tmp_path_factory.mktemp(optimizer)
        check(launch("train", out, optimizer))
    return folders


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fit")
    check(launch("fit", out))
    return out


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_two_ranks_take_the_steps_of_one_process_on_the_whole_batch(
    trained: dict[str, Path], optimizer: str
) -> None:
    out = trained[optimizer]
    expected = reference_steps(optimizer, STEPS)
    first, second = results(out, 0), results(out, 1)
    for i, want in enumerate(expected):
        numpy.testing.assert_allclose(first[f"after{i}"], want, rtol=0, atol=1e-6)
        # Same averaged gradients, same arithmetic: the ranks agree to the last bit.
        numpy.testing.assert_array_equal(first[f"after{i}"], second[f"after{i}"])


def test_rank_0s_parameters_reach_every_rank_at_construction(trained: dict[str, Path]) -> None:
    first, second = results(trained["sgd"], 0), results(trained["sgd"], 1)
    initial = arrays(make_model(seed=100))
    for i, want in enumerate(initial):
        assert not numpy.array_equal(first[f"seeded{i}"], second[f"seeded{i}"])  # seeds differ
        numpy.testing.assert_array_equal(first[f"start{i}"], want)
        numpy.testing.assert_array_equal(second[f"start{i}"], want)


def test_gradients_travel_in_buckets_one_allreduce_each(trained: dict[str, Path]) -> None:
    for rank in range(WORLD):
        calls = results(trained["adam"], rank)["allreduce_calls"]
        # Counted on the communicator itself: 2 buckets per step, fewer than the 4 parameters.
        assert int(calls) == 2 * STEPS < 4 * STEPS


def test_no_sync_accumulates_locally_then_averages_the_sum(tmp_path: Path) -> None:
    check(launch("no_sync", tmp_path))
    model = make_model(seed=100)
    x, y = step_data(2)
    for step in range(2):
        mse(model(cr.tensor(x[step])), y[step]).backward()
    for rank in range(WORLD):
        saved = results(tmp_path, rank)
        assert int(saved["calls_inside"]) == 0
        assert int(saved["calls_after"]) == 1
        for i, p in enumerate(model.parameters()):
            numpy.testing.assert_allclose(saved[f"grad{i}"], p.grad.array, rtol=0, atol=1e-12)


def reference_fit() -> tuple[list[numpy.ndarray], list[float]]:
    """The fit scenario by hand: each global batch is rank 0's B samples and rank 1's B, the
    shards of the permutation the sampler documents (default_rng(seed + epoch))."""
    model = make_model(seed=100)
    opt = make_optimizer("adam", model.parameters())
    x, y = fit_data()
    epoch_losses = []
    for epoch in range(2):
        order = numpy.random.default_rng(3 + epoch).permutation(len(x))
        shards = [order[rank::WORLD] for rank in range(WORLD)]
        losses = []
        for k in range(len(shards[0]) // B):
            rows = numpy.concatenate([shard[k * B : (k + 1) * B] for shard in shards])
            opt.zero_grad()
            loss = mse(model(cr.tensor(x[rows])), y[rows])
            loss.backward()
            opt.step()
            losses.append(loss.item())
        epoch_losses.append(float(numpy.mean(losses)))
    return arrays(model), epoch_losses


def test_fit_with_a_distributed_sampler_matches_one_process(fitted: Path) -> None:
    expected, losses = reference_fit()
    for rank in range(WORLD):
        saved = results(fitted, rank)
        for i, want in enumerate(expected):
            numpy.testing.assert_allclose(saved[f"after{i}"], want, rtol=0, atol=1e-6)
        # The logged loss is the mean over ranks: the loss of the whole batches.
        numpy.testing.assert_allclose(saved["loss"], losses, rtol=1e-9)


def test_only_rank_0_prints_and_writes_files_in_fit(fitted: Path) -> None:
    stdout = [(fitted / f"stdout{rank}.txt").read_text() for rank in range(WORLD)]
    stderr = [(fitted / f"stderr{rank}.txt").read_text() for rank in range(WORLD)]
    assert stdout[0].count("learning rate") == 2
    assert stdout[0].count("saved the model") == 2
    assert "step" in stderr[0]  # the progress bar
    assert stdout[1] == "" and stderr[1] == ""
    for name in ("model{}.safetensors", "log{}.csv", "state{}.ckpt"):
        assert (fitted / name.format(0)).exists()
        assert not (fitted / name.format(1)).exists()


def test_collectives_and_the_wrapper_api(tmp_path: Path) -> None:
    check(launch("api", tmp_path))
    found = [json.loads((tmp_path / f"api{rank}.json").read_text()) for rank in range(WORLD)]
    import torch.utils.data as tud

    for rank, got in enumerate(found):
        assert (got["rank"], got["world"], got["main"]) == (rank, WORLD, rank == 0)
        assert got["sum"] == [3.0, 30.0] and got["max"] == [2.0, 20.0]
        assert got["min"] == [1.0, 10.0] and got["product"] == [2.0, 200.0]
        assert got["avg"] == [1.5, 15.0]
        assert got["broadcast"] == [[1.0, 3.0], [2.0, 4.0]]  # rank 1's, through a view
        assert got["keys"] == ["module.0.weight", "module.0.bias", "module.1.weight"]
        assert got["forward_matches_module"] and got["spare_grad_is_none"]
        assert got["compiled_step_averages"]
        # float32 would give 2.0: the 3e-12 survives only in float64
        assert got["float64_grad"] == pytest.approx([2 * (1 + 1.5e-12)] * 3, rel=0, abs=1e-14)
        torch_shard = list(tud.DistributedSampler(range(11), WORLD, rank, shuffle=False))
        assert got["sampler"] == torch_shard
        assert got["buffers"] == found[0]["local_buffers"]  # rank 0's running statistics
    assert found[0]["local_buffers"] != found[1]["local_buffers"]  # before they were sent


def test_one_process_without_mpiexec_trains_as_plain_code(tmp_path: Path) -> None:
    check(launch("train", tmp_path, "adam", ranks=None))
    saved = results(tmp_path, 0)
    model = make_model(seed=100)
    opt = make_optimizer("adam", model.parameters())
    x, y = step_data(STEPS)
    for step in range(STEPS):  # rank 0 of 1 trains on rows 0..B-1
        opt.zero_grad()
        mse(model(cr.tensor(x[step, :B])), y[step, :B]).backward()
        opt.step()
    for i, want in enumerate(arrays(model)):
        numpy.testing.assert_array_equal(saved[f"after{i}"], want)
    assert int(saved["allreduce_calls"]) == 0


def test_an_error_in_one_rank_stops_all_of_them(tmp_path: Path) -> None:
    done = launch("fail", tmp_path)
    assert done.returncode != 0
    assert done.elapsed < 30  # rank 0 was waiting in an Allreduce; the abort ended it
    text = done.stdout + done.stderr
    assert "rank 1 gave up on purpose" in text
    assert "rank 1 of 2 failed with an uncaught ValueError" in text


def test_different_models_on_different_ranks_are_refused(tmp_path: Path) -> None:
    done = launch("mismatch", tmp_path)
    assert done.returncode != 0
    assert "rank 1's model differs from rank 0's" in done.stdout + done.stderr


def test_the_guides_training_script_runs_in_two_processes(tmp_path: Path) -> None:
    """docs/guide/distributed.md's train.py, in a ```py block (the guide's in-process block
    runner would start MPI inside pytest), run as the page says: mpiexec -n 2."""
    guide = Path(__file__).resolve().parents[1] / "docs" / "guide"
    scripts = []
    for page in ("distributed.md", "distributed.zh.md"):
        text = (guide / page).read_text(encoding="utf-8")
        (script,) = re.findall(r"^```py\n(.*?)^```", text, flags=re.S | re.M)
        scripts.append(script)
    code = [re.sub(r"\s+# .*", "", script) for script in scripts]  # comments are translated
    assert code[0] == code[1]
    (tmp_path / "train.py").write_text(scripts[0], encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    command = [mpiexec(), "-n", str(WORLD), sys.executable, "train.py"]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT, env=env
    )
    check(done)
    found = re.findall(r"2 processes: loss (\S+), test accuracy (\S+)", done.stdout)
    assert len(found) == 1 and float(found[0][1]) > 0.9  # printed by rank 0 alone
    saved = cr.load(tmp_path / "spirals.safetensors")
    assert sorted(saved) == ["0.bias", "0.weight", "2.bias", "2.weight"]


# ---- what the processes run ------------------------------------------------------------------


class CountingComm:
    """A communicator that counts the calls made through it, by method name."""

    def __init__(self, comm: Any) -> None:
        self.comm, self.calls = comm, Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.comm, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


def counting_group() -> CountingComm:
    from chainrule.distributed import process_group

    counter = CountingComm(process_group._group.comm)
    process_group._group.comm = counter
    return counter


def run_train(out: Path, optimizer: str) -> None:
    import chainrule.distributed as dist

    dist.init()
    rank = dist.get_rank()
    model = make_model(seed=100 + rank)
    saved = {f"seeded{i}": a for i, a in enumerate(arrays(model))}
    counter = counting_group()
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=SMALL_BUCKET_MB)
    saved.update({f"start{i}": a for i, a in enumerate(arrays(model))})
    opt = make_optimizer(optimizer, ddp.parameters())
    x, y = step_data(STEPS)
    rows = slice(rank * B, (rank + 1) * B)
    for step in range(STEPS):
        opt.zero_grad()
        mse(ddp(cr.tensor(x[step, rows])), y[step, rows]).backward()
        opt.step()
    saved.update({f"after{i}": a for i, a in enumerate(arrays(model))})
    numpy.savez(out / f"rank{rank}.npz", allreduce_calls=counter.calls["Allreduce"], **saved)


def run_no_sync(out: Path) -> None:
    import chainrule.distributed as dist

    dist.init()
    rank = dist.get_rank()
    ddp = dist.DistributedDataParallel(make_model(seed=100 + rank))
    counter = counting_group()
    x, y = step_data(2)
    rows = slice(rank * B, (rank + 1) * B)
    with ddp.no_sync():
        mse(ddp(cr.tensor(x[0, rows])), y[0, rows]).backward()
    inside = counter.calls["Allreduce"]
    mse(ddp(cr.tensor(x[1, rows])), y[1, rows]).backward()
    grads = {f"grad{i}": p.grad.array for i, p in enumerate(ddp.parameters())}
    after = counter.calls["Allreduce"] - inside
    numpy.savez(out / f"rank{rank}.npz", calls_inside=inside, calls_after=after, **grads)


def run_fit(out: Path) -> None:
    import chainrule.distributed as dist
    from chainrule import data, train

    dist.init()
    rank = dist.get_rank()
    # Each rank's prints and progress bar go to files of its own, to tell them apart.
    sys.stdout = open(out / f"stdout{rank}.txt", "w")  # noqa: SIM115 - kept open until exit
    sys.stderr = open(out / f"stderr{rank}.txt", "w")  # noqa: SIM115
    ddp = dist.DistributedDataParallel(make_model(seed=100 + rank))
    x, y = fit_data()
    dataset = data.TensorDataset(cr.tensor(x), cr.tensor(y))
    sampler = dist.DistributedSampler(dataset, shuffle=True, seed=3)  # ranks from the group
    loader = data.DataLoader(dataset, batch_size=B, sampler=sampler)
    callbacks = [
        train.LearningRateScheduler(lambda epoch, lr: lr, verbose=True),
        train.ModelCheckpoint(out / f"model{rank}.safetensors", monitor="loss", verbose=True),
        train.CSVLogger(out / f"log{rank}.csv"),
    ]
    opt = make_optimizer("adam", ddp.parameters())
    history = train.fit(
        ddp,
        nn.MSELoss(),
        opt,
        loader,
        epochs=2,
        callbacks=callbacks,
        checkpoint=out / f"state{rank}.ckpt",
        progress=True,
    )
    after = {f"after{i}": a for i, a in enumerate(arrays(ddp.module))}
    numpy.savez(out / f"rank{rank}.npz", loss=history.history["loss"], **after)
    sys.stdout.flush()
    sys.stderr.flush()


def run_api(out: Path) -> None:
    import chainrule.distributed as dist

    dist.init()
    rank, found = dist.get_rank(), {}
    found.update(rank=rank, world=dist.get_world_size(), main=dist.is_main_process())
    for op in ("sum", "max", "min", "product", "avg"):
        t = cr.tensor([rank + 1.0, 10.0 * (rank + 1)])
        dist.all_reduce(t, op=getattr(dist.ReduceOp, op.upper()))
        found[op] = t.tolist()
    base = cr.tensor([[1.0, 2.0], [3.0, 4.0]]) if rank == 1 else cr.zeros(2, 2)
    dist.broadcast(base.T, src=1)  # a view, not contiguous: written back through to base
    found["broadcast"] = base.T.tolist()
    dist.barrier()

    class WithSpare(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1, bias=False))
            self.spare = nn.Linear(3, 3)

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            return self.used(x)

    inner = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1, bias=False))
    found["keys"] = list(dist.DistributedDataParallel(inner).state_dict())
    spare = dist.DistributedDataParallel(WithSpare())
    x = cr.randn(4, 3)
    found["forward_matches_module"] = spare(x).tolist() == spare.module(x).tolist()
    spare(x).sum().backward()
    found["spare_grad_is_none"] = all(p.grad is None for p in spare.module.spare.parameters())
    found["sampler"] = list(dist.DistributedSampler(range(11), shuffle=False))
    # Converted to float64 after wrapping: the gradients must travel in float64 too.
    widened = dist.DistributedDataParallel(nn.Linear(3, 1, bias=False)).double()
    x = cr.full((2, 3), 1 + 1e-12 * (rank + 1), dtype=cr.float64)
    widened(x).sum().backward()  # ∂/∂w = the sum of the rows: 2 (1 + 1e-12 (rank + 1))
    found["float64_grad"] = widened.module.weight.grad.tolist()[0]
    # chainrule.compile must not replay a step without its Allreduce: it runs eagerly.
    from chainrule.train import TrainStep

    x, y = step_data(3)
    rows = slice(rank * B, (rank + 1) * B)
    twins = [dist.DistributedDataParallel(make_model(seed=100 + rank)) for _ in range(2)]
    for twin, compiled in zip(twins, (True, False)):
        step = TrainStep(twin, nn.MSELoss(), optim.SGD(twin.parameters(), lr=0.1), compile=compiled)
        for k in range(3):
            step(cr.tensor(x[k, rows]), cr.tensor(y[k, rows]))
    pairs = zip(twins[0].parameters(), twins[1].parameters())
    found["compiled_step_averages"] = all(a.tolist() == b.tolist() for a, b in pairs)
    # Batch norm's running statistics differ after each rank's own batch; the next forward
    # first gives every rank those of rank 0.
    cr.manual_seed(rank)
    bn = dist.DistributedDataParallel(nn.BatchNorm1d(3))
    bn(cr.randn(8, 3) + rank)
    found["local_buffers"] = bn.module.running_mean.tolist()
    bn.eval()
    bn(cr.randn(2, 3))
    found["buffers"] = bn.module.running_mean.tolist()
    (out / f"api{rank}.json").write_text(json.dumps(found))


def run_fail(out: Path) -> None:
    import chainrule.distributed as dist

    dist.init()
    ddp = dist.DistributedDataParallel(make_model(seed=1))
    if dist.get_rank() == 1:
        raise ValueError("rank 1 gave up on purpose")
    x, y = step_data(1)
    mse(ddp(cr.tensor(x[0, :B])), y[0, :B]).backward()  # waits for rank 1's gradients
    print("rank 0 should never get here", flush=True)


def run_mismatch(out: Path) -> None:
    import chainrule.distributed as dist

    dist.init()
    dist.DistributedDataParallel(nn.Linear(5, 7 + dist.get_rank()))


if __name__ == "__main__":
    scenario, out, *rest = sys.argv[1:]
    globals()[f"run_{scenario}"](Path(out), *rest)
