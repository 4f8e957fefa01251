"""The gradient fuzzer at second order: random programs differentiated twice, against PyTorch.

The programs are those of tests/test_gradient_fuzz.py without in-place updates. Each runs
forward with ``m = torch`` and ``m = chainrule`` in float64; then, in each library,

    g = autograd.grad(out, leaves, v, create_graph=True, allow_unused=True)
    s = Σᵢ ⟨wᵢ, gᵢ⟩
    second = autograd.grad(s, leaves + [v], allow_unused=True)

with the same random v (which requires grad: s is bilinear in it) and w. The first and the
second derivatives must agree with PyTorch's to a relative 1e-8 (None counts as zeros, since
the libraries may differ in which unused branches they prune), unless Richardson-extrapolated
differences of PyTorch's own first derivative show that PyTorch's second derivative is the
inaccurate one there. Where the program is smooth,
the second derivatives along a random direction must also match central finite differences
of s computed from chainrule's first derivative (ε = 1e-5).

Runs:
    pytest tests/test_gradient_fuzz_second_order.py                   # CI: fixed seed
    CHAINRULE_FUZZ_EXAMPLES=5000 pytest tests/test_gradient_fuzz_second_order.py
"""

from __future__ import annotations

import dataclasses
import warnings
import zlib
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given

import chainrule as cr
from fuzz_program import Leaf, Program, Step, assert_close, run
from test_gradient_fuzz import fuzz_settings, graphs

RTOL = 1e-8


