"""``chainrule train --device cuda``: the run of the CPU, a model file that loads anywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main

ARGS = ["train", "--data", "moons", "--epochs", "3", "--hidden", "8", "--no-progress"]


def _table(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("train ", "val ", "test "))]


def test_training_on_cuda_equals_the_cpu_run(tmp_path: Path, capsys) -> None:
    assert main([*ARGS, "--out", str(tmp_path / "cpu")]) == 0
    cpu_out = capsys.readouterr().out
    assert main([*ARGS, "--out", str(tmp_path / "cuda"), "--device", "cuda"]) == 0
    cuda_out = capsys.readouterr().out
    assert _table(cuda_out) == _table(cpu_out) and _table(cpu_out)
    cpu = cr.load(tmp_path / "cpu" / "model.safetensors")
    cuda = cr.load(tmp_path / "cuda" / "model.safetensors")
    assert cpu.keys() == cuda.keys()
    for name, tensor in cuda.items():
        assert tensor.device == "cpu", "the model file is written from the CPU"
        np.testing.assert_allclose(tensor.numpy(), cpu[name].numpy(), rtol=1e-6, atol=1e-7)
    # The run's checkpoint (saved from the GPU) resumes on the CPU.
    resumed = [*ARGS, "--epochs", "4", "--out", str(tmp_path / "cuda")]
    checkpoint = tmp_path / "cuda" / "checkpoint.safetensors"
    assert main([*resumed, "--resume", str(checkpoint)]) == 0
    assert "stopped:" in capsys.readouterr().out


def test_the_learning_rate_range_test_runs_on_cuda(tmp_path: Path, capsys) -> None:
    find = ["train", "--data", "moons", "--find-lr", "--no-progress"]
    assert main([*find, "--out", str(tmp_path / "cpu")]) == 0
    cpu = capsys.readouterr().out
    assert main([*find, "--out", str(tmp_path / "cuda"), "--device", "cuda"]) == 0
    cuda = capsys.readouterr().out
    suggestion = [line for line in cpu.splitlines() if "suggested learning rate" in line]
    assert suggestion and suggestion == [
        line for line in cuda.splitlines() if "suggested learning rate" in line
    ]


def test_cuda_without_cupy_is_a_one_line_error(tmp_path: Path, capsys, cuda_device: str) -> None:
    if cr.cuda.is_available() and not cr.cuda.is_emulated():
        pytest.skip("CuPy sees a GPU here: the error of a machine without one cannot happen")
    cr.cuda.emulate(False)
    code = main([*ARGS, "--out", str(tmp_path), "--device", "cuda"])
    err = capsys.readouterr().err
    assert code != 0
    assert 'pip install "chainrule[gpu]"' in err and "Traceback" not in err


def test_an_unknown_device_is_refused_by_the_argument_parser(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--device", "tpu"])
    assert stopped.value.code == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
