"""One self-contained HTML page for a traced step: the table, the equations with numbers and
their checks, the computational graph and a bar chart of the per-layer gradient norms.

The page needs nothing outside itself: the style sheet is inline, the graph is inline SVG drawn
by Graphviz's ``dot`` (or its DOT source in a ``<pre>`` where ``dot`` is not installed), the bar
chart is a PNG in a ``data:`` URI, and there is no JavaScript.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import shutil

import numpy

from chainrule.files import write_text_atomic
from chainrule.inspect.explain import (
    Equation,
    LayerExplanation,
    explain_layer,
    format_array,
    shape_text,
)
from chainrule.inspect.tracer import Trace, table_rows
from chainrule.optional import require

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1d1d1f; background: #fafafa; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 0 0 4px; font-family: Georgia, serif; }
pre, code, td.num { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
pre { margin: 2px 0 0; white-space: pre; overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; background: #fff; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
th { background: #f0f0f3; font-weight: 600; }
td.num { text-align: right; }
.summary { font-size: 16px; }
.equation { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px;
  margin: 12px 0; }
.instance { font-family: Georgia, serif; margin: 0 0 8px; color: #333; }
.terms { display: flex; flex-wrap: wrap; gap: 10px 22px; align-items: flex-start; }
.term { margin: 0; min-width: 0; max-width: 100%; }
.term figcaption { font-size: 13px; color: #555; }
.note { color: #6a4b00; background: #fff8e1; padding: 6px 10px; border-radius: 4px; }
.verdict { font-weight: 600; margin: 8px 0 0; }
.ok { color: #137333; }
.bad { color: #b3261e; }
.picture svg, .picture img { max-width: 100%; height: auto; display: block; }
.convention { color: #444; }
ul.equations { font-family: Georgia, serif; font-size: 16px; margin: 4px 0; }
caption { text-align: left; font-size: 13px; color: #555; padding: 2px 0; }
"""


