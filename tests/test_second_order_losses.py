"""Second derivatives of the training losses, against PyTorch's double backward and against
finite differences of the first derivative.

For each loss, in float64: the first derivative is taken with ``create_graph=True`` with a
random upstream gradient v that requires grad; a random weighting of it is differentiated
again, with respect to the input, the target (where PyTorch differentiates the loss with
respect to it) and v. The results must match PyTorch's on the same values, and
``chainrule.autograd.gradgradcheck`` must pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

N, C = 5, 4


@dataclass
class LossCase:
    """A loss of (input, target) in either library; ``target_grad``: differentiate the target
    too; ``inputs``: the input and target arrays from a generator."""

    id: str
    fn: Callable[..., Any]  # fn(m, x, t) -> loss; m is chainrule or torch
    inputs: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]
    target_grad: bool = True


def _functional(m: Any) -> Any:
    return m.nn.functional


def _tensor(m: Any, array: np.ndarray) -> Any:
    """An array as a constant of ``m``: float arrays in float64, class indices in int64."""
    return m.tensor(array, dtype=m.float64 if array.dtype.kind == "f" else m.int64)


def _regression(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((N, C)), rng.standard_normal((N, C))


def _logits_and_classes(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((N, C)) * 2, rng.integers(0, C, size=N)


def _spatial_logits_and_classes(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((N, C, 3)), rng.integers(0, C, size=(N, 3))


def _logits_and_probabilities(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    raw = rng.uniform(0.1, 1.0, size=(N, C))
    return rng.standard_normal((N, C)) * 2, raw / raw.sum(axis=1, keepdims=True)


def _probabilities_and_targets(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(0.05, 0.95, size=(N, C)), rng.uniform(0.0, 1.0, size=(N, C))


def _logits_and_targets(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((N, C)) * 3, rng.uniform(0.0, 1.0, size=(N, C))


CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 1.5])
ELEMENT_WEIGHT = np.linspace(0.5, 2.0, N * C).reshape(N, C)
POS_WEIGHT = np.array([3.0, 0.5, 1.0, 2.0])


def _weight(m: Any, array: np.ndarray) -> Any:
    return m.tensor(array, dtype=m.float64)


CASES = [
    *(
        LossCase(
            f"mse_loss_{r}",
            lambda m, x, t, r=r: _functional(m).mse_loss(x, t, reduction=r),
            _regression,
        )
        for r in ("mean", "sum", "none")
    ),
    *(
        LossCase(
            f"l1_loss_{r}",
            lambda m, x, t, r=r: _functional(m).l1_loss(x, t, reduction=r),
            _regression,
        )
        for r in ("mean", "sum", "none")
    ),
    *(
        LossCase(
            f"cross_entropy_classes_{r}",
            lambda m, x, t, r=r: _functional(m).cross_entropy(x, t, reduction=r),
            _logits_and_classes,
            target_grad=False,
        )
        for r in ("mean", "sum", "none")
    ),
    *(
        LossCase(
            f"cross_entropy_classes_weight_smoothing_{r}",
            lambda m, x, t, r=r: _functional(m).cross_entropy(
                x, t, weight=_weight(m, CLASS_WEIGHT), label_smoothing=0.2, reduction=r
            ),
            _logits_and_classes,
            target_grad=False,
        )
        for r in ("mean", "sum", "none")
    ),
    LossCase(
        "cross_entropy_classes_ignore_index",
        lambda m, x, t: _functional(m).cross_entropy(x, t, ignore_index=int(t[0])),
        _logits_and_classes,
        target_grad=False,
    ),
    LossCase(
        "cross_entropy_spatial_weight",
        lambda m, x, t: _functional(m).cross_entropy(x, t, weight=_weight(m, CLASS_WEIGHT)),
        _spatial_logits_and_classes,
        target_grad=False,
    ),
    *(
        LossCase(
            f"cross_entropy_probabilities_{r}",
            lambda m, x, t, r=r: _functional(m).cross_entropy(x, t, reduction=r),
            _logits_and_probabilities,
        )
        for r in ("mean", "sum", "none")
    ),
    LossCase(
        "cross_entropy_probabilities_weight_smoothing",
        lambda m, x, t: _functional(m).cross_entropy(
            x, t, weight=_weight(m, CLASS_WEIGHT), label_smoothing=0.1
        ),
        _logits_and_probabilities,
    ),
    *(
        LossCase(
            f"nll_loss_weight_{r}",
            lambda m, x, t, r=r: _functional(m).nll_loss(
                x, t, weight=_weight(m, CLASS_WEIGHT), reduction=r
            ),
            _logits_and_classes,
            target_grad=False,
        )
        for r in ("mean", "sum", "none")
    ),
    LossCase(
        "nll_loss_of_log_softmax",
        lambda m, x, t: _functional(m).nll_loss(_functional(m).log_softmax(x, dim=1), t),
        _logits_and_classes,
        target_grad=False,
    ),
    *(
        LossCase(
            f"binary_cross_entropy_{r}",
            lambda m, x, t, r=r: _functional(m).binary_cross_entropy(x, t, reduction=r),
            _probabilities_and_targets,
        )
        for r in ("mean", "sum", "none")
    ),
    LossCase(
        "binary_cross_entropy_weight",
        lambda m, x, t: _functional(m).binary_cross_entropy(
            x, t, weight=_weight(m, ELEMENT_WEIGHT)
        ),
        _probabilities_and_targets,
    ),
    *(
        LossCase(
            f"binary_cross_entropy_with_logits_{r}",
            lambda m, x, t, r=r: _functional(m).binary_cross_entropy_with_logits(x, t, reduction=r),
            _logits_and_targets,
        )
        for r in ("mean", "sum", "none")
    ),
    LossCase(
        "binary_cross_entropy_with_logits_weights",
        lambda m, x, t: _functional(m).binary_cross_entropy_with_logits(
            x, t, weight=_weight(m, ELEMENT_WEIGHT), pos_weight=_weight(m, POS_WEIGHT)
        ),
        _logits_and_targets,
    ),
]


def _numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)  # force: PyTorch's zero tensors refuse otherwise
    return np.asarray(t.detach().numpy())


def _leaves(m: Any, case: LossCase, arrays: tuple) -> list:
    x = m.tensor(arrays[0], dtype=m.float64, requires_grad=True)
    target = _tensor(m, arrays[1])
    if case.target_grad:
        target.requires_grad_(True)
    return [x, target]


def second_derivatives(m: Any, case: LossCase, arrays: tuple, seed: int) -> list[np.ndarray]:
    """∂/∂(x, target, v) of ⟨w, ∂⟨loss, v⟩/∂(x, target)⟩ for random v and w, as arrays (zeros
    where the first derivative does not depend on a variable)."""
    rng = np.random.default_rng(seed)
    x, target = _leaves(m, case, arrays)
    loss = case.fn(m, x, target)
    v = m.tensor(rng.standard_normal(tuple(loss.shape)), dtype=m.float64, requires_grad=True)
    wrt = [x, target] if case.target_grad else [x]
    firsts = m.autograd.grad(loss, wrt, v, create_graph=True)
    total = sum(
        (g * m.tensor(rng.standard_normal(tuple(g.shape)), dtype=m.float64)).sum() for g in firsts
    )
    seconds = m.autograd.grad(total, [*wrt, v], allow_unused=True)
    return [
        np.zeros(tuple(a.shape)) if s is None else _numpy(s) for s, a in zip(seconds, [*wrt, v])
    ]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_second_derivatives_match_torch(case: LossCase) -> None:
    arrays = case.inputs(np.random.default_rng(len(case.id)))
    ours = second_derivatives(cr, case, arrays, 3)
    theirs = second_derivatives(torch, case, arrays, 3)
    names = ["input", "target", "v"] if case.target_grad else ["input", "v"]
    for name, a, e in zip(names, ours, theirs):
        scale = max(1.0, float(np.abs(e).max())) if e.size else 1.0
        np.testing.assert_allclose(
            a, e, rtol=1e-9, atol=1e-12 * scale, err_msg=f"{case.id}: ∂/∂{name}"
        )


def test_second_derivatives_are_not_all_zero() -> None:
    # Guards the comparison above against comparing zeros with zeros: the losses with a
    # curvature have a nonzero Hessian-vector product with respect to the input.
    for case_id in ("mse_loss_mean", "cross_entropy_classes_mean", "binary_cross_entropy_sum"):
        case = next(c for c in CASES if c.id == case_id)
        ours = second_derivatives(cr, case, case.inputs(np.random.default_rng(0)), 3)
        assert np.abs(ours[0]).max() > 1e-3, case_id


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gradgradcheck(case: LossCase) -> None:
    arrays = case.inputs(np.random.default_rng(len(case.id) + 1))
    x, target = _leaves(cr, case, arrays)
    if case.target_grad:
        inputs = [x, target]
        fn = lambda x, t: case.fn(cr, x, t)  # noqa: E731
    else:
        inputs = [x]
        fn = lambda x: case.fn(cr, x, target)  # noqa: E731
    assert cr.autograd.gradgradcheck(fn, inputs) is True


def test_hessian_of_mean_cross_entropy_matches_torch() -> None:
    # The whole Hessian of a training loss with respect to the logits, as the sharpness of a
    # classifier needs it: softmax's covariance diag(p) − p pᵀ per sample, over N.
    rng = np.random.default_rng(11)
    logits, classes = rng.standard_normal((3, 4)), rng.integers(0, 4, size=3)

    def loss_of(m: Any) -> Callable[[Any], Any]:
        target = _tensor(m, classes)
        return lambda x: _functional(m).cross_entropy(x, target, label_smoothing=0.1)

    ours = cr.autograd.functional.hessian(loss_of(cr), cr.tensor(logits, dtype=cr.float64))
    theirs = torch.autograd.functional.hessian(loss_of(torch), torch.tensor(logits))
    np.testing.assert_allclose(_numpy(ours), _numpy(theirs), rtol=1e-10, atol=1e-13)
