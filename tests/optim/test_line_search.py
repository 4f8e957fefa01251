"""The strong-Wolfe line search of L-BFGS: cubic interpolation exact on cubics and against
PyTorch's, and the search itself against PyTorch's on the Rosenbrock function, from step
lengths that make it extrapolate, zoom, or accept at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch.optim.lbfgs import _cubic_interpolate, _strong_wolfe

from chainrule.optim.line_search import Point, cubic_minimizer, strong_wolfe


def point(phi: Any, slope: Any, t: float) -> Point:
    return Point(t, phi(t), None, slope(t))


def test_the_interpolation_of_a_cubic_is_the_cubic_itself() -> None:
    """φ(t) = t³ − 3t has its local minimum at t = 1."""

    def phi(t: float) -> float:
        return t**3 - 3 * t

    def slope(t: float) -> float:
        return 3 * t**2 - 3

    a, b = point(phi, slope, 0.0), point(phi, slope, 2.0)
    assert cubic_minimizer(a, b) == pytest.approx(1.0, rel=1e-14)
    assert cubic_minimizer(b, a) == pytest.approx(1.0, rel=1e-14)  # either order
    assert cubic_minimizer(a, b, bounds=(1.5, 3.0)) == 1.5  # clipped to the bounds


def test_a_cubic_without_a_minimum_gives_the_middle_of_the_bounds() -> None:
    """φ(t) = t³ + t rises everywhere: no stationary point, d1² − φ'(a)φ'(b) < 0."""
    a, b = Point(0.0, 0.0, None, 1.0), Point(1.0, 2.0, None, 4.0)
    assert cubic_minimizer(a, b) == 0.5
    assert cubic_minimizer(a, b, bounds=(1.0, 3.0)) == 2.0


def test_the_interpolation_matches_torchs_on_random_points() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        ta, tb = rng.uniform(-2, 3, size=2)
        fa, fb, ga, gb = rng.standard_normal(4)
        bounds = tuple(sorted(rng.uniform(-3, 4, size=2))) if rng.random() < 0.5 else None
        ours = cubic_minimizer(Point(ta, fa, None, ga), Point(tb, fb, None, gb), bounds)
        theirs = _cubic_interpolate(
            ta, fa, torch.tensor(ga), tb, fb, torch.tensor(gb), bounds=bounds
        )
        assert float(ours) == pytest.approx(float(theirs), rel=1e-13, abs=1e-15)


def rosenbrock(x: np.ndarray) -> tuple[float, np.ndarray]:
    f = np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return float(f), g


@pytest.mark.parametrize("t", [1e-6, 1e-3, 0.05, 1.0, 30.0])
@pytest.mark.parametrize("max_ls", [25, 3])
def test_the_search_matches_torchs(t: float, max_ls: int) -> None:
    """Along the steepest descent from (−1.2, 1, −0.5): a tiny first step extrapolates, a
    large one zooms back; both searches return the same point after the same evaluations."""
    x = np.array([-1.2, 1.0, -0.5])
    f, g = rosenbrock(x)
    d = -g

    def phi(step: Any) -> Point:
        f_t, g_t = rosenbrock(x + step * d)
        return Point(step, f_t, g_t, g_t @ d)

    found, evaluations = strong_wolfe(phi, Point(0, f, g, g @ d), t, np.abs(d).max(), max_ls=max_ls)

    def objective(x0: Any, step: Any, direction: Any) -> tuple[float, Any]:
        f_t, g_t = rosenbrock(x0.numpy() + float(step) * direction.numpy())
        return f_t, torch.tensor(g_t)

    gt, dt = torch.tensor(g), torch.tensor(d)
    f_ref, g_ref, t_ref, evaluations_ref = _strong_wolfe(
        objective, torch.tensor(x), t, dt, f, gt, gt @ dt, max_ls=max_ls
    )
    assert evaluations == evaluations_ref
    assert float(found.t) == pytest.approx(float(t_ref), rel=1e-12)
    assert found.f == pytest.approx(f_ref, rel=1e-12)
    np.testing.assert_allclose(found.g, g_ref.numpy(), rtol=1e-12)
    if max_ls == 25:  # with evaluations to spare, the strong Wolfe conditions hold
        assert found.f <= f + 1e-4 * found.t * (g @ d)
        assert abs(found.slope) <= 0.9 * abs(g @ d)
