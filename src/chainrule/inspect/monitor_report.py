"""What a :class:`GradientMonitor` saw, as a text summary and as a PNG of plots.

The summary is a table per kind of statistic: each weight layer's gradient norm and update
ratio, each activation module's dead or saturated fraction, and for each recurrent layer the
norm of δh_t = ∂C/∂h_t at the first and last time step, with the ratio that shows whether the
gradient vanishes through time. The plot has the per-layer gradient norms and update ratios
against the optimizer step, and, for a model with recurrent layers, ‖δh_t‖ against t.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy

from chainrule.files import atomic_write
from chainrule.inspect.monitor_checks import through_time_ends
from chainrule.optional import require

if TYPE_CHECKING:
    from chainrule.inspect.monitor import GradientMonitor, StepRecord


def summary_text(monitor: GradientMonitor) -> str:
    """The text of :meth:`GradientMonitor.summary`."""
    if not monitor.history:
        return "GradientMonitor: no step recorded yet"
    history = monitor.history
    last = history[-1]
    text = [f"GradientMonitor: {len(history)} steps, last step {last.step}"]
    if monitor.layers:
        header = ("layer", "grad norm (last)", "grad norm (median)", "update/weight (last)")
        lines = [header]
        for name in monitor.layers:
            norms = [r.grad_norm[name] for r in history]
            ratio = last.update_ratio.get(name)
            lines.append(
                (
                    name,
                    f"{norms[-1]:.3e}",
                    f"{statistics.median(norms):.3e}",
                    "-" if ratio is None else f"{ratio:.3e}",
                )
            )
        text += _table(lines)
    units = [(key, "dead ReLU", value) for key, value in last.dead_fraction.items()]
    units += [(key, "saturated", value) for key, value in last.saturated_fraction.items()]
    if units:
        text.append("")
        text += _table(
            [("activation", "measure", "fraction of units (last step)")]
            + [(key, what, f"{value:.1%}") for key, what, value in units]
        )
    if last.time_norms:
        text.append("")
        text += _table(_through_time_lines(monitor, last))
        text.append(
            "(backward through time enters at t = T-1, or at t = 0 in a reverse direction; "
            "a ratio far/near << 1 means the gradient vanishes on its way)"
        )
    text.append("")
    if monitor.warned:
        text += [f"warning: {message}" for message in monitor.warned.values()]
    else:
        text.append("no warnings")
    return "\n".join(text)


def _through_time_lines(monitor: GradientMonitor, record: StepRecord) -> list[tuple[str, ...]]:
    lines = [("recurrent layer", "steps", "‖δh‖ at t=0", "‖δh‖ at t=T-1", "far/near (last step)")]
    for key, norms in record.time_norms.items():
        near, far = through_time_ends(record, key, key in monitor.reversed_layers)
        ratio = far / near if near > 0 else math.nan
        first, last = norms["h"][0], norms["h"][-1]
        lines.append((key, str(len(norms["h"])), f"{first:.3e}", f"{last:.3e}", f"{ratio:.3e}"))
    return lines


def write_plot(monitor: GradientMonitor, path: str | Path) -> Path:
    """The PNG of :meth:`GradientMonitor.plot`; returns the path written."""
    if not monitor.history:
        raise ValueError("GradientMonitor.plot: no step recorded yet")
    purpose = "GradientMonitor.plot"
    figure_module = require("matplotlib.figure", purpose)
    backend_agg = require("matplotlib.backends.backend_agg", purpose)
    through_time = monitor.history[-1].time_norms
    # A model of recurrent layers alone has no weight layer: its plot is the time panel only.
    with_layers = bool(monitor.layers) or not through_time
    panels = 2 * with_layers + bool(through_time)
    figure = figure_module.Figure(figsize=(5.5 * panels, 4.5), dpi=110, layout="constrained")
    backend_agg.FigureCanvasAgg(figure)
    axes = list(numpy.atleast_1d(figure.subplots(1, panels)))
    if with_layers:
        _plot_layers(monitor, figure, axes[0], axes[1], purpose)
    if through_time:
        _plot_through_time(monitor.history[-1], axes[-1])
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png")
    return path


def _plot_layers(
    monitor: GradientMonitor, figure: Any, norms_axis: Any, ratio_axis: Any, purpose: str
) -> None:
    """Per layer against the optimizer step: ‖∂C/∂W‖ and ‖ΔW‖/‖W‖, log scale."""
    colors = require("matplotlib.colors", purpose)
    colormap = require("matplotlib", purpose).colormaps["viridis"]
    history = monitor.history
    steps = [r.step for r in history]
    names = monitor.layers
    # Stop short of viridis's yellow end, which is hard to see on white.
    palette = colormap(numpy.linspace(0, 0.85, len(names)))
    marker = "o" if len(steps) <= 40 else None
    for colour, name in zip(palette, names):
        norms = [_positive(r.grad_norm.get(name)) for r in history]
        ratios = [_positive(r.update_ratio.get(name)) for r in history]
        style = {"color": colour, "linewidth": 1.4, "marker": marker, "markersize": 3}
        norms_axis.plot(steps, norms, label=name, **style)
        ratio_axis.plot(steps, ratios, **style)
    ratio_axis.axhline(1e-3, color="grey", linestyle=":", linewidth=1.2, label="1e-3")
    ratio_axis.legend(fontsize="small", loc="best")
    broken = [r.step for r in history if not all(map(math.isfinite, r.grad_norm.values()))]
    for axis in (norms_axis, ratio_axis):
        for position, step in enumerate(broken):
            label = "non-finite gradient" if position == 0 and axis is norms_axis else None
            axis.axvline(step, color="red", linestyle="--", linewidth=1, label=label)
    for axis, title in (
        (norms_axis, "gradient norm ‖∂C/∂W‖ per layer"),
        (ratio_axis, "update-to-weight ratio ‖ΔW‖/‖W‖ per layer"),
    ):
        axis.set_yscale("log")
        axis.set_xlabel("step")
        axis.set_title(title)
        axis.grid(True, which="major", alpha=0.3)
    if len(names) <= 12:
        norms_axis.legend(title="layer", fontsize="small", loc="best")
    else:
        discrete = colors.ListedColormap(palette)
        bounds = colors.BoundaryNorm(numpy.arange(len(names) + 1) - 0.5, len(names))
        mapping = require("matplotlib.cm", purpose).ScalarMappable(norm=bounds, cmap=discrete)
        every = max(1, len(names) // 10)
        ticks = list(range(0, len(names), every))
        bar = figure.colorbar(mapping, ax=norms_axis, ticks=ticks)
        bar.ax.set_yticklabels([names[i] for i in ticks])
        bar.set_label("layer, first (bottom) to last (top)")
        if broken:
            norms_axis.legend(fontsize="small", loc="best")


def _plot_through_time(record: StepRecord, axis: Any) -> None:
    """‖δh_t‖ (solid) and, for an LSTM, ‖δc_t‖ (dashed) against t for one step, log scale."""
    for position, (key, norms) in enumerate(record.time_norms.items()):
        colour = f"C{position % 10}"
        steps = range(len(norms["h"]))
        axis.plot(steps, [_positive(v) for v in norms["h"]], color=colour, label=f"{key} δh")
        if "c" in norms:
            values = [_positive(v) for v in norms["c"]]
            axis.plot(steps, values, color=colour, linestyle="--", label=f"{key} δc")
    axis.set_yscale("log")
    axis.set_xlabel("time step t")
    axis.set_title(f"‖∂C/∂h_t‖ through time (step {record.step})")
    axis.grid(True, which="major", alpha=0.3)
    axis.legend(fontsize="small", loc="best")


def _positive(value: float | None) -> float:
    """A value a log axis can show: missing, zero or non-finite values become gaps (NaN)."""
    if value is None or not math.isfinite(value) or value <= 0:
        return math.nan
    return value


def _table(lines: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(line)
        ).rstrip()
        for line in lines
    ]
    text.insert(1, "-" * len(text[0]))
    return text
