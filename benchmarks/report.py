"""Tables from a solo.py result: Markdown for BENCHMARKS.md, or a short plain-text summary.

Every table comes with what it ran on (CPU, cores, each library's BLAS and threads), the
commit, the load average at start and end and the exact command, because a ratio means
nothing away from its machine.
"""

from __future__ import annotations

from typing import Any

import machine

NAMES = {"chainrule": "chainrule", "torch": "PyTorch", "numpy": "NumPy by hand"}
MIB = 1024 * 1024


def duration(seconds: float | None) -> str:
    """Three significant figures in µs, ms or s."""
    if seconds is None:
        return "—"
    for unit, scale in (("µs", 1e-6), ("ms", 1e-3)):
        if seconds < 1000 * scale:
            return f"{_three(seconds / scale)} {unit}"
    return f"{_three(seconds)} s"


def _three(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def spread(stats: dict[str, Any] | None, bold: bool = True) -> str:
    """min / **median** / max of a ratio, or a dash."""
    if not stats or "median" not in stats:
        return "—"
    middle = f"**{stats['median']:.2f}**" if bold else f"{stats['median']:.2f}"
    return f"{stats['min']:.2f} / {middle} / {stats['max']:.2f}"


def markdown(record: dict[str, Any]) -> str:
    """Every table of a run, ready to paste into BENCHMARKS.md."""
    results = record["results"]
    steps = {c: r for c, r in results.items() if r["kind"] != "op"}
    ops = {c: r for c, r in results.items() if r["kind"] == "op"}
    parts = [_header(record)]
    if steps:
        parts.append(_steps_table(steps))
    parts += [_floor(result) for result in steps.values() if "floor" in result["impls"]]
    if ops:
        parts.append(_ops_table(ops))
    parts.append(_checks(results))
    parts.append(_spread_table(results))
    if record.get("memory"):
        parts.append(_memory_table(record["memory"]))
    if record.get("imports"):
        parts.append(_imports_table(record["imports"]))
    if record.get("in_process"):
        parts.append(_in_process_table(record["in_process"], results))
    return "\n\n".join(parts) + "\n"


def text(record: dict[str, Any]) -> str:
    """One line per implementation: median (min–max) and the ratio to PyTorch."""
    lines = [_header(record), ""]
    for config, result in record["results"].items():
        lines.append(f"{config}: {result['label']}")
        for impl, stats in result["impls"].items():
            ratio = spread(result["ratios_to_torch"].get(impl), bold=False)
            lines.append(
                f"  {impl:22} {duration(stats['median']):>10}  "
                f"({duration(stats['min'])} – {duration(stats['max'])})  / PyTorch {ratio}"
            )
        for impl, reason in result["unavailable"].items():
            lines.append(f"  {impl:22} not run: {reason}")
    lines.append(_checks(record["results"]))
    return "\n".join(lines)


def _header(record: dict[str, Any]) -> str:
    settings = record["settings"]
    git = record["machine"]["git"]
    changed = len(git["changed_files"])
    load_end = record.get("load_end")
    return (
        f"Run {record['started']}, {record.get('seconds', 0):.0f} s. "
        f"Machine: {machine.summary(record['machine'])}. "
        f"Commit {git['commit'][:10]}"
        + (f" with {changed} changed files" if changed else "")
        + f"; load average {_load(record['load_start'])} at start, {_load(load_end)} at end. "
        f"Each implementation alone in its own process: {settings['rounds']} rounds "
        f"(processes) × {settings['blocks']} timed blocks; times are per step, the median "
        "over every block; ratios are per round, min / **median** / max. Command:\n\n"
        f"    {record['command']}" + _busy(record)
    )


def _busy(record: dict[str, Any]) -> str:
    """A warning where other work shared the machine: a 1-minute load average above 0.5 at
    the start, or above 1.5 at the end (the harness itself accounts for about 1)."""
    start, end = record["load_start"][0], (record.get("load_end") or [0.0])[0]
    if start <= 0.5 and end <= 1.5:
        return ""
    return (
        "\n\n**The machine was busy (load average above 0.5 at the start or 1.5 at the end): "
        "these figures are indicative only, not for BENCHMARKS.md.**"
    )


def _load(load: list[float] | None) -> str:
    return "?" if load is None else " ".join(f"{value:.2f}" for value in load)


def _extra_impls(results: dict[str, Any]) -> list[str]:
    extra = []
    for result in results.values():
        for impl in result["impls"]:
            if impl not in NAMES and impl != "floor" and impl not in extra:
                extra.append(impl)
    return extra


def _steps_table(results: dict[str, Any]) -> str:
    extra = _extra_impls(results)
    head = ["step", "chainrule", "PyTorch", "chainrule / PyTorch, min / median / max"]
    for impl in extra:
        head += [impl, f"{impl} / PyTorch"]
    head += ["NumPy by hand", "target (ratio to PyTorch eager)"]
    rows = [head, ["---"] * len(head)]
    for result in results.values():
        impls, ratios = result["impls"], result["ratios_to_torch"]
        row = [
            result["label"],
            _median(impls, "chainrule"),
            _median(impls, "torch"),
            spread(ratios.get("chainrule")),
        ]
        for impl in extra:
            row += [_median(impls, impl), spread(ratios.get(impl))]
        row += [_median(impls, "numpy"), result["target"]]
        rows.append(row)
    return _table(rows)


def _floor(result: dict[str, Any]) -> str:
    """One paragraph: what the floor of a step times, its time and rate, and each library's
    step over it (a result file from before the LSTM floors names the 784 network's only)."""
    floor = result["impls"]["floor"]
    flops = floor.get("flops", 0)
    what = result.get("floor") or (
        "its 8 matrix products alone (3 forward, 3 weight gradients, 2 input gradients)"
    )
    target = result.get("floor_target", "≤ 1.10" if "floor" not in result else "")
    label = result["label"].split(", batch")[0]
    lines = [
        f"Floor of the {label} step: {what}, in NumPy with the step's shapes and layouts and "
        f"preallocated outputs, take {duration(floor['median'])}: {flops / 1e9:.3f} GFLOP at "
        f"{flops / floor['median'] / 1e9:.0f} GFLOP/s."
    ]
    for impl, stats in result.get("ratios_to_floor", {}).items():
        name = NAMES.get(impl, impl)
        aim = f" (target {target})" if target else ""
        lines.append(f"{name}'s step / floor, per round: {spread(stats)}{aim}.")
    return " ".join(lines)


def _ops_table(results: dict[str, Any]) -> str:
    head = [
        "operation",
        "chainrule",
        "PyTorch",
        "chainrule / PyTorch",
        "chainrule / its equivalent",
        "PyTorch / its equivalent",
        "NumPy by hand",
        "target",
    ]
    rows = [head, ["---"] * len(head)]
    for result in results.values():
        impls, equivalent = result["impls"], result.get("ratios_to_equivalent", {})
        rows.append(
            [
                result["label"],
                _median(impls, "chainrule"),
                _median(impls, "torch"),
                spread(result["ratios_to_torch"].get("chainrule")),
                spread(equivalent.get("chainrule")),
                spread(equivalent.get("torch"), bold=False),
                _median(impls, "numpy"),
                result["target"],
            ]
        )
    return _table(rows)


def _checks(results: dict[str, Any]) -> str:
    agree = [c for c, r in results.items() if r["check"]["agree"]]
    differ = [c for c, r in results.items() if r["check"]["agree"] is False]
    lines = []
    if agree:
        lines.append(
            "Same weights and batch: the first losses of every implementation agree "
            f"(relative 1e-4) for {', '.join(agree)}."
        )
    for config in differ:
        values = results[config]["check"]["values"]
        lines.append(f"**WARNING: {config}'s first losses differ: {values}.**")
    for config, result in results.items():
        for impl, reason in result["unavailable"].items():
            lines.append(f"{config} {impl}: not run ({reason}).")
    return " ".join(lines)


def _spread_table(results: dict[str, Any]) -> str:
    head = ["configuration", "implementation", "min", "median", "max", "processes × blocks × steps"]
    rows = [head, ["---"] * len(head)]
    for config, result in results.items():
        for impl, stats in result["impls"].items():
            rows.append(
                [
                    config,
                    impl,
                    duration(stats["min"]),
                    duration(stats["median"]),
                    duration(stats["max"]),
                    f"{stats['processes']} × {stats['blocks_per_process']} × "
                    f"{stats['steps_per_block']}",
                ]
            )
    return "Per-step times over every timed block:\n\n" + _table(rows)


def _memory_table(memory: dict[str, Any]) -> str:
    head = [
        "step",
        "implementation",
        "RSS after building",
        "RSS peak growth, first 5 steps",
        "NumPy arrays at the peak of a step (tracemalloc)",
        "must keep (activations + gradients)",
        "peak / must keep",
        "numba's compiler state and modules imported during the steps (set apart)",
    ]
    rows = [head, ["---"] * len(head)]
    for config, entry in memory.items():
        kept = entry.get("kept_bytes")
        for impl, facts in entry.items():
            if impl == "kept_bytes":
                continue
            if "error" in facts or "unavailable" in facts:
                reason = facts.get("error") or facts.get("unavailable")
                rows.append([config, impl, reason, *[""] * (len(head) - 3)])
                continue
            peak = facts.get("peak_during_step")
            rows.append(
                [
                    config,
                    impl,
                    _mib(facts.get("rss_built")),
                    _mib(facts.get("peak_growth_first_steps")),
                    _mib(peak),
                    _mib(kept),
                    f"{peak / kept:.2f}" if peak and kept else "—",
                    _mib(facts.get("compiler")) if facts.get("compiler") else "—",
                ]
            )
    return (
        "Memory of a training step, each implementation in its own process (RSS from "
        "/proc/self/status with the peak reset before the steps; tracemalloc counts NumPy's "
        "allocations since the model was built, so gradients and work arrays kept between "
        "steps are included; PyTorch's allocator is invisible to it):\n\n" + _table(rows)
    )


def _mib(value: float | None) -> str:
    return "—" if value is None else f"{value / MIB:.2f} MiB"


def _imports_table(imports: dict[str, Any]) -> str:
    start = imports["python"]["wall_min"]
    head = [
        "import",
        "wall time, min",
        "less the interpreter's start",
        "-X importtime, cumulative",
        "its slowest modules (self time)",
        "packages it imports (cumulative)",
    ]
    rows = [head, ["---"] * len(head)]
    for name, facts in imports.items():
        if name in ("python", "bytecode"):
            continue
        slowest = ", ".join(f"{m} {duration(t)}" for m, t in facts.get("slowest_own", [])[:5])
        others = ", ".join(
            f"{m} {duration(t)}" for m, t in facts.get("heaviest_dependencies", [])[:3]
        )
        rows.append(
            [
                f"`import {name}`",
                duration(facts["wall_min"]),
                duration(facts["wall_min"] - start),
                duration(facts.get("importtime_cumulative")),
                slowest,
                others,
            ]
        )
    return (
        f'Import time (`python -c "import X"`, min of the runs, with compiled bytecode cached as '
        f"an installed package has it; the interpreter alone starts in {duration(start)}; "
        f"target for chainrule ≤ 0.2 s):\n\n" + _table(rows)
    )


def _in_process_table(entry: dict[str, Any], results: dict[str, Any]) -> str:
    config, figures = entry["config"], entry["figures"]
    if "error" in figures:
        return f"In-process comparison of {config} failed: {figures['error']}"
    solo = results[config]
    head = [
        "implementation",
        "in one process",
        "alone",
        "in one process / alone",
        "ratio to PyTorch, in one process",
        "ratio to PyTorch, alone",
    ]
    rows = [head, ["---"] * len(head)]
    for impl, figure in figures.items():
        alone = solo["impls"].get(impl, {}).get("median")
        in_ratio = {k[6:]: v for k, v in figure.items() if k.startswith("ratio_")}
        rows.append(
            [
                impl,
                duration(figure["median"]),
                duration(alone),
                f"{figure['median'] / alone:.2f}" if alone else "—",
                spread(in_ratio, bold=False),
                "1" if impl == "torch" else spread(solo["ratios_to_torch"].get(impl), bold=False),
            ]
        )
    return (
        f"{solo['label']}: train_step.py's figures (every implementation in one process) "
        "beside the solo ones. In-process figures are not to be reported:\n\n" + _table(rows)
    )


def _median(impls: dict[str, Any], impl: str) -> str:
    return duration(impls[impl]["median"]) if impl in impls else "—"


def _table(rows: list[list[str]]) -> str:
    return "\n".join("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
