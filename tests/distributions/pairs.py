"""The same distribution built in chainrule and in PyTorch from the same numbers, and the
comparisons the tests make between the two."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import chainrule as cr

RTOL = 1e-12
ATOL = 1e-12


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def both(array: Any, requires_grad: bool = False) -> tuple[cr.Tensor, torch.Tensor]:
    """One NumPy array as a chainrule tensor and a PyTorch tensor, leaves of the graph."""
    array = np.asarray(array)
    return (
        cr.tensor(array.copy(), requires_grad=requires_grad),
        torch.tensor(array.copy(), requires_grad=requires_grad),
    )


def assert_same(actual: Any, expected: Any, what: str, rtol: float = RTOL) -> None:
    """Same shape, dtype and values (NaN and ±inf where PyTorch has them)."""
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, PyTorch gives {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, PyTorch gives {e.dtype}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=ATOL, err_msg=what)


def assert_same_grads(
    ours: cr.Tensor, theirs: torch.Tensor, inputs: list[tuple[cr.Tensor, torch.Tensor]], what: str
) -> None:
    """d(sum of weights · output)/d(each input), weights fixed, against PyTorch."""
    weights = np.random.default_rng(1).normal(size=tuple(theirs.shape))
    ours_grads = cr.autograd.grad(
        (ours * cr.tensor(weights, dtype=ours.dtype)).sum(),
        [a for a, _ in inputs],
        allow_unused=True,
    )
    theirs_grads = torch.autograd.grad(
        (theirs * torch.tensor(weights, dtype=theirs.dtype)).sum(),
        [b for _, b in inputs],
        allow_unused=True,
    )
    for i, (g, h) in enumerate(zip(ours_grads, theirs_grads)):
        # An input the output does not depend on (a Normal's entropy and its loc): no
        # gradient in either library.
        assert (g is None) == (h is None), f"{what}: input {i} used in one library only"
        if h is not None:
            assert_same(g, h, f"{what}: gradient of input {i}", rtol=1e-10)
