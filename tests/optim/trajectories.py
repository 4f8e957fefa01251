"""Shared by the optimiser tests: the same starting weights and hand-set gradients for
chainrule and torch, and a runner that steps either library's optimiser through them."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import chainrule as cr

SHAPES = [(3, 4), (5,), ()]


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def start(dtype: str = "float64") -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]


def gradient(step: int, value: np.ndarray) -> np.ndarray:
    """A gradient that depends on the step and on the parameter, so that a wrong update rule
    leaves the trajectories apart; computed in NumPy for both libraries alike."""
    rng = np.random.default_rng(step + 100 * value.ndim)
    return np.asarray(np.sin(value) + 0.5 * value + rng.standard_normal(value.shape), value.dtype)


def run(
    library: Any, name: str, options: Any, steps: int = 20, initial: list | None = None
) -> tuple[list[np.ndarray], Any, list]:
    """``steps`` steps of ``library.optim.<name>`` from ``start()`` with hand-set gradients.
    ``options``: keyword arguments, or a function of the parameters giving (groups, kwargs)."""
    arrays = start() if initial is None else initial
    if library is torch:
        params = [torch.nn.Parameter(torch.tensor(a.copy())) for a in arrays]
    else:
        params = [cr.nn.Parameter(cr.tensor(a.copy())) for a in arrays]
    groups, kwargs = options(params) if callable(options) else (params, options)
    optimizer = getattr(library.optim, name)(groups, **kwargs)
    advance(library, optimizer, params, range(steps))
    return [to_numpy(p).copy() for p in params], optimizer, params


def advance(library: Any, optimizer: Any, params: list, steps: Any) -> None:
    for step in steps:
        optimizer.zero_grad()
        for p in params:
            p.grad = library.tensor(gradient(step, to_numpy(p)))
        optimizer.step()
