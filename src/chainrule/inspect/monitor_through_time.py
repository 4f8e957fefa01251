"""Per-time-step gradient norms of a model's recurrent layers, for :class:`GradientMonitor`.

Backpropagation through time sends δh_t = ∂C/∂h_t from the late steps back to the early ones,
and each step multiplies it by the recurrent Jacobian, so its norm can fade (vanish) or grow
(explode) with the distance it travels. This module records ‖δh_t‖, and for an LSTM
‖δc_t‖ = ‖∂C/∂c_t‖, for every time step t of every recurrent module of a model. Both are
totals: δh_t sums what reaches h_t from the output at step t and from step t + 1.

- ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` run each layer and direction as one fused graph node
  whose backward loops over the steps (:mod:`chainrule.ops.recurrent`). A forward hook on the
  module finds the nodes that the call made, walking the graph from its outputs back to its
  inputs, and sets each node's ``observer``; the node's backward then hands over δh_t and δc_t
  step by step. Nothing is global: a node that no watched module made is never touched.
- ``nn.RNNCell``, ``nn.LSTMCell`` and ``nn.GRUCell`` are called once per step in the user's
  loop, and each call is one time step, numbered in call order. The same observer sits on
  each call's node; the cell's output is the hidden state that the next step and the loss
  read, so the gradient it receives is the total δh_t.

Norms are Frobenius norms over the whole batch, computed in float64. Keys are module names
(the class name for the model itself); a stacked or bidirectional module gives one key per
layer and direction, named like its parameters' suffixes: ``lstm.l0``, ``lstm.l0_reverse``,
``lstm.l1``. A sequence module called twice between two :meth:`~ThroughTimeWatch.take`
calls gives ``lstm`` and ``lstm[1]``; a cell's calls all extend one series.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.nn.layers.recurrent import RNNBase, RNNCellBase
from chainrule.nn.module import Module
from chainrule.ops.recurrent_layer import Observer, RecurrentLayer
from chainrule.tensor import Tensor

# "h" and "c", each one norm per time step in time order.
TimeNorms = dict[str, list[float]]

# The calls kept between two takes, newest last: a model run for many passes without a
# record() would otherwise hold on to every pass's norms.
_MAX_CALLS = 10_000


def frobenius_norm(array: Any) -> float:
    """‖array‖₂ over all its elements, summed in float64."""
    values = backend.to_numpy(array)
    return float(numpy.sqrt(numpy.sum(numpy.square(values, dtype=numpy.float64))))


class _Call:
    """What one call of a recurrent module saw in backward: per (layer, direction), the norm
    of δh_t (and δc_t) by time step t."""

    def __init__(self, module: Module) -> None:
        self.is_cell = isinstance(module, RNNCellBase)
        self.one_series = self.is_cell or (module.num_layers == 1 and not module.bidirectional)
        self.norms: dict[tuple[int, int], tuple[dict, dict]] = {}
        self.active = True

    def observer(self, layer: int, direction: int) -> Observer:
        h_norms: dict[int, float] = {}
        c_norms: dict[int, float] = {}
        self.norms[(layer, direction)] = (h_norms, c_norms)

        def observe(t: int, delta_h: Any, delta_c: Any) -> None:
            if not self.active:  # the monitor was closed after this call's forward
                return
            h_norms[t] = frobenius_norm(delta_h)
            if delta_c is not None:
                c_norms[t] = frobenius_norm(delta_c)

        return observe

    def series(self) -> Iterator[tuple[int, int, TimeNorms]]:
        """(layer, direction, {"h": [...], "c": [...]}) for each part that backward reached,
        layer by layer, the forward direction first."""
        for (layer, direction), (h_norms, c_norms) in sorted(self.norms.items()):
            if not h_norms:
                continue
            norms = {"h": [h_norms[t] for t in sorted(h_norms)]}
            if c_norms:
                norms["c"] = [c_norms[t] for t in sorted(c_norms)]
            yield layer, direction, norms


class ThroughTimeWatch:
    """Forward hooks on a model's recurrent modules that collect ‖δh_t‖ and ‖δc_t‖ per step.

    ``attach(model)`` hooks every ``RNNBase`` and ``RNNCellBase`` module; the backward passes
    of the calls made afterwards (with gradients enabled) report into this object, and
    :meth:`take` returns and forgets what they reported (of the newest 10,000 calls at most).
    ``reversed`` holds the keys of reverse directions, whose backward runs from t = 0 towards
    t = T − 1.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self.reversed: set[str] = set()
        self._handles: list[Any] = []
        self._calls: deque[tuple[str, _Call]] = deque(maxlen=_MAX_CALLS)

    def attach(self, model: Module) -> None:
        """Hook the recurrent modules of ``model`` (after removing any earlier hooks)."""
        self.close()
        self.names = []
        for name, module in model.named_modules():
            if isinstance(module, (RNNBase, RNNCellBase)):
                label = name or type(module).__name__
                self.names.append(label)
                hook = self._forward_hook(label)
                self._handles.append(module.register_forward_hook(hook, with_kwargs=True))

    def close(self) -> None:
        """Remove the hooks and silence the observers of calls already made; what they
        reported stays for :meth:`take`."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for _, call in self._calls:
            call.active = False

    def take(self) -> dict[str, TimeNorms]:
        """Key → {"h": ‖δh_t‖ for t = 0..T−1, "c": ‖δc_t‖ (LSTM)} from the calls made since
        the last take whose backward has run; calls without a backward are dropped."""
        calls, self._calls = self._calls, deque(maxlen=_MAX_CALLS)
        result: dict[str, TimeNorms] = {}
        seen_calls: dict[str, int] = {}
        for label, call in calls:
            parts = list(call.series())
            if not parts:
                continue
            if call.is_cell:  # one call, one step: extend the cell's series
                series = result.setdefault(label, {})
                for part, values in parts[0][2].items():
                    series.setdefault(part, []).extend(values)
                continue
            number = seen_calls.get(label, 0)
            seen_calls[label] = number + 1
            base = label if number == 0 else f"{label}[{number}]"
            for layer, direction, norms in parts:
                key = base
                if not call.one_series:
                    key = f"{base}.l{layer}" + ("_reverse" if direction else "")
                if direction:
                    self.reversed.add(key)
                result[key] = norms
        return result

    def _forward_hook(self, label: str) -> Callable[..., None]:
        def hook(module: Module, args: tuple, kwargs: dict, output: Any) -> None:
            if not is_grad_enabled():
                return
            positions = _weight_positions(module)
            call = _Call(module)
            for node in _fused_nodes(output, (args, kwargs)):
                # The node's input weight says which layer and direction it computes.
                where = next((positions[id(v)] for v in node.inputs if id(v) in positions), None)
                if where is None:
                    continue
                observe = call.observer(*where)
                previous = node.observer  # another monitor on the same model keeps its own
                node.observer = observe if previous is None else _both(previous, observe)
            if call.norms:
                self._calls.append((label, call))

        return hook


def _weight_positions(module: Module) -> dict[int, tuple[int, int]]:
    """id of each input-to-hidden weight of ``module`` → (layer, direction)."""
    if isinstance(module, RNNCellBase):
        return {id(module.weight_ih): (0, 0)}
    directions = 2 if module.bidirectional else 1
    positions = {}
    for layer in range(module.num_layers):
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            positions[id(getattr(module, f"weight_ih{suffix}"))] = (layer, direction)
    return positions


def _fused_nodes(output: Any, inputs: Any) -> list[RecurrentLayer]:
    """The fused recurrent nodes on the graph between a module call's ``inputs`` and its
    ``output``: a walk from the output tensors that stops at the inputs and at leaves."""
    stops = {id(tensor) for tensor in _tensors(inputs)}
    found, visited = [], set()
    stack = [tensor for tensor in _tensors(output) if id(tensor) not in stops]
    while stack:
        node = stack.pop()._ctx
        if node is None or id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, RecurrentLayer):
            found.append(node)
        stack += [v for v in node.inputs if isinstance(v, Tensor) and id(v) not in stops]
    return found


def _tensors(value: Any) -> Iterator[Tensor]:
    """The tensors inside nested tuples, lists and dicts."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


def _both(first: Observer, second: Observer) -> Observer:
    def observe(t: int, delta_h: Any, delta_c: Any) -> None:
        first(t, delta_h, delta_c)
        second(t, delta_h, delta_c)

    return observe
