"""A line search for the strong Wolfe conditions, with cubic interpolation.

Along a descent direction d from x, the search looks at φ(t) = f(x + t·d), whose slope is
φ'(t) = ∇f(x + t·d)·d < 0 at t = 0, for a step length t that satisfies

    φ(t) ≤ φ(0) + c1·t·φ'(0)          (sufficient decrease, the Armijo condition)
    |φ'(t)| ≤ c2·|φ'(0)|              (the curvature condition, strong form)

with 0 < c1 < c2 < 1. It follows Nocedal & Wright, *Numerical Optimization* (2nd ed., 2006):
algorithm 3.5 brackets an interval that holds such a t, extrapolating by cubic interpolation
(equation 3.59); algorithm 3.6 ("zoom") shrinks the bracket by the same interpolation, with
the safeguard of Mark Schmidt's minFunc, which PyTorch's L-BFGS also uses: a trial point too
close to an end of the bracket is moved a tenth of its width inside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy


class Point(NamedTuple):
    """φ at the step length ``t``: the loss ``f``, the flat gradient ``g`` of f at x + t·d,
    and the slope φ'(t) = g·d."""

    t: Any
    f: float
    g: Any
    slope: Any


def cubic_minimizer(a: Point, b: Point, bounds: tuple[Any, Any] | None = None) -> Any:
    """The minimiser of the cubic that matches φ and φ' at a.t and at b.t, clipped to
    ``bounds`` (by default the interval between a.t and b.t); the middle of the bounds when
    the cubic has no minimum there.

    Nocedal & Wright (3.59), measured from the larger of the two step lengths:

        d1 = φ'(a) + φ'(b) − 3·(φ(a) − φ(b)) / (a − b),   d2 = √(d1² − φ'(a)·φ'(b))
        t = b − (b − a)·(φ'(b) + d2 − d1) / (φ'(b) − φ'(a) + 2·d2)      (a ≤ b)
    """
    low, high = bounds if bounds is not None else ((a.t, b.t) if a.t <= b.t else (b.t, a.t))
    d1 = a.slope + b.slope - 3 * (a.f - b.f) / (a.t - b.t)
    d2_square = d1 * d1 - a.slope * b.slope
    if not d2_square >= 0:  # no real stationary point: bisect
        return (low + high) / 2.0
    d2 = numpy.sqrt(d2_square)
    if a.t <= b.t:
        t = b.t - (b.t - a.t) * ((b.slope + d2 - d1) / (b.slope - a.slope + 2 * d2))
    else:
        t = a.t - (a.t - b.t) * ((a.slope + d2 - d1) / (a.slope - b.slope + 2 * d2))
    return min(max(t, low), high)


def strong_wolfe(
    phi: Callable[[Any], Point],
    start: Point,
    t: Any,
    d_max: Any,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[Point, int]:
    """Search along d for a step length satisfying the strong Wolfe conditions.

    Args:
        phi: evaluates the loss and gradient at a step length: ``phi(t)`` is a :class:`Point`.
        start: φ at t = 0, with a negative slope.
        t: the first step length to try.
        d_max: max |d_i|, to turn a width in t into a change of the parameters.
        c1, c2: the constants of the two conditions, 0 < c1 < c2 < 1.
        tolerance_change: stop zooming once the bracket moves no parameter by more than this.
        max_ls: the most evaluations of ``phi`` after the first.

    Returns:
        The point found (or the best one seen when the evaluations ran out) and the number of
        evaluations of ``phi``.
    """

    def decreases_enough(point: Point) -> bool:
        return not point.f > start.f + c1 * point.t * start.slope

    flat_enough = -c2 * start.slope  # the bound on |φ'(t)|
    new = phi(t)
    evaluations, iteration = 1, 0

    # Algorithm 3.5: grow t until [previous, new] brackets a point that satisfies both.
    previous, bracket, done = start, None, False
    while iteration < max_ls:
        if not decreases_enough(new) or (iteration > 1 and new.f >= previous.f):
            bracket = [previous, new]
            break
        if abs(new.slope) <= flat_enough:
            bracket, done = [new], True
            break
        if new.slope >= 0:  # past a minimum of φ
            bracket = [previous, new]
            break
        # Extrapolate, to at least 1% beyond the new point and at most ten times as far.
        t = cubic_minimizer(previous, new, bounds=(new.t + 0.01 * (new.t - previous.t), new.t * 10))
        previous, new = new, phi(t)
        evaluations += 1
        iteration += 1
    if bracket is None:  # out of evaluations: keep whichever of 0 and the last t is lower
        bracket = [start, new]

    # Algorithm 3.6: shrink the bracket; `low` is its end with the lower loss.
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    insufficient_progress = False
    while not done and iteration < max_ls:
        if abs(bracket[1].t - bracket[0].t) * d_max < tolerance_change:
            break
        t = cubic_minimizer(bracket[0], bracket[1])
        t, insufficient_progress = _keep_inside(t, bracket, insufficient_progress)
        new = phi(t)
        evaluations += 1
        iteration += 1
        if not decreases_enough(new) or new.f >= bracket[low].f:
            bracket[high] = new
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
            continue
        if abs(new.slope) <= flat_enough:
            done = True
        elif new.slope * (bracket[high].t - bracket[low].t) >= 0:
            bracket[high] = bracket[low]  # the minimum lies on the other side of the new point
        bracket[low] = new
    return bracket[low], evaluations


def _keep_inside(t: Any, bracket: list[Point], insufficient: bool) -> tuple[Any, bool]:
    """minFunc's safeguard: a trial point within a tenth of the bracket's width of an end is
    moved that far inside if it is on or past the end, or if the previous trial was also too
    close; returns the point and whether this trial made insufficient progress."""
    left, right = min(bracket[0].t, bracket[1].t), max(bracket[0].t, bracket[1].t)
    margin = 0.1 * (right - left)
    if not min(right - t, t - left) < margin:
        return t, False
    if not (insufficient or t >= right or t <= left):
        return t, True
    return (right - margin if abs(t - right) < abs(t - left) else left + margin), False
