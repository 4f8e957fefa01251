"""Tutorial 4 runs and prints what its pages say: an LSTM whose forget gates start open learns
to recall the first symbol, one initialised as PyTorch does stays at guessing, the gradient
through time shows why, and every equation of backpropagation through time matches autodiff."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = (
    Path(__file__).resolve().parents[2] / "docs" / "tutorials" / "code" / "t04_lstm_through_time.py"
)
KINDS = ("RNN", "LSTM", "LSTM, forget bias 3")
NUMBER = r"(\d[\d.e+-]*)"


def run_tutorial(out: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def section(printed: str, start: str, end: str) -> str:
    return printed.split(start, 1)[1].split(end, 1)[0]


def ratios(text: str) -> dict[str, float]:
    """{kind: ‖δh_0‖ / ‖δh_T−1‖} from one block of the through-time report."""
    found = {}
    for kind in KINDS:
        match = re.search(rf"^  {re.escape(kind)} +{NUMBER} and {NUMBER}: ratio", text, re.M)
        last, first = float(match.group(1)), float(match.group(2))
        found[kind] = first / last
    return found


def test_tutorial_4_lstm_through_time(tmp_path: Path) -> None:
    printed = run_tutorial(tmp_path)

    # Training: the RNN and the open-gated LSTM learn, the default LSTM stays at ln 4.
    results = {}
    for kind in KINDS:
        match = re.search(
            rf"^{re.escape(kind)} +training loss {NUMBER} -> {NUMBER}, test accuracy {NUMBER}",
            printed,
            re.M,
        )
        results[kind] = tuple(float(match.group(i)) for i in (1, 2, 3))
    for kind in ("RNN", "LSTM, forget bias 3"):
        first, last, accuracy = results[kind]
        assert last < 0.05 * first and accuracy > 0.95
    first, last, accuracy = results["LSTM"]
    assert abs(last - math.log(4)) < 0.05 and accuracy < 0.4

    # Untrained, the gradient reaching t = 0 is ~1e-5 of the last step's for the RNN and the
    # default LSTM, and thousands of times more with the forget gates open.
    before = ratios(section(printed, "untrained: ‖∂C/∂h_t‖", "\ntrained: ‖∂C/∂h_t‖"))
    assert before["RNN"] < 1e-3 and before["LSTM"] < 1e-3
    assert before["LSTM, forget bias 3"] > 1e3 * before["LSTM"]
    # Trained, the RNN's gradient no longer vanishes; the stuck LSTM's still does.
    after = ratios(section(printed, "\ntrained: ‖∂C/∂h_t‖", "untrained LSTM "))
    assert after["RNN"] > 1.0 and after["LSTM"] < 1e-3 and after["LSTM, forget bias 3"] > 0.01

    # The forget gates: σ(≈0) ≈ 0.5 by default, σ(3) ≈ 0.95 opened; the RNN's W_hh grows.
    gates = dict(re.findall(r"untrained (LSTM.*?) +mean forget gate f = (\d\.\d+)", printed))
    assert abs(float(gates["LSTM"]) - 0.5) < 0.05
    assert abs(float(gates["LSTM, forget bias 3"]) - 1 / (1 + math.exp(-3))) < 0.02
    trained_default = re.search(r"trained   LSTM +mean forget gate f = (\d\.\d+)", printed)
    assert float(trained_default.group(1)) < float(gates["LSTM"])  # it did not learn to open
    singular = re.findall(r"RNN: largest singular value of W_hh (\d+\.\d+)", printed)
    assert float(singular[1]) > 2 * float(singular[0])

    # Step by step on the trained LSTM: ‖δc_t‖ stays within a factor 10 over all 20 steps
    # while ‖δh_t‖ falls by more than 100 from the last step.
    table = section(printed, "(the trained LSTM, one test sequence)\n", "Layer 1 of 2")
    rows = [line.split() for line in table.strip().splitlines()]
    assert [int(row[0]) for row in rows] == list(range(20))
    delta_h = [float(row[1]) for row in rows]
    delta_c = [float(row[2]) for row in rows]
    assert max(delta_c) < 10 * min(delta_c)
    assert delta_h[-1] > 100 * min(delta_h)

    # The explanation at t = 0 shows BPTT2 and every equation matches autodiff at every step.
    assert "at t = 0" in printed and "δcₜ = δhₜ ⊙ oₜ ⊙ (1 − tanh² cₜ) + δcₜ₊₁ ⊙ fₜ₊₁" in printed
    assert "equations checked against autodiff: 7 match, 0 differ" in printed

    for name in ("loss", "before", "after"):
        assert (tmp_path / f"t04_lstm_through_time_{name}.png").stat().st_size > 10_000
