"""Tutorial 9 runs, and prints what its pages say: a reloaded model, resumes that equal the
uninterrupted runs bit for bit, the CLI's predictions, and ONNX Runtime agreeing with chainrule."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = (
    Path(__file__).resolve().parents[2]
    / "docs"
    / "tutorials"
    / "code"
    / "t09_keep_resume_export.py"
)


def numbers(text: str) -> list[float]:
    return [float(value) for value in re.findall(r"-?\d+\.\d+(?:e[-+]\d+)?", text)]


def test_tutorial_9_keeps_resumes_and_exports(tmp_path: Path) -> None:
    out, work = tmp_path / "images", tmp_path / "work"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--work", str(work)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout
    assert (out / "t09_keep_resume_export_resume.png").stat().st_size > 10_000
    assert sorted(path.name for path in out.iterdir()) == ["t09_keep_resume_export_resume.png"]

    # The state dict reloads into a fresh network and the model learned the spirals.
    assert "reloaded model gives the same outputs: True" in printed
    accuracy = float(re.search(r"test accuracy (\d\.\d+)", printed).group(1))
    assert accuracy > 0.75
    # The file is safetensors: a length, a JSON header naming the tensors, not a pickle.
    raw = (work / "t09_spirals.safetensors").read_bytes()
    assert raw[8:9] == b"{" and b'"0.weight"' in raw[:400]
    assert "0.weight   F32 [32, 2]" in printed

    # Both resumes, in process and through the command, equal the straight runs bit for bit.
    assert "2 epochs + resume to 4 == 4 straight, bit for bit: True" in printed
    resumed = re.search(r"resumed:\s+\[(.*)\]", printed).group(1)
    straight = re.search(r"straight:\s+\[(.*)\]", printed).group(1)
    assert resumed == straight and len(numbers(resumed)) == 4
    assert numbers(straight)[3] < numbers(straight)[0]
    assert "20 epochs + --resume to 40 == 40 straight, bit for bit: True" in printed

    # The CLI's regression predicts three known flats within 15% and summarises its recipe.
    predicted = numbers(printed.split("price\n", 1)[1].split("true prices")[0])
    truth = numbers(re.search(r"true prices: \[(.*)\]", printed).group(1))
    assert len(predicted) == 3 and len(truth) == 3
    assert all(abs(p - t) < 0.15 * t for p, t in zip(predicted, truth))
    assert "a model of chainrule train" in printed and "Total params: 4,481" in printed

    # ONNX Runtime (installed by the [test] extra) gives chainrule's outputs.
    difference = float(re.search(r"largest difference (\S+)", printed).group(1))
    assert difference < 1e-5
    assert "same predicted classes: True" in printed
    onnx_prices = numbers(re.search(r"ONNX Runtime's prices: \[(.*)\]", printed).group(1))
    assert all(abs(a - b) < 1e-3 for a, b in zip(onnx_prices, predicted))
