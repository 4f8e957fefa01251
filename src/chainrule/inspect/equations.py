"""Equations with numbers, each checked: the pieces every layer family's explanation uses.

A :class:`Check` compares a right-hand side computed in float64 NumPy from recorded arrays with
what autodiff gave; an :class:`Equation` holds its general form, its form for one layer, the
numbers and the check; a :class:`LayerExplanation` is one layer's list of equations, printed
by :func:`format_text` (and as HTML by :mod:`chainrule.inspect.report`).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy

# Arrays up to this many elements are printed in full; bigger ones as summary statistics.
FULL_PRINT_LIMIT = 32

_SUPERSCRIPTS = str.maketrans("0123456789+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")
_SUBSCRIPTS = str.maketrans("0123456789+-−tn", "₀₁₂₃₄₅₆₇₈₉₊₋₋ₜₙ")


def sup(text: object) -> str:
    """``3`` → ``³``: layer numbers written as superscripts."""
    return str(text).translate(_SUPERSCRIPTS)


def sub(text: object) -> str:
    """``t+1`` → ``ₜ₊₁``: time steps written as subscripts."""
    return str(text).translate(_SUBSCRIPTS)


def as_rows(array: numpy.ndarray) -> numpy.ndarray:
    """Any (*, features) array as (samples, features)."""
    return array.reshape(-1, array.shape[-1])


@dataclass
class Check:
    """A right-hand side computed from the recorded arrays against the autodiff result.

    ``ok`` when max |computed − autodiff| ≤ rtol · scale, where ``scale`` is the largest value
    of the same right-hand side evaluated on the absolute values of its operands: the size of
    the terms summed, which bounds the rounding error even where terms cancel.
    """

    computed: numpy.ndarray
    autodiff: numpy.ndarray
    scale: float
    rtol: float

    @property
    def max_diff(self) -> float:
        difference = numpy.asarray(self.computed, numpy.float64) - self.autodiff
        return float(numpy.abs(difference).max()) if difference.size else 0.0

    @property
    def ok(self) -> bool:
        shapes_agree = numpy.shape(self.computed) == numpy.shape(self.autodiff)
        return shapes_agree and self.max_diff <= self.rtol * self.scale + 1e-30

    @property
    def verdict(self) -> str:
        if numpy.shape(self.computed) != numpy.shape(self.autodiff):
            return (
                f"✗ differs from autodiff: shape {numpy.shape(self.computed)} against "
                f"{numpy.shape(self.autodiff)}"
            )
        mark = "✓ matches autodiff" if self.ok else "✗ differs from autodiff"
        return f"{mark} (max |diff| = {self.max_diff:.3g})"


def check(function: object, operands: tuple, autodiff: numpy.ndarray) -> Check:
    """Evaluate ``function(*operands)`` in float64 and compare it with ``autodiff``."""
    exact = [
        numpy.asarray(v, numpy.float64) if isinstance(v, numpy.ndarray) else v for v in operands
    ]
    absolute = [numpy.abs(v) if isinstance(v, numpy.ndarray) else v for v in exact]
    computed = function(*exact)
    # The size of the terms: the right-hand side on absolute values bounds the rounding of a
    # sum; the result's own size covers forms where that evaluation cancels (x − mean x).
    magnitude = numpy.abs(function(*absolute))
    scale = float(magnitude.max()) if magnitude.size else 0.0
    scale = max(scale, float(numpy.abs(computed).max()) if numpy.size(computed) else 0.0)
    # A float32 step rounds each term to ~1e-7; the sums in a layer stay well within 1e-4.
    rtol = 1e-4 if autodiff.dtype == numpy.float32 else 1e-9
    return Check(computed, numpy.asarray(autodiff, numpy.float64), scale, rtol)


@dataclass
class Equation:
    """One equation: its general form, the form for this layer, the numbers, and the check."""

    label: str  # "BP1" ... "BP4"
    general: str  # in the articles' notation
    instance: str  # with this layer's number (and, for batches, how it is summed)
    terms: list[tuple[str, numpy.ndarray]] = field(default_factory=list)
    check: Check | None = None
    note: str = ""  # why an equation is not checked, or where a term comes from
    # Where the check covers every time step but the numbers shown are one step's: the index
    # of that step in the check's arrays (axis 0) and its label, e.g. (4, "t = 4").
    shown: tuple[int, str] | None = None

    def check_terms(self) -> list[tuple[str, numpy.ndarray]]:
        """The check's two sides as labelled terms (one step's slice where ``shown``)."""
        if self.check is None:
            return []
        computed, autodiff, where = self.check.computed, self.check.autodiff, ""
        if self.shown is not None:
            step, label = self.shown
            computed, autodiff, where = computed[step], autodiff[step], f" at {label}"
        return [
            (f"right-hand side, computed in NumPy{where}", computed),
            (f"autodiff (backward){where}", autodiff),
        ]


@dataclass
class LayerExplanation:
    """The equations of one layer, ready to print as text or HTML."""

    record: Any  # the family's record of the layer
    heading: str
    convention: str
    equations: list[Equation]

    @property
    def checks(self) -> list[Check]:
        return [e.check for e in self.equations if e.check is not None]


# ---- text -------------------------------------------------------------------------------------


def format_array(array: numpy.ndarray) -> str:
    """Small arrays in full (4 significant digits), big ones as shape and summary statistics."""
    array = numpy.asarray(array)
    if array.size <= FULL_PRINT_LIMIT:
        width = max((len(f"{v:.4g}") for v in array.ravel()), default=1)
        return numpy.array2string(
            array, formatter={"all": lambda v: f"{v:.4g}".rjust(width)}, max_line_width=96
        )
    values = array.astype(numpy.float64)
    return (
        f"{shape_text(array)} array: mean {values.mean():.4g}, std {values.std():.4g}, "
        f"min {values.min():.4g}, max {values.max():.4g}, ‖·‖ {numpy.linalg.norm(values):.4g}"
    )


def format_text(explanation: LayerExplanation) -> str:
    """The explanation as plain text: heading, convention, equations with numbers, verdicts."""
    lines = [explanation.heading, *_wrap(explanation.convention, 96, "  "), ""]
    for equation in explanation.equations:
        lines.append(f"  ({equation.label}) {equation.general}")
        lines.append(f"        {equation.instance}")
        for label, array in [*equation.terms, *equation.check_terms()]:
            lines.append(f"    {label} [{shape_text(array)}] =")
            lines += ["      " + row for row in format_array(array).splitlines()]
        if equation.note:
            lines += _wrap(equation.note, 96, "    ")
        if equation.check is not None:
            every = " (every step)" if equation.shown is not None else ""
            lines.append(f"    {equation.check.verdict}{every}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _wrap(text: str, width: int, indent: str) -> list[str]:
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent)


def shape_text(array: numpy.ndarray) -> str:
    """(4, 2) → ``4×2``."""
    shape = numpy.shape(array)
    return "×".join(str(n) for n in shape) if shape else "scalar"
