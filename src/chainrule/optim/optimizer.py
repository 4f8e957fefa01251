"""Optimizer: the base class that owns parameter groups and per-parameter state."""

from __future__ import annotations

import copy
import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy

from chainrule import backend, dtypes, fp_errors
from chainrule.autograd.grad_mode import pause_grad, restore_mode
from chainrule.autograd.versions import note_parameter_writes
from chainrule.tensor import Tensor


class Optimizer:
    """Holds ``param_groups`` (dicts of parameters and their options) and ``state`` (per
    parameter, e.g. a momentum buffer). Subclasses implement ``_update`` for one group.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs (the names are kept in
    the group's ``"param_names"``), or of dicts, one per group, holding ``"params"`` and the
    options in which the group differs from the defaults. Any leaf tensor may be optimised,
    whether or not it requires grad: a step skips every parameter whose ``.grad`` is None.

    The options PyTorch uses to pick an implementation are accepted where PyTorch has them:
    ``foreach`` and ``fused`` change nothing here (each parameter's update is already one
    vectorised expression, and the result is the same), while ``capturable`` (CUDA-graph
    capture) and ``differentiable`` (an update recorded by autograd) are refused when True.

    ```pycon
    >>> import chainrule as cr
    >>> a, b = cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)
    >>> opt = cr.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    >>> [group["lr"] for group in opt.param_groups]
    [0.1, 0.5]

    ```
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        # A missing parameter reads as an empty state, as in PyTorch.
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
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

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing ones take the defaults).

        Frozen layers can so be made trainable part way through training.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a param group must be a dict, got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: parameters must be in an ordered collection (a list), not a set: "
                "a set's order changes between runs, and so would the saved state's"
            )
        params = [params] if isinstance(params, Tensor) else list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(params):
            raise ValueError(f"{name}: either every parameter has a name or none has")
        self._check_parameters(params)
        if any(("param_names" in group) != bool(names) for group in self.param_groups):
            raise ValueError(
                f"{name}: every param group must be with names or every one without; "
                f"cannot add a group {'with' if names else 'without'} names"
            )
        known = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in known for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")

        full = {**self.defaults, **param_group, "params": params}
        if names:
            full["param_names"] = names
        self._check_options(full)
        self.param_groups.append(full)

    def _check_parameters(self, params: list[Any]) -> None:
        name = type(self).__name__
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameters must be tensors, got {type(p).__name__}")
            # The step writes p in place, which would corrupt the graph that made a non-leaf.
            if not (p.is_leaf or p.retains_grad):
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor (one made by an operation); "
                    "optimise the leaf it was computed from, or a .detach()ed copy"
                )
        if len({id(p) for p in params}) != len(params):
            warnings.warn(
                f"{name}: a parameter group holds the same parameter twice; it is updated "
                "twice per step (PyTorch will make this an error)",
                UserWarning,
                stacklevel=4,
            )

    # The options, besides lr, that must be finite and >= 0 in every group.
    _nonnegative_options: tuple[str, ...] = ()

    def _check_options(self, group: dict[str, Any]) -> None:
        """Check a group's options: lr, PyTorch's implementation choices, ``betas`` where the
        optimiser has them, and ``_nonnegative_options``; subclasses add their own."""
        name = type(self).__name__
        lr = group.get("lr")
        # PyTorch accepts lr=0 (a frozen group); only a negative or non-finite rate is wrong.
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 <= lr < math.inf:
            raise ValueError(f"{name}: lr must be a number >= 0, got {lr!r}")
        if group.get("capturable"):
            raise NotImplementedError(
                f"{name}: capturable=True prepares the step for CUDA-graph capture, which "
                "chainrule does not have; leave it False"
            )
        if group.get("differentiable"):
            raise NotImplementedError(
                f"{name}: differentiable=True (a step recorded by autograd) is not supported: "
                "chainrule's steps write the parameters outside the graph"
            )
        if group.get("fused") and group.get("foreach"):
            raise RuntimeError(f"{name}: fused and foreach cannot be True together")
        if "betas" in self.defaults:
            check_betas(name, group)
        check_nonnegative(name, group, *self._nonnegative_options)

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

    def _prepared_gradients(
        self,
        group: dict[str, Any],
        buffers: tuple[str, ...],
        scalars: dict[str, Any] | None = None,
    ) -> Iterator[tuple[Tensor, Any, dict[str, Any]]]:
        """Each parameter of ``group`` that has a gradient g, with g as the update rule takes
        it and the parameter's state, whose ``step`` already counts this step:

            g ← −g                                  (when ``maximize``)
            g ← g + weight_decay·θ                  (L2 regularisation, the default)
            θ ← θ·(1 − lr·weight_decay)             (instead, when ``decoupled_weight_decay``)

        A parameter's first step creates its state: ``step`` 0, the ``scalars``, and a zero
        array shaped like the parameter for each name in ``buffers``. (SGD and Adam write this
        loop out: resuming a generator would cost them time on every parameter.)
        """
        xp = backend.xp
        lr, weight_decay, maximize = group["lr"], group["weight_decay"], group["maximize"]
        decoupled = group.get("decoupled_weight_decay", False)
        for p in group["params"]:
            if p._grad is None:
                continue
            grad = -p._grad.array if maximize else p._grad.array
            state = self.state[p]
            if not state:
                state["step"] = 0.0
                if scalars:
                    state.update(scalars)
                for name in buffers:
                    state[name] = xp.zeros_like(p.array)
            state["step"] += 1
            if weight_decay and decoupled:
                p.array *= 1 - lr * weight_decay
            elif weight_decay:
                grad = grad + weight_decay * p.array
            yield p, grad, state

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
        """Restore options and state saved by :meth:`state_dict` from the same parameters.

        As in PyTorch, each saved array goes to its parameter's device (a state saved on the
        CPU steps parameters on a GPU, and the other way round), and a floating one takes the
        parameter's dtype; ``step`` counts and scalars stay as they were saved.
        """
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
        self.state = defaultdict(dict)
        for position, values in state_dict["state"].items():
            p = by_position[position]
            self.state[p] = {
                key: value if key == "step" else _like_parameter(copy.deepcopy(value), p)
                for key, value in values.items()
            }

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join([*lines, ")"])


def _like_parameter(value: Any, p: Tensor) -> Any:
    """A saved state value made ready for parameter ``p``, as PyTorch's ``load_state_dict``
    does: arrays (inside lists, tuples and dicts too) copied to ``p``'s device, floating ones
    cast to ``p``'s dtype, so that a state saved on the CPU steps a parameter on a GPU and the
    other way round. Python and NumPy scalars stay as they are."""
    if backend.is_array(value):
        target = p.array
        if value.dtype.kind == "f" and target.dtype.kind == "f" and value.dtype != target.dtype:
            value = value.astype(target.dtype)
        return backend.transfer(value, backend.module_of(target))
    if isinstance(value, (list, tuple)):
        return type(value)(_like_parameter(item, p) for item in value)
    if isinstance(value, dict):
        return {key: _like_parameter(item, p) for key, item in value.items()}
    return value


# ---- checks shared by the optimisers ---------------------------------------------------------


def check_range(
    optimizer: str, option: str, value: Any, low: float, high: float = math.inf
) -> None:
    """Raise a ValueError unless ``low <= value < high`` (``<= high`` for a finite high)."""
    in_range = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and low <= value
        and (value <= high if high < math.inf else value < high)
    )
    if not in_range:
        upper = "finite" if high == math.inf else f"<= {high}"
        raise ValueError(f"{optimizer}: {option} must be >= {low} and {upper}, got {value!r}")


def check_nonnegative(optimizer: str, group: dict[str, Any], *options: str) -> None:
    """Raise a ValueError unless each of ``options`` in ``group`` is finite and >= 0."""
    for option in options:
        check_range(optimizer, option, group[option], 0.0)


def check_betas(optimizer: str, group: dict[str, Any]) -> None:
    """``group["betas"]`` must be a pair in [0, 1); stored back as a tuple of floats."""
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{optimizer}: betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < 1:
            raise ValueError(f"{optimizer}: betas[{i}] must be in [0, 1), got {beta!r}")
    group["betas"] = tuple(float(beta) for beta in betas)


# ---- the update's arithmetic -------------------------------------------------------------------

# Elements per block of add_scaled_: 256 KiB of float32, which stays in a core's L2 cache.
_BLOCK = 65536


def add_scaled_(target: Any, alpha: float, values: Any) -> None:
    """target += alpha·values, in place, with alpha·values rounded first (two roundings, as
    ``target += alpha * values`` has them): for target and values of one shape and dtype.

    ``alpha * values`` in one piece would be a temporary as large as the parameter, in memory
    that the step has not touched for a while; reading a cold megabyte costs more than the
    arithmetic. Large arrays go through one small block that stays in the cache instead: the
    same numbers, a sixth less time for a 512×784 weight.
    """
    size = target.size
    if (
        size <= _BLOCK
        or type(target) is not numpy.ndarray  # CuPy: the GPU's memory has no such cost
        or values.dtype != target.dtype
        or values.shape != target.shape
        or not (target.flags.c_contiguous and values.flags.c_contiguous)
        or numpy.may_share_memory(target, values)  # a block must not change what is to come
    ):
        target += alpha * values
        return
    flat_target, flat_values = target.reshape(-1), values.reshape(-1)
    scratch = numpy.empty(_BLOCK, dtype=values.dtype)
    for start in range(0, size, _BLOCK):
        piece = flat_target[start : start + _BLOCK]
        scaled = scratch[: piece.size]
        numpy.multiply(flat_values[start : start + _BLOCK], alpha, out=scaled)
        piece += scaled


def scalar_dtype() -> Any:
    """The dtype of the scalar state PyTorch keeps as 0-d tensors (NAdam's running product of
    momenta, ASGD's step size): float64 under a float64 default dtype, else float32. Keeping
    it in that precision reproduces PyTorch's rounding of it."""
    return dtypes.float64 if dtypes.get_default_dtype() == dtypes.float64 else dtypes.float32
