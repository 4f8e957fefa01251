"""Tutorial 10 runs, and prints what its pages say: the mean of equal shards' gradients is the
batch's gradient, 2 processes on batches of 16 train the network of 1 process on batches of 32,
and the speed table has its four rows. (Speeds are this machine's: only their form is checked.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

CODE = Path(__file__).resolve().parents[2] / "docs" / "tutorials" / "code"


def test_tutorial_10_trains_in_two_processes_as_in_one(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(CODE / "t10_scaling_out.py"), "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    printed = done.stdout

    # The chain rule: equal shards average exactly, unequal ones only when weighted.
    equal = float(re.search(r"shards of 4 and 4, mean: (\S+)", printed).group(1))
    plain = float(re.search(r"shards of 5 and 3, mean: (\S+)", printed).group(1))
    weighted = float(re.search(r"shards of 5 and 3, weighted 5:3: (\S+)", printed).group(1))
    assert equal < 1e-15 and weighted < 1e-15 and plain > 1e-3

    # 2 processes of 16 and 1 process of 32: the same steps, the same losses, the same network.
    assert "2 process(es), 240 samples each per epoch, 15 steps" in printed
    assert "1 process(es), 480 samples each per epoch, 15 steps" in printed
    losses = re.findall(r"loss at epochs 1, 10, 20, 30: \[(.*)\]", printed)
    assert len(losses) == 2 and losses[0] == losses[1]
    values = [float(v) for v in losses[0].split(",")]
    assert values[-1] < values[0] / 4
    accuracies = re.findall(r"test accuracy (\d\.\d+)", printed)
    assert len(accuracies) == 2 and float(accuracies[0]) > 0.9
    difference = float(re.search(r"trained networks' weights: (\S+)", printed).group(1))
    assert difference < 1e-4  # float32 rounding over 450 steps, not a different training
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "parallel.safetensors",
        "single.safetensors",
    ]

    # The speed table: two networks, each with 1 and 2 processes.
    rows = re.findall(r"784-(\d+)-\d+-10\s+([\d,]+)\s+(\d)\s+([\d,]+)\s+([\d.]+)\s+(\d+)%", printed)
    assert [(hidden, ranks) for hidden, _, ranks, *_ in rows] == [
        ("32", "1"),
        ("32", "2"),
        ("512", "1"),
        ("512", "2"),
    ]
    assert [row[1] for row in rows[::2]] == ["26,506", "669,706"]
    for _, _, ranks, speed, ratio, share in rows:
        assert float(speed.replace(",", "")) > 0
        if ranks == "1":  # the reference: no speed-up, nothing to average
            assert ratio == "1.00" and share == "0"
        else:
            assert float(ratio) > 0 and 0 < int(share) < 100


def test_tutorial_10_on_a_gpu_trains_the_cpus_network(tmp_path: Path) -> None:
    """The GPU section: the same seed trains the same network on "cuda" (the emulator where
    there is no GPU, CuPy where there is one) as on the CPU, as its pages print."""
    done = subprocess.run(
        [sys.executable, str(CODE / "t10_gpu.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    printed = done.stdout
    cpu, gpu = re.search(r"loss after 100 steps: cpu (\S+), cuda (\S+)", printed).groups()
    assert float(cpu) < 0.5, "the network learned"
    largest = float(re.search(r"largest difference over the run: (\S+)", printed).group(1))
    if "emulator" in printed:
        assert cpu == gpu and largest == 0.0  # the emulator computes with NumPy itself
        page = (CODE.parent / "10-scaling-out.md").read_text(encoding="utf-8")
        assert f"loss after 100 steps: cpu {cpu}, cuda {gpu}" in page
    else:
        assert largest < 1e-4
