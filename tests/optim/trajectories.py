"""Shared by the optimiser tests: the same starting weights and hand-set gradients for
chainrule and torch, a runner that steps either library's optimiser through them, the check
that bad options are refused, and runs on a parabola and on the Rosenbrock function."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

SHAPES = [(3, 4), (5,), ()]


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().array)


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


def assert_trajectory_matches_torch(
    name: str, options: Any, steps: int, dtype: str, rtol: float, atol: float
) -> tuple[Any, Any]:
    """Run ``library.optim.<name>`` in both libraries from the same start with the same
    gradients and check the parameters after ``steps`` steps, every option of every group,
    and every entry of the per-parameter state (under PyTorch's names); returns the two
    optimizers."""
    ours, optimizer, params = run(cr, name, options, steps=steps, initial=start(dtype))
    theirs, reference, tensors = run(torch, name, options, steps=steps, initial=start(dtype))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.dtype == np.dtype(dtype), "the parameters keep their dtype"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"parameter {i}")
    assert not np.allclose(ours[0], start(dtype)[0], atol=1e-3), "the parameters moved"
    for group, expected in zip(optimizer.param_groups, reference.param_groups):
        assert set(group) == set(expected)
        for key in set(expected) - {"params"}:
            assert group[key] == expected[key], key
    for p, t in zip(params, tensors):
        state, expected = optimizer.state[p], reference.state[t]
        assert set(state) == set(expected)
        assert state["step"] == expected["step"].item() == steps
        for key in set(state) - {"step"}:
            value = np.asarray(state[key])
            assert value.dtype == to_numpy(expected[key]).dtype, key
            np.testing.assert_allclose(
                value, to_numpy(expected[key]), rtol=rtol, atol=atol, err_msg=key
            )
    return optimizer, reference


def assert_state_dict_round_trip(name: str, options: Any) -> None:
    """Saving after 10 steps, going on with the original, and loading the save into a new
    optimizer (built with another lr) gives the same next 10 steps as never stopping."""
    uninterrupted, _, _ = run(cr, name, options, steps=20)
    halfway, optimizer, params = run(cr, name, options, steps=10)
    saved = optimizer.state_dict()
    advance(cr, optimizer, params, range(10, 13))  # the original goes on: the save must not

    fresh = [cr.nn.Parameter(cr.tensor(a.copy())) for a in halfway]
    groups, kwargs = options(fresh) if callable(options) else (fresh, options)
    restored = getattr(cr.optim, name)(groups, **{**kwargs, "lr": 1.0})
    restored.load_state_dict(saved)
    advance(cr, restored, fresh, range(10, 20))
    for a, p in zip(uninterrupted, fresh):
        np.testing.assert_array_equal(to_numpy(p), a)


def assert_bad_options_refused(name: str, kwargs: dict, match: str) -> None:
    """``cr.optim.<name>`` raises a ValueError that names it and matches ``match`` when given
    ``kwargs``, and one matching ``match`` when they are the options of a param group."""
    optimizer = getattr(cr.optim, name)
    with pytest.raises(ValueError, match=f"{name}: {match}"):
        optimizer([cr.nn.Parameter(cr.zeros(2))], **kwargs)
    with pytest.raises(ValueError, match=match):  # ... also in a group of its own
        optimizer([{"params": [cr.nn.Parameter(cr.zeros(2))], **kwargs}])


def descend_parabola(name: str, options: dict, steps: int) -> np.ndarray:
    """x after ``steps`` steps of ``cr.optim.<name>(**options)`` on ‖x − (1, −2, 3)‖², from 0
    in float64."""
    x = cr.nn.Parameter(cr.zeros(3, dtype=cr.float64))
    optimizer = getattr(cr.optim, name)([x], **options)
    goal = cr.tensor(np.array([1.0, -2.0, 3.0]))
    for _ in range(steps):
        optimizer.zero_grad()
        ((x - goal) ** 2).sum().backward()
        optimizer.step()
    return to_numpy(x)


def descend_rosenbrock(name: str, options: dict, steps: int) -> tuple[np.ndarray, float]:
    """(x, y) after ``steps`` steps of ``cr.optim.<name>(**options)`` on
    f(x, y) = (1 − x)² + 100 (y − x²)², from (−1, 1) in float64 (the minimum is (1, 1)), and f
    at the start of the last step."""
    xy = cr.nn.Parameter(cr.tensor([-1.0, 1.0], dtype=cr.float64))
    optimizer = getattr(cr.optim, name)([xy], **options)
    loss = None
    for _ in range(steps):
        optimizer.zero_grad()
        x, y = xy[0], xy[1]
        loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
        loss.backward()
        optimizer.step()
    assert loss is not None, "at least one step"
    return to_numpy(xy), loss.item()