def second_order(
    program: Program,
    m: Any,
    rng_seed: int,
    value_only: bool = False,
    v_moved: tuple[int, float] | None = None,
) -> tuple[list, list] | float:
    """First derivatives g and second derivatives ∂s/∂(leaves, v) of ``program`` in ``m``,
    as arrays (zeros where the library gives None); ``v_moved`` = (flat position, δ) moves
    one element of v."""
    outcome = run(program, m, forward_only=True)
    if outcome.error is not None:
        raise outcome.error[1]
    names = [s.name for s in program.statements if isinstance(s, Leaf) and s.requires_grad]
    leaves = [outcome.namespace[name] for name in names]
    out = outcome.namespace["out"]
    rng = np.random.default_rng(rng_seed)
    v_values = rng.standard_normal(tuple(out.shape))
    if v_moved is not None:
        v_values.reshape(-1)[v_moved[0]] += v_moved[1]
    v = m.tensor(v_values, dtype=m.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grads = m.autograd.grad(out, leaves, v, create_graph=True, allow_unused=True)
        s = None
        for leaf, g in zip(leaves, grads):
            w = m.tensor(rng.standard_normal(tuple(leaf.shape)), dtype=m.float64)
            if g is not None:
                term = (g * w).sum()
                s = term if s is None else s + term
        wrt = [*leaves, v]
        if value_only:
            return 0.0 if s is None else float(s.detach().numpy())
        if s is None or not s.requires_grad:
            seconds = [None] * len(wrt)
        else:
            seconds = m.autograd.grad(s, wrt, allow_unused=True)
    firsts = [_array(g, leaf) for g, leaf in zip(grads, leaves)]
    return firsts, [_array(h, x) for h, x in zip(seconds, wrt)]


def _array(value: Any, like: Any) -> np.ndarray:
    if value is None:
        return np.zeros(tuple(like.shape))
    if isinstance(value, torch.Tensor):
        if value._is_zerotensor():
            # Read by its shape: PyTorch 2.13 crashes (a segmentation fault) reading some of its
            # ZeroTensors with numpy(force=True), e.g. the second derivative of l1_loss(x, x).
            return np.zeros(tuple(value.shape))
        return np.array(value.detach().numpy(force=True), dtype=np.float64)
    return np.array(value.detach().numpy(), dtype=np.float64)


def check(program: Program) -> None:
    seed = zlib.crc32(program.source().encode())
    try:
        expected = second_order(program, torch, seed)
    except (RuntimeError, NotImplementedError) as error:
        if "not implemented" in str(error) or "does not require grad" in str(error):
            return  # PyTorch itself has no second derivative to compare with here
        raise
    actual = second_order(program, cr, seed)
    for i, (a, e) in enumerate(zip(actual[0], expected[0])):
        assert_close(a, e, f"{program!r}\nfirst derivative {i}", RTOL)
    # Conventions at kinks are PyTorch's, even where its double backward disagrees with its
    # own first derivative (prelu at z = 0: the gradient is w·v, yet varies as v alone).
    # Absolutely, to rtol of the largest second derivative of all: each is a sum over one graph
    # whose terms can be that large and cancel (cosine_similarity against a zero vector: terms
    # of order 1/ε, 10⁸, leave 2·10⁻⁷ of rounding where PyTorch's happen to cancel to 0).
    scale = max([1.0, *(float(np.abs(e[np.isfinite(e)]).max(initial=0)) for e in expected[1])])
    for i, (a, e) in enumerate(zip(actual[1], expected[1])):
        try:
            assert_close(a, e, f"{program!r}\nsecond derivative {i}", RTOL, scale)
        except AssertionError:
            if not _pytorch_is_the_inaccurate_one(program, seed, i, a, e):
                raise
    if program.smooth and all(np.isfinite(h).all() for h in actual[1]):
        check_finite_differences(program, actual[1], seed)


def _with_element_moved(program: Program, leaf: Leaf, position: int, delta: float) -> Program:
    """``program`` with element ``position`` (flat) of ``leaf`` moved by ``delta``."""
    values = leaf.values.copy()
    values.reshape(-1)[position] += delta
    statements = tuple(
        dataclasses.replace(s, values=values) if s is leaf else s for s in program.statements
    )
    return dataclasses.replace(program, statements=statements)


def _pytorch_is_the_inaccurate_one(
    program: Program, seed: int, index: int, actual: np.ndarray, expected: np.ndarray
) -> bool:
    """Whether, where chainrule's second derivative ∂s/∂x (x the leaf ``index``, or v after the
    leaves) differs from PyTorch's, an independent estimate shows chainrule's to be the exact
    one: ∂s/∂xⱼ by Richardson extrapolation of central differences of PyTorch's own s (error
    O(h⁴)), at steps h and h/2 whose two estimates agree closely enough to tell the two
    answers apart.

    PyTorch stays the reference everywhere else: only a smooth program, only finite values,
    and only where chainrule's value sits within the estimate's error and PyTorch's does not.
    (PyTorch's binary cross-entropy of a sigmoid near 1 loses digits in its double backward:
    107.107376 where the exact value, and chainrule's, is 107.107384.)
    """
    leaves = [s for s in program.statements if isinstance(s, Leaf) and s.requires_grad]
    if not program.smooth or index > len(leaves):
        return False
    if not (np.isfinite(actual).all() and np.isfinite(expected).all()):
        return False

    def s_at(position: int, delta: float) -> float:
        if index == len(leaves):  # ∂s/∂v: v moved (s is linear in it)
            return second_order(program, torch, seed, True, (position, delta))
        moved = _with_element_moved(program, leaves[index], position, delta)
        return second_order(moved, torch, seed, True)

    def central(position: int, h: float) -> float:
        return (s_at(position, h) - s_at(position, -h)) / (2 * h)

    def extrapolated(position: int, h: float) -> float:
        return (4 * central(position, h / 2) - central(position, h)) / 3

    flat_actual, flat_expected = actual.reshape(-1), expected.reshape(-1)
    scale = max(1.0, float(np.abs(flat_expected).max()))
    for position in np.flatnonzero(
        np.abs(flat_actual - flat_expected) > RTOL * np.maximum(np.abs(flat_expected), scale)
    ):
        coarse, fine = extrapolated(position, 1e-3), extrapolated(position, 5e-4)
        error = max(abs(coarse - fine), 1e-12 * scale)
        ours = abs(flat_actual[position] - fine)
        theirs = abs(flat_expected[position] - fine)
        if not (ours <= 4 * error < theirs):
            return False
    return True


def check_finite_differences(program: Program, seconds: list, seed: int) -> None:
    """⟨∂s/∂leaves, d⟩ against (s(x + εd) − s(x − εd)) / 2ε, s from chainrule's own first
    derivative: the second derivative is that of the first, whatever PyTorch says."""
    rng = np.random.default_rng(seed + 1)
    leaves = [s for s in program.statements if isinstance(s, Leaf) and s.requires_grad]
    directions = [rng.standard_normal(leaf.values.shape) for leaf in leaves]
    eps = 1e-5

    def moved(sign: float) -> Program:
        values = {id(leaf): leaf.values + sign * eps * d for leaf, d in zip(leaves, directions)}
        statements = tuple(
            dataclasses.replace(s, values=values[id(s)]) if id(s) in values else s
            for s in program.statements
        )
        return dataclasses.replace(program, statements=statements)

    def shifted(sign: float) -> float:
        return second_order(moved(sign), cr, seed, True)

    def along(seconds: list) -> float:
        return sum(float((h * d).sum()) for h, d in zip(seconds, directions))

    at = {t: shifted(t) for t in (-2.0, -1.0, 0.0, 1.0, 2.0)}
    numeric = (at[1.0] - at[-1.0]) / (2 * eps)
    analytic = along(seconds)
    scale = max(1.0, abs(analytic), abs(numeric))
    # Operations that are smooth at first order may still have a kink in their derivative
    # (celu and elu at 0, huber at delta, smooth_l1 at beta; leaf values are hundredths, so
    # they sit on it exactly): s is then only continuous there, and the central difference
    # averages its two slopes. A kink of s within 2ε makes the second differences at ε and 2ε
    # disagree by about 1.5 / ε times the error it causes in the central difference (for a
    # smooth s they agree to O(ε²)): skip those, PyTorch has checked the convention.
    curvature_1 = (at[1.0] - 2 * at[0.0] + at[-1.0]) / eps**2
    curvature_2 = (at[2.0] - 2 * at[0.0] + at[-2.0]) / (2 * eps) ** 2
    if abs(curvature_1 - curvature_2) * eps > 1e-4 * scale:
        return
    if abs(numeric - analytic) > 1e-4 * scale:
        # PyTorch defines some second derivatives at one point by a convention that is not
        # the limit around it: aᵇ's ∂/∂a = b·aᵇ⁻¹ is masked to 0 where b = 0 (for 0⁰), so
        # its ∂²/∂a∂b there is 0, not 1/a. chainrule has matched PyTorch at x already; what
        # is left to check is that the autodiff just beside x is the derivative of s.
        analytic = (
            along(second_order(moved(1.0), cr, seed)[1])
            + along(second_order(moved(-1.0), cr, seed)[1])
        ) / 2
        scale = max(1.0, abs(analytic), abs(numeric))
    assert abs(numeric - analytic) <= 1e-4 * scale, (
        f"{program!r}\nsecond derivative along a random direction: autodiff {analytic!r}, "
        f"finite differences of the first derivative {numeric!r}"
    )


@fuzz_settings(1000)
@given(graphs())
def test_random_graphs_second_derivatives_match_torch(program: Program) -> None:
    check(program)


def _bce_of_sigmoids() -> Program:
    """The program where PyTorch's double backward of binary cross-entropy loses digits
    (found by this fuzzer)."""
    return Program(
        statements=(
            Leaf("v0", np.array(0.0), True),
            Step(("v3",), "v0 + v0"),
            Step(("v6",), "(v3 + 0.5) * 4"),
            Leaf("v7", np.array(0.0), False),
            Step(("v8",), "m.kron(v6.clone(), v7.clone())"),
            Step(("v9",), "v6 ** 3"),
            Step(("out",), "F.binary_cross_entropy(v9.sigmoid(), v8.sigmoid())"),
        ),
        backward=("out.backward()",),
    )


def test_cancelling_terms_of_the_other_second_derivatives_set_the_tolerance() -> None:
    """Found by this fuzzer (seed 1239): the cosine similarity against a zero vector, whose
    norm product is clamped to ε, has second derivatives of order 1/ε (∂s/∂v: 1.5·10⁸), and
    ∂s/∂v0, exactly 0, comes out of terms that large cancelling as a rounding of 2·10⁻⁷ in
    chainrule and 0 in PyTorch."""
    program = Program(
        statements=(
            Leaf("v0", np.array([[0.01], [0.01]]), True),
            Leaf("v1", np.array([[0.0], [0.0]]), True),
            Step(("v2",), "F.cosine_similarity(v0, v1, dim=-1)"),
            Step(("out",), "v2"),
        ),
        backward=("out.sum().backward()",),
    )
    seed = zlib.crc32(program.source().encode())
    expected = second_order(program, torch, seed)[1]
    actual = second_order(program, cr, seed)[1]
    assert np.abs(expected[2]).max() > 1e8  # ∂s/∂v: the large terms
    assert np.all(expected[0] == 0) and np.abs(actual[0]).max() > 1e-8  # the rounding
    check(program)
    # A wrong value is still refused: 10⁻⁸ of the largest second derivative is about 1.5.
    with pytest.raises(AssertionError):
        assert_close(actual[0] + 10.0, expected[0], "v0", RTOL, float(np.abs(expected[2]).max()))


def test_an_inaccurate_pytorch_second_derivative_is_told_apart_from_a_wrong_one() -> None:
    program = _bce_of_sigmoids()
    seed = zlib.crc32(program.source().encode())
    ours, theirs = second_order(program, cr, seed)[1][0], second_order(program, torch, seed)[1][0]
    assert abs(ours - theirs) > 1e-8 * abs(theirs)  # they differ in the 8th digit
    assert _pytorch_is_the_inaccurate_one(program, seed, 0, ours, theirs)
    check(program)
    # A chainrule value as far off the other way, or as far off as PyTorch's, is refused.
    for wrong in (ours + (ours - theirs), theirs + 0.5 * (ours - theirs), ours * (1 + 1e-6)):
        assert not _pytorch_is_the_inaccurate_one(program, seed, 0, wrong, theirs)
    # ∂s/∂v (index 1, after the leaf), where the two libraries agree: a value off is refused
    v_ours, v_theirs = (
        second_order(program, cr, seed)[1][1],
        second_order(program, torch, seed)[1][1],
    )
    assert not _pytorch_is_the_inaccurate_one(program, seed, 1, v_ours * (1 + 1e-6), v_theirs)
    kinked = dataclasses.replace(program, smooth=False)  # no differences across a kink
    assert not _pytorch_is_the_inaccurate_one(kinked, seed, 0, ours, theirs)
