"""Where a compiled training step's time goes: every statement of its replay, timed in place.

``chainrule.compile`` turns a step into one generated Python function (compiled/program.py).
This script builds a configuration's step as solo_step.py does, compiles it (with numba's
kernels unless ``--numpy``), warms it up, then runs a copy of the replay's source with a
timestamp taken before each statement, and prints each statement's mean time per step in
program order (statements under ``--min`` µs left out), their sum, and the replay's own time
without the timestamps. A timestamp costs about 0.1 µs, which the sum includes.

    python benchmarks/replay_lines.py digits
    python benchmarks/replay_lines.py lstm --steps 20 --min 20
    python benchmarks/replay_lines.py mlp784 --numpy --show    # the NumPy replay, with source

chainrule alone is imported (PyTorch never is), so one BLAS thread pool runs. The figures
are for reading where time goes; the step's time for a table comes from solo.py.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

import workload_cnn
import workload_lstm
import workload_mlp

MLP = {"xor": "xor", "digits": "digits", "mlp784": "mlp"}
CONFIGS = [*MLP, "cnn", "lstm"]
# Lines of the replay that open or close a block: no statement of their own to time.
_NOT_A_STATEMENT = re.compile(r"^(else:|elif |except|finally:|try:)")


def build(cr: Any, config: str) -> tuple[Callable, tuple]:
    """The configuration's step as a function of (inputs, targets), and those tensors."""
    if config in MLP:
        (params, x, y, hidden, loss, lr), _ = workload_mlp.mlp_setup(MLP[config])
        model, loss_fn = workload_mlp.build_model(cr, params, hidden, loss)
        optimizer = cr.optim.SGD(model.parameters(), lr=lr)

        def step(inputs: Any, targets: Any) -> Any:
            optimizer.zero_grad(set_to_none=True)
            cost = loss_fn(model(inputs), targets)
            cost.backward()
            optimizer.step()
            return cost

        return step, (cr.from_numpy(x), cr.from_numpy(y))
    if config == "cnn":
        weights, x, y = workload_cnn.cnn_setup()
        step = workload_cnn.step_function(cr, workload_cnn.build_model(cr, weights))
        return step, (cr.from_numpy(x), cr.from_numpy(y))
    weights, x, y = workload_lstm.lstm_setup("bf-ce")
    model = workload_lstm.build_model(cr, weights, batch_first=True)
    return workload_lstm.step_function(cr, model, "ce"), (cr.from_numpy(x), cr.from_numpy(y))


def instrumented(source: str) -> tuple[str, list[str]]:
    """The replay's source with ``_mark((i, _clock()))`` before each statement of its body
    (past the guards), and the statements' text by i."""
    lines, labels = [], []
    inside = False
    for line in source.splitlines():
        text = line.lstrip()
        indent = line[: len(line) - len(text)]
        if text.startswith("token = _fp_enter()"):
            inside = True
        if inside and indent and not _NOT_A_STATEMENT.match(text):
            lines.append(f"{indent}_mark(({len(labels)}, _clock()))")
            labels.append(text)
        lines.append(line)
    return "\n".join(lines), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", choices=CONFIGS)
    parser.add_argument("--numpy", action="store_true", help="the NumPy replay, no kernels")
    parser.add_argument("--steps", type=int, default=200, help="timed steps (default 200)")
    parser.add_argument("--min", type=float, default=0.5, help="hide statements under this µs")
    parser.add_argument("--show", action="store_true", help="print the replay's source too")
    args = parser.parse_args()

    import chainrule as cr

    step, tensors = build(cr, args.config)
    compiled = cr.compile(step, kernels=not args.numpy)
    for _ in range(20):  # two recordings, then replays (kernels compile on the first)
        compiled(*tensors)
    if not compiled.replays:
        raise SystemExit(f"the step did not replay: {compiled.reasons}")
    (kind,) = compiled._kinds.values()
    program = kind.programs[-1]
    if args.show:
        print(program.source)

    plain = []
    for _ in range(args.steps):
        start = time.perf_counter_ns()
        program.run(*tensors)
        plain.append(time.perf_counter_ns() - start)

    text, labels = instrumented(program.source)
    marks: list[tuple[int, int]] = []
    names = program._names
    names["_mark"], names["_clock"] = marks.append, time.perf_counter_ns
    exec(text, names)  # the generated replay with timestamps, in the replay's own namespace
    timed = names["replay"]
    totals = [0] * len(labels)
    for _ in range(5):
        timed(*tensors)
    for _ in range(args.steps):
        marks.clear()
        start = time.perf_counter_ns()
        timed(*tensors)
        end = time.perf_counter_ns()
        for (i, t), (_, after) in zip(marks, [*marks[1:], (None, end)]):
            totals[i] += after - t

    per_step = [total / args.steps / 1000 for total in totals]
    kernels = "NumPy replay" if args.numpy else "numba kernels"
    print(f"{args.config}, {kernels}: mean µs per step of each statement ({args.steps} steps)")
    for label, micros in zip(labels, per_step):
        if micros >= args.min:
            print(f"{micros:10.1f}  {label[:100]}")
    print(f"{sum(per_step):10.1f}  the statements' sum (timestamps included)")
    print(f"{statistics.median(plain) / 1000:10.1f}  the replay without timestamps (median)")


if __name__ == "__main__":
    main()
