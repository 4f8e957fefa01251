"""Optimizer: the base class that owns parameter groups and per-parameter state."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from typing import Any

from chainrule import fp_errors
from chainrule.autograd.grad_mode import pause_grad, restore_mode
from chainrule.autograd.versions import note_parameter_writes
from chainrule.tensor import Tensor


class Optimizer:
    """Holds ``param_groups`` (dicts of parameters and their options) and ``state`` (per
    parameter, e.g. a momentum buffer). Subclasses implement ``_update`` for one group."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):  # list() would split it into rows no one trains
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of tensors or of dicts, "
                "got a single tensor; pass [tensor]"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing ones take the defaults)."""
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: parameters must be tensors, got {type(p).__name__}"
                )
            if not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: a parameter does not require grad")
        known = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in known for p in params):
            raise ValueError(f"{type(self).__name__}: a parameter appears in two groups")
        full = {**self.defaults, **group, "params": params}
        self._check_options(full)
        self.param_groups.append(full)

    def _check_options(self, group: dict[str, Any]) -> None:
        lr = group.get("lr")
        # PyTorch accepts lr=0 (a frozen group); only a negative or non-finite rate is wrong.
        if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
            raise ValueError(f"{type(self).__name__}: lr must be a number >= 0, got {lr!r}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (to None, or to zeros in place)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p._grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    _step_name = "Optimizer.step"  # how version errors name the writer of the parameters

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._step_name = f"{cls.__name__}.step"

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            from chainrule.autograd.grad_mode import enable_grad

            with enable_grad():
                loss = closure()
        # no_grad() by hand: the context manager's object costs more than this whole update
        # on a small network.
        token, quiet = pause_grad(), fp_errors.enter()
        try:
            for group in self.param_groups:
                self._update(group)
                # The update wrote the parameters in place: a graph that saved them can no
                # longer be carried back (as in PyTorch, where the step bumps their versions).
                note_parameter_writes(group["params"], self._step_name)
        finally:
            fp_errors.leave(quiet)
            restore_mode(token)
        return loss

    def _update(self, group: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define _update")

    # ---- saving and loading ------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``state`` by parameter position and ``param_groups`` with positions for params."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            positions = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                positions.append(index[id(p)])
            groups.append(
                {**{k: v for k, v in group.items() if k != "params"}, "params": positions}
            )
        state = {
            index[id(p)]: copy.deepcopy(values)
            for p, values in self.state.items()
            if id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and state saved by :meth:`state_dict` from the same parameters."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)
        ):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the saved groups have "
                f"{[len(g['params']) for g in groups]} parameters, this optimizer has "
                f"{[len(g['params']) for g in self.param_groups]}"
            )
        by_position = {}
        for saved, own in zip(groups, self.param_groups):
            for position, p in zip(saved["params"], own["params"]):
                by_position[position] = p
            own.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {
            by_position[position]: copy.deepcopy(values)
            for position, values in state_dict["state"].items()
        }

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join([*lines, ")"])