def render_report(trace: Trace, title: str = "One backpropagation step, layer by layer") -> str:
    """The whole page as one HTML string (UTF-8 text, no external references)."""
    explanations = [explain_layer(trace, record.index) for record in trace.layers]
    checks = [c for e in explanations for c in e.checks]
    failed = sum(not c.ok for c in checks)
    verdict = (
        f'<span class="ok">all {len(checks)} checked equations match autodiff ✓</span>'
        if not failed
        else f'<span class="bad">{failed} of {len(checks)} checked equations differ ✗</span>'
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="summary">Loss ({_e(trace.loss_name)}) = {trace.loss:.6g} on '
        f"{trace.batch_text}; {verdict}.</p>",
        f"<pre>{_e(trace.model)}</pre>" if trace.model else "",
        _notation(),
        "<h2>The trace</h2>",
        _table(trace),
        "<h2>Computational graph</h2>",
        _graph_section(trace),
        "<h2>Per-layer gradient norms</h2>",
        _norms_section(trace),
        *(_layer_section(explanation) for explanation in explanations),
        "</main></body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def write_report(trace: Trace, path: str | os.PathLike[str], title: str | None = None) -> None:
    """Write :func:`render_report`'s page to ``path`` atomically."""
    page = render_report(trace) if title is None else render_report(trace, title)
    write_text_atomic(path, page)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _sup(text: str) -> str:
    return f"<sup>{text}</sup>"


def _notation() -> str:
    sup = _sup
    return (
        "<h2>The equations</h2>"
        f'<p class="convention">For layer l: z{sup("l")} = W{sup("l")} a{sup("l−1")} + '
        f"b{sup('l')}, a{sup('l')} = σ(z{sup('l')}), δ{sup('l')} = ∂C/∂z{sup('l')}, and L is "
        'the last layer. In the articles\' notation:</p><ul class="equations">'
        f"<li>(BP1) δ{sup('L')} = ∇<sub>a</sub>C ⊙ σ′(z{sup('L')})</li>"
        f"<li>(BP2) δ{sup('l')} = ((W{sup('l+1')}){sup('T')} δ{sup('l+1')}) ⊙ "
        f"σ′(z{sup('l')})</li>"
        f"<li>(BP3) ∂C/∂W{sup('l')} = δ{sup('l')} (a{sup('l−1')}){sup('T')}</li>"
        f"<li>(BP4) ∂C/∂b{sup('l')} = δ{sup('l')}</li></ul>"
        '<p class="convention">Batch convention: chainrule keeps one sample per row '
        "(z = a W<sup>T</sup> + b), so each equation holds row by row, and ∂C/∂W, ∂C/∂b are "
        "sums over the batch. Every right-hand side below is computed in NumPy from the "
        "recorded arrays and compared with what autodiff (the backward pass) gave.</p>"
    )


def _table(trace: Trace) -> str:
    header, rows = table_rows(trace)
    numeric = range(3, len(header) - 1)
    head = "".join(f"<th>{_e(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    skipped = "".join(f'<p class="note">Skipped: {_e(note)}</p>' for note in trace.skipped)
    return f'<table class="trace"><tr>{head}</tr>{body}</table>{skipped}'


def _graph_section(trace: Trace) -> str:
    if trace.graph_root is None:
        return '<p class="note">The trace was made without keep_graph=True: no graph.</p>'
    from chainrule.inspect.computational_graph import graph

    drawing = graph(trace.graph_root, params=trace.params)
    source = f"<pre>{_e(drawing.dot)}</pre>"
    if shutil.which("dot") is None:
        return (
            '<p class="note">Graphviz\'s <code>dot</code> is not installed, so the graph is '
            "shown as its DOT source (apt-get install graphviz, or paste it into any Graphviz "
            f"viewer).</p>{source}"
        )
    try:
        svg = drawing.render("svg").decode("utf-8")
    except RuntimeError as error:
        return f'<p class="note">{_e(error)}</p>{source}'
    # Inline SVG must not carry an XML prolog or DOCTYPE; comments only add bytes.
    svg = re.sub(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->", "", svg, flags=re.S).strip()
    return f'<div class="picture graph">{svg}</div>'


def _norms_section(trace: Trace) -> str:
    try:
        png = norms_chart_png(trace)
    except ImportError as error:  # the rest of the page needs no matplotlib
        return f'<p class="note">No chart: {_e(error)}</p>'
    data = base64.b64encode(png).decode("ascii")
    alt = "bar chart of ‖δ‖, ‖∂C/∂W‖ and ‖∂C/∂b‖ for each layer"
    return f'<div class="picture"><img src="data:image/png;base64,{data}" alt="{alt}"></div>'


def norms_chart_png(trace: Trace) -> bytes:
    """A PNG bar chart of ‖δ‖, ‖∂C/∂W‖ and ‖∂C/∂b‖ per layer (log scale where all positive)."""
    purpose = "the gradient-norm chart of the explain page"
    figure_module = require("matplotlib.figure", purpose)
    backend_agg = require("matplotlib.backends.backend_agg", purpose)
    figure = figure_module.Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    canvas = backend_agg.FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    series = [("‖δ‖", "delta"), ("‖∂C/∂W‖", "grad_weight"), ("‖∂C/∂b‖", "grad_bias")]
    positions = numpy.arange(len(trace.layers))
    width = 0.8 / len(series)
    values = []
    for k, (label, name) in enumerate(series):
        heights = [record.norm(name) or 0.0 for record in trace.layers]
        values += heights
        axes.bar(positions + (k - 1) * width, heights, width, label=label)
    if values and min(values) > 0:
        axes.set_yscale("log")
    axes.set_xticks(positions, [f"l={r.number} ({r.name})" for r in trace.layers])
    axes.set_ylabel("norm")
    axes.set_title(f"gradient norms per layer, loss {trace.loss:.4g}")
    axes.legend(loc="best", fontsize="small")
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()


def _layer_section(explanation: LayerExplanation) -> str:
    record = explanation.record
    parts = [
        f'<section class="layer" id="layer-{record.number}">',
        f"<h2>{_e(explanation.heading)}</h2>",
        f'<p class="convention">{_e(explanation.convention)}</p>',
        *(_equation(equation) for equation in explanation.equations),
        _stats_table(explanation),
        "</section>",
    ]
    return "\n".join(parts)


def _equation(equation: Equation) -> str:
    terms = [*equation.terms, *equation.check_terms()]
    figures = "".join(
        f'<figure class="term"><figcaption>{_e(label)} [{_e(shape_text(array))}]</figcaption>'
        f"<pre>{_e(format_array(array))}</pre></figure>"
        for label, array in terms
    )
    note = f'<p class="note">{_e(equation.note)}</p>' if equation.note else ""
    verdict = ""
    if equation.check is not None:
        style = "ok" if equation.check.ok else "bad"
        every = " (every step)" if equation.shown is not None else ""
        verdict = f'<p class="verdict {style}">{_e(equation.check.verdict + every)}</p>'
    return (
        f'<div class="equation"><h3>({_e(equation.label)}) {_e(equation.general)}</h3>'
        f'<p class="instance">{_e(equation.instance)}</p>'
        f'<div class="terms">{figures}</div>{note}{verdict}</div>'
    )


def _stats_table(explanation: LayerExplanation) -> str:
    record = explanation.record
    names = {name: record.ARRAYS[name] for name in record.SUMMARY or record.ARRAYS}
    stats = explanation.record.stats()
    head = "<tr><th>array</th><th>shape</th><th>mean</th><th>std</th><th>min</th><th>max</th>"
    head += "<th>norm</th></tr>"
    rows = []
    for name, label in names.items():
        if name not in stats:
            continue
        shape = shape_text(record.arrays()[name])
        cells = "".join(f'<td class="num">{value:.4g}</td>' for value in stats[name])
        rows.append(f"<tr><td>{_e(label)}</td><td>{shape}</td>{cells}</tr>")
    caption = "<caption>Summary statistics of this layer's arrays</caption>"
    return f'<table class="stats">{caption}{head}{"".join(rows)}</table>'
