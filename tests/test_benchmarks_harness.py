"""The solo-process benchmark harness (benchmarks/solo.py) runs end to end in a tiny mode.

Nothing here asserts a time: timings live in benchmarks/. The tests check that every
implementation ran in its own process with only its own library imported, started from the
same weights and batch (equal first losses), that the result file records the machine, the
commit and the command, that the ratios, the matrix-product floor, the memory and import
figures are there, and that the NumPy steps written by hand compute PyTorch's step.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# One thread each: quick on a busy machine, and it checks that --threads reaches every library.
TINY = ["--rounds", "1", "--blocks", "1", "--steps", "2", "--warmup", "0", "--threads", "1"]


def harness(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "solo.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def without_torch(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    """chainrule and NumPy only (no PyTorch to import: fast): steps, floor, operations,
    memory and import times, two rounds, and one implementation that does not exist."""
    out = tmp_path_factory.mktemp("solo") / "results.json"
    args = ["--configs", "mlp784,pow3,mul3", "--impls", "chainrule,numpy,chainrule_nosuch"]
    args += [*TINY, "--rounds", "2", "--memory", "xor", "--imports", "1"]
    stdout = harness(*args, "--out", str(out), "--markdown")
    return json.loads(out.read_text()), stdout, out


def test_the_record_names_the_machine_commit_and_command(without_torch) -> None:
    record, _, _ = without_torch
    machine = record["machine"]
    assert machine["cpu"]["model"]
    assert machine["cores"]["available"] >= 1
    assert machine["libraries"]["numpy"]["version"] == np.__version__
    assert machine["libraries"]["chainrule"]["version"]
    assert "torch" not in machine["libraries"]  # not among the implementations asked for
    assert len(machine["git"]["commit"]) == 40
    assert len(record["load_start"]) == len(record["load_end"]) == 3
    assert "solo.py" in record["command"] and "--configs mlp784,pow3,mul3" in record["command"]


def test_each_process_times_one_library_alone(without_torch) -> None:
    record, _, _ = without_torch
    mlp = record["results"]["mlp784"]
    assert set(mlp["impls"]) == {"chainrule", "numpy", "floor"}
    for impl, runs in mlp["runs"].items():
        assert [run["round"] for run in runs] == [0, 1]
        for run in runs:
            assert run["imported"] == (["chainrule"] if impl == "chainrule" else [])
            blas = [pool for pool in run["threadpools"] if pool["internal_api"] != "openmp"]
            assert blas and all(pool["num_threads"] == 1 for pool in blas)
            assert len(run["blocks"]) == 1 and run["blocks"][0] > 0
    stats = mlp["impls"]["chainrule"]
    assert stats["min"] <= stats["median"] <= stats["max"]
    assert "chainrule_nosuch" in mlp["unavailable"]


def test_floor_counts_the_eight_products_of_the_step(without_torch) -> None:
    record, _, _ = without_torch
    mlp = record["results"]["mlp784"]
    forward = 128 * (784 * 512 + 512 * 512 + 512 * 10)
    input_gradients = 128 * (512 * 512 + 512 * 10)  # the data needs no gradient
    assert mlp["impls"]["floor"]["flops"] == 2 * (2 * forward + input_gradients)
    assert len(mlp["ratios_to_floor"]["chainrule"]["per_round"]) == 2
    assert mlp["ratios_to_floor"]["chainrule"]["median"] > 0


def test_the_lstm_floor_counts_its_products_and_has_no_target(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    args = ["--configs", "lstm-tm", "--impls", "chainrule,numpy", *TINY, "--memory", "none"]
    stdout = harness(*args, "--imports", "0", "--out", str(out), "--markdown")
    lstm = json.loads(out.read_text())["results"]["lstm-tm"]
    assert set(lstm["impls"]) == {"chainrule", "floor"}  # no NumPy step by hand for tm-mse
    steps, batch, size, hidden = 50, 32, 32, 128
    multiply_adds = (
        steps * batch * (size + 1) * 4 * hidden * 2  # input product and its weight gradient
        + (steps - 1) * batch * hidden * 4 * hidden * 3  # recurrent: forward, back, weights
        + batch * hidden * 1 * 3  # the regression head's three products
    )
    assert lstm["impls"]["floor"]["flops"] == 2 * multiply_adds
    assert len(lstm["ratios_to_floor"]["chainrule"]["per_round"]) == 1
    floor = "Floor of the LSTM I32 H128 T50 B32 + fc (time-major, MSE) step: its 104 matrix"
    assert floor in stdout
    paragraph = next(line for line in stdout.splitlines() if line.startswith(floor))
    assert "chainrule's step / floor, per round:" in paragraph and "target" not in paragraph


def test_operations_are_compared_with_their_equivalent(without_torch) -> None:
    record, stdout, _ = without_torch
    pow3 = record["results"]["pow3"]
    assert pow3["target"] == "no slower than `x * x * x`"
    assert len(pow3["ratios_to_equivalent"]["chainrule"]["per_round"]) == 2
    assert "| `x ** 3` on 2000 floats, + backward |" in stdout


def test_memory_and_import_figures(without_torch) -> None:
    record, stdout, _ = without_torch
    memory = record["memory"]["xor"]
    activations = 4 * (2 + 1)  # batch 4: the hidden layer's outputs and the network's
    parameters = 2 * 2 + 2 + 2 * 1 + 1
    assert memory["kept_bytes"] == 4 * (activations + parameters)
    for impl in ("chainrule", "numpy"):
        assert memory[impl]["rss_built"] > 0
        assert memory[impl]["peak_during_step"] > 0
    imports = record["imports"]
    assert imports["bytecode"].startswith("cached"), "timed as an installed package imports"
    assert imports["chainrule"]["wall_min"] > 0
    assert imports["chainrule"]["importtime_cumulative"] > 0
    assert imports["chainrule"]["slowest_own"][0][0].startswith("chainrule")
    assert "| `import chainrule` |" in stdout


def test_markdown_table_and_rendering_a_saved_file(without_torch) -> None:
    _, stdout, out = without_torch
    assert "| step | chainrule | PyTorch | chainrule / PyTorch, min / median / max |" in stdout
    assert "| 784-512-512-10, batch 128 |" in stdout
    assert "Floor of the 784-512-512-10 step: its 8 matrix products" in stdout
    assert "mlp784 chainrule_nosuch: not run" in stdout
    assert harness("--render", str(out)) == stdout


def test_ratios_to_pytorch_same_start_and_in_process_check(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    args = ["--configs", "xor", "--impls", "chainrule,torch", *TINY, "--memory", "none"]
    args += ["--imports", "0", "--compare-in-process", "xor", "--out", str(out), "--markdown"]
    stdout = harness(*args)
    record = json.loads(out.read_text())
    xor = record["results"]["xor"]
    assert [run["imported"] for run in xor["runs"]["torch"]] == [["torch"]]
    assert xor["ratios_to_torch"]["chainrule"]["per_round"][0] > 0
    # Both started from the same weights and batch: equal losses on the first step.
    assert xor["check"]["agree"] is True
    assert set(xor["check"]["values"]) == {"chainrule", "torch"}
    torch_facts = record["machine"]["libraries"]["torch"]
    assert torch_facts["threads"] == 1
    assert any("BLAS" in line for line in torch_facts["config"])
    in_process = record["in_process"]["figures"]
    assert in_process["chainrule"]["median"] > 0 and in_process["torch"]["median"] > 0
    assert "In-process figures are not to be reported" in stdout


@pytest.mark.parametrize("config", ["gru", "mlp784-adam", "mlp784-momentum", "mlp784-rmsprop"])
def test_eager_configurations_with_and_without_numbas_loops(tmp_path: Path, config: str) -> None:
    """The GRU step and the 784-512-512-10 step with Adam, SGD with momentum and RMSprop run on
    chainrule (with and without
    chainrule.native's loops) and PyTorch from the same start; neither has a step by hand."""
    out = tmp_path / "results.json"
    args = ["--configs", config, "--impls", "chainrule,chainrule_numpy,torch,numpy", *TINY]
    harness(*args, "--memory", "none", "--imports", "0", "--out", str(out))
    result = json.loads(out.read_text())["results"][config]
    assert set(result["impls"]) == {"chainrule", "chainrule_numpy", "torch"}
    assert "numpy" in result["unavailable"]
    assert result["check"]["agree"] is True
    assert set(result["check"]["values"]) == {"chainrule", "chainrule_numpy", "torch"}
    assert [run["imported"] for run in result["runs"]["chainrule_numpy"]] == [["chainrule"]]


@pytest.mark.parametrize("network", ["cnn", "lstm"])
def test_numpy_steps_by_hand_compute_pytorchs_step(
    network: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    if network == "cnn":
        import workload_cnn as workload

        weights, x, y = workload.cnn_setup()
        model = workload.build_model(torch, weights)
        step = workload.step_function(torch, model)
        by_hand = workload.NumpyCNN(weights, x, y)
    else:
        import workload_lstm as workload

        weights, x, y = workload.lstm_setup("bf-ce")
        model = workload.build_model(torch, weights, batch_first=True)
        step = workload.step_function(torch, model, "ce")
        by_hand = workload.NumpyLSTM(weights, x, y)
    images, labels = torch.from_numpy(x), torch.from_numpy(y)
    # One BLAS thread each: many small products, which two threads only slow on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            for _ in range(2):
                assert by_hand() == pytest.approx(step(images, labels).item(), rel=1e-5)
    finally:
        torch.set_num_threads(threads)
    ours = by_hand.state_dict()
    for name, value in model.state_dict().items():
        moved = np.abs(value.numpy() - weights[name]).max()
        assert moved > 0  # the comparison below is not vacuous
        np.testing.assert_allclose(ours[name], value.numpy(), rtol=0, atol=1e-3 * moved)


@pytest.mark.parametrize("config", ["mlp784", "cnn", "lstm"])
def test_the_gpu_step_starts_where_the_cpu_step_does(config: str) -> None:
    """benchmarks/gpu_step.py, run on the CuPy emulator (no GPU here), starts from the CPU
    harness's weights and batch: its first loss is the CPU step's."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "gpu_step.py"), config, "chainrule", "--emulate",
         "--blocks", "1"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["emulated"] is True and "emulator" in record["gpu"]
    assert len(record["seconds"]) == 1 and record["median"] > 0
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import workloads

        step, _ = workloads.build(config, "chainrule")
        first = float(step().item())
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert record["first_loss"] == pytest.approx(first, rel=1e-6)
