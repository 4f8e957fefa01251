"""Gradients as values: ``autograd.grad``, and backward passes that record a graph.

``chainrule.autograd.grad(outputs, inputs, ...)`` returns ∂outputs/∂inputs (weighted by
``grad_outputs``) instead of adding it to ``.grad``, and walks only the part of the graph that
leads to ``inputs``. With ``create_graph=True`` the walk hands every operation's backward
tensors rather than arrays, with the arithmetic namespace pointed at chainrule's own
operations (:mod:`chainrule.autograd.graph_numpy`), so the gradients it returns have a graph
of their own and can be differentiated again, to any order. ``Tensor.backward(create_graph=
True)`` does the same and leaves a graph-carrying ``.grad`` on each leaf.

Without ``create_graph`` nothing here is on the hot path: ``Tensor.backward()`` keeps the
array-only walk of :mod:`chainrule.autograd.engine`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from chainrule import backend, fp_errors
from chainrule.autograd import graph_numpy, ties, versions
from chainrule.autograd.engine import (
    LeafGradient,
    _initial_gradient,
    _run_tensor_hooks,
    _sum,
    reverse_topological_order,
    version_at,
)
from chainrule.autograd.function import FREED, Function
from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.autograd.versions import Writes, check_saved
from chainrule.tensor import Tensor


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """Σₖ ∂outputs[k]/∂inputs[i] · grad_outputs[k] for each input, as a tuple of tensors.

    ``outputs`` and ``grad_outputs`` pair up (a scalar output may leave its weight as None,
    meaning 1); ``inputs`` may be leaves or intermediate tensors. Nothing is added to any
    ``.grad``. With ``create_graph`` the results carry a graph (their ``grad_fn`` is set
    where they depend on a tensor that requires grad), and ``retain_graph`` defaults to it.
    An input that the outputs do not depend on raises, unless ``allow_unused`` is true, when
    its gradient is None (or zeros with ``materialize_grads``), as in PyTorch.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = cr.autograd.grad((x**2).sum(), x, create_graph=True)
    >>> g.tolist(), cr.autograd.grad(g.sum(), x)[0].tolist()
    ([2.0, 4.0], [2.0, 2.0])

    ```
    """
    if is_grads_batched:
        raise NotImplementedError("autograd.grad: is_grads_batched=True is not supported")
    outputs = _as_tensors(outputs, "outputs")
    inputs = _as_tensors(inputs, "inputs")
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError("autograd.grad: materialize_grads=True requires allow_unused=True")
    for i, value in enumerate(inputs):
        if not value._requires_grad:
            raise RuntimeError(
                f"autograd.grad: input {i} (shape {tuple(value.shape)}) does not require grad"
            )
    weights = _weights(outputs, grad_outputs, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    found = walk(outputs, weights, inputs, create_graph, retain_graph, into_leaves=False)
    results: list[Tensor | None] = []
    for i, value in enumerate(inputs):
        result = found.get(id(value))
        if result is None:
            if not allow_unused:
                raise RuntimeError(
                    f"autograd.grad: input {i} (shape {tuple(value.shape)}) was not used to "
                    "compute the outputs; pass allow_unused=True if that is expected"
                )
            if materialize_grads:
                zeros = backend.module_of(value.array).zeros_like(value.array)
                result = Tensor._make(zeros, False, None)
        results.append(result)
    return tuple(results)


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    """Add Σₖ ∂tensors[k]/∂leaf · grad_tensors[k] to each leaf's ``.grad`` (PyTorch's
    ``torch.autograd.backward``); with ``inputs``, only to those tensors' ``.grad``.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> cr.autograd.backward(3 * x, cr.tensor([1.0, 2.0]))
    >>> x.grad.tolist()
    [3.0, 6.0]

    ```
    """
    tensors = _as_tensors(tensors, "tensors")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None and not create_graph and len(tensors) == 1:
        weight = grad_tensors[0] if isinstance(grad_tensors, (list, tuple)) else grad_tensors
        tensors[0].backward(weight, retain_graph=retain_graph)
        return
    weights = _weights(tensors, grad_tensors, create_graph)
    targets = None if inputs is None else _as_tensors(inputs, "inputs")
    found = walk(
        tensors, weights, targets or (), create_graph, retain_graph, into_leaves=targets is None
    )
    for target in targets or ():
        if id(target) in found:
            _add_to_grad(target, found[id(target)], create_graph)


def backward_creating_graph(root: Tensor, gradient: Any, retain_graph: bool | None) -> None:
    """``root.backward(gradient, create_graph=True)``."""
    backward([root], None if gradient is None else [gradient], retain_graph, create_graph=True)


# ---- the walk ----------------------------------------------------------------------------------


def walk(
    roots: Sequence[Tensor],
    weights: list,
    targets: Sequence[Tensor],
    create_graph: bool,
    retain_graph: bool,
    into_leaves: bool,
    stop_at_targets: bool = False,
) -> dict[int, Any]:
    """Propagate ``weights`` (one per root: arrays, or tensors with ``create_graph``) back
    from ``roots``. Returns {id(target): its gradient as a tensor}; with ``into_leaves``, the
    other leaves that require grad get theirs added to ``.grad``.

    Without ``into_leaves`` only the nodes that lead to a target run their backward, and each
    computes only the input gradients that lead on. With ``stop_at_targets`` the walk does
    not go past a target (partial derivatives, holding each target fixed).
    """
    target_ids = {id(t) for t in targets}
    found: dict[int, Any] = {}
    active = [r for r in roots if r._requires_grad]
    for root, weight in zip(roots, weights):
        if not root._requires_grad:
            raise RuntimeError(
                f"element of outputs (shape {tuple(root.shape)}) does not require grad and "
                "has no grad_fn"
            )
        if root._ctx is None:  # a leaf is its own gradient
            _deliver(root, weight, target_ids, found, into_leaves, create_graph, set())
    starts = [r for r in active if r._ctx is not None]
    for root in starts:
        if root._ctx.saved is FREED:
            raise RuntimeError(
                f"backward: trying to go through the graph a second time (at {root._ctx!r}); "
                "its saved arrays were freed by the first backward. Pass retain_graph=True "
                "to the first backward or grad call if you need to call it twice."
            )
    order = (
        _order_above(starts, target_ids) if stop_at_targets else reverse_topological_order(starts)
    )
    # The nodes that lead to a target, and the targets themselves (a target that is not a
    # leaf is wanted from the node that uses it).
    wanted = None if into_leaves else _leading_to(order, target_ids) | target_ids
    for root, weight in zip(roots, weights):
        if root._ctx is not None:
            node = root._ctx
            node.pending = weight if node.pending is None else _add(node.pending, weight)
    lent: set = {id(w) for w in weights}
    # Oldest first, so that pop() visits the newest first and the list lets go of each tensor
    # once it has run (as the engine's walk does): activations are freed during the walk.
    order.reverse()
    quiet = fp_errors.enter()
    latest_write = Writes.latest
    # Each node's backward runs with the array module that ran its forward (a GPU's, or the
    # one in use when the walk began), as in the engine's walk.
    active = None
    home = backend.xp, backend.ndarray
    try:
        with enable_grad() if create_graph else no_grad():
            while order:
                tensor = order.pop()
                node = tensor._ctx
                g = node.pending
                if g is None:
                    continue
                node.pending = None
                if node.module is not active:
                    active = node.module
                    backend.use(active) if active is not None else backend.restore(home)
                if tensor._hooks is not None:
                    g = _hooked(tensor, g, lent, create_graph)
                if id(tensor) in target_ids:
                    found[id(tensor)] = _stored(g, create_graph)
                    if stop_at_targets:
                        continue
                needs = _needed_inputs(node, wanted)
                if needs is None:
                    continue
                if node.saved is FREED:
                    raise RuntimeError(
                        f"backward: trying to go through the graph a second time (at {node!r}); "
                        "its saved arrays were freed by the first backward. Pass "
                        "retain_graph=True to the first backward if you need to call it twice."
                    )
                born = node.sequence_number
                if born < latest_write:
                    check_saved(node)
                if create_graph:
                    since = next(versions.clock)
                    input_grads = _backward_in_graph(node, tensor, g, needs)
                    if active is not None:
                        _claim_for_device(input_grads, since, active)
                elif needs is node.needs_input_grad:
                    input_grads = node.backward(g)
                else:
                    input_grads = _backward_of_some(node, g, needs)
                for value, input_grad, needed in zip(node.inputs, input_grads, needs):
                    if not needed or input_grad is None:
                        continue
                    input_grad = _conformed(node, input_grad, value, create_graph)
                    value = _as_seen_by(value, born)
                    if stop_at_targets and id(value) in target_ids:
                        # a target of its own: its node may hold an outer walk's sum
                        key = id(value)
                        found[key] = input_grad if key not in found else found[key] + input_grad
                        continue
                    _deliver(value, input_grad, target_ids, found, into_leaves, create_graph, lent)
                if not retain_graph:
                    node.saved = FREED
                    node.inputs = ()
    except BaseException:
        for tensor in order:  # those not yet run
            tensor._ctx.pending = None
        raise
    finally:
        if active is not None:
            backend.restore(home)
        fp_errors.leave(quiet)
    return found


def _claim_for_device(grads: tuple, since: int, module: Any) -> None:
    """Give ``module`` to the nodes that the recorded backward of a node on a GPU made (those
    numbered after ``since`` that lead to ``grads``), so that differentiating ``grads`` again
    runs their backward on the GPU too. ``Function.apply`` names the module only for operations
    it starts from NumPy, and inside a backward the active module is the GPU's already (or
    :mod:`~chainrule.autograd.graph_numpy`)."""
    stack = [g for g in grads if isinstance(g, Tensor) and g._ctx is not None]
    seen = set()
    while stack:
        tensor = stack.pop()
        node = tensor._ctx
        if node is None or node.sequence_number <= since or id(node) in seen:
            continue
        seen.add(id(node))
        if node.module is None and backend.module_of(tensor.array) is module:
            node.module = module
        stack.extend(value for value in node.inputs if isinstance(value, Tensor))


def _as_seen_by(value: Tensor, born: float) -> Tensor:
    """``value`` as the node numbered ``born`` used it, before any later in-place change."""
    if value._ctx is not None and value._ctx.sequence_number > born:
        return version_at(value, born)
    return value


def _order_above(roots: list[Tensor], target_ids: set) -> list[Tensor]:
    """The non-leaf tensors between ``roots`` and the targets, newest first: the search does
    not go below a target, so a walk inside another walk never touches the outer graph."""
    seen = {id(r) for r in roots}
    found = list(roots)
    stack = [r for r in roots if id(r) not in target_ids]
    while stack:
        node = stack.pop()._ctx
        born = node.sequence_number
        for value in node.inputs:
            if not isinstance(value, Tensor):
                continue
            value = _as_seen_by(value, born)
            if value._ctx is None or id(value) in seen:
                continue
            seen.add(id(value))
            # Not a target either: the walk hands targets their gradient directly, and the
            # pending gradient of a target's node belongs to the outer walk.
            if id(value) not in target_ids:
                found.append(value)
                stack.append(value)
    found.sort(key=lambda t: t._ctx.sequence_number, reverse=True)
    return found


def _leading_to(order: list[Tensor], target_ids: set) -> set:
    """The ids of the nodes in ``order`` from which some target can be reached."""
    leads: set = set()
    for tensor in reversed(order):  # oldest first: a node's inputs are settled before it
        node = tensor._ctx
        born = node.sequence_number
        for value in node.inputs:
            if not isinstance(value, Tensor):
                continue
            value = _as_seen_by(value, born)
            if id(value) in target_ids or (value._ctx is not None and id(value._ctx) in leads):
                leads.add(id(node))
                break
            if value._ctx is None and value._hooks is not None:
                gather = value._hooks.gather  # a hooked leaf's stand-in: reached through it
                if gather is not None and id(gather) in leads:
                    leads.add(id(node))
                    break
        if isinstance(node, LeafGradient) and id(node.inputs[0]) in target_ids:
            leads.add(id(node))
    return leads


def _needed_inputs(node: Function, wanted: set | None) -> list | None:
    """Which inputs' gradients the walk needs from ``node`` (None: skip the node)."""
    if wanted is None:
        return node.needs_input_grad
    if id(node) not in wanted:
        return None
    born = node.sequence_number
    needs = []
    for value, needed in zip(node.inputs, node.needs_input_grad):
        if needed and isinstance(value, Tensor):
            value = _as_seen_by(value, born)
            needed = (
                value._ctx is None
                or id(value._ctx) in wanted
                or id(value) in wanted
                or _is_target_leaf(value)
            )
        needs.append(bool(needed))
    return needs if needs != node.needs_input_grad else node.needs_input_grad


def _is_target_leaf(value: Tensor) -> bool:
    # Leaves are always worth a gradient: _deliver drops those that are not targets.
    return value._ctx is None


def _backward_of_some(node: Function, g: Any, needs: list) -> tuple:
    """``node.backward`` asked for only the input gradients in ``needs``."""
    twin = copy.copy(node)
    twin.needs_input_grad = needs
    return twin.backward(g)


def _backward_in_graph(node: Function, output: Tensor, g: Any, needs: list) -> tuple:
    """``node``'s backward run on tensors, so that it records a graph of its own."""
    if isinstance(node, LeafGradient):
        node.hooks.gather = None
        return (g,)
    if hasattr(type(node), "backward_in_graph"):  # a custom Function: its backward is on tensors
        g = g if isinstance(g, Tensor) else Tensor._make(backend.as_array(g), False, None)
        twin = copy.copy(node)
        twin.needs_input_grad = needs
        return twin.backward_in_graph(g)
    if hasattr(type(node), "composite"):
        _check_inputs_unchanged(node)  # the composite recomputes from the inputs' values
        return _tied(node, _backward_of_composite(node, g, needs))
    if type(node).saved_in_graph is not Function.saved_in_graph:
        _check_inputs_unchanged(node)
    twin = copy.copy(node)
    twin.needs_input_grad = needs
    twin.saved = node.saved_in_graph(output)
    g = g if isinstance(g, Tensor) else Tensor._make(backend.as_array(g), False, None)
    versions = [_version_of(v) for v in node.inputs] + [_version_of(g)]
    # Constants the backward makes belong with its output (a composite's inner nodes, which
    # Function.apply did not mark with their module, included).
    module = node.module or backend.module_of(output.array)
    with graph_numpy.active(type(node).__name__, module):
        input_grads = twin.backward(g)
    if [_version_of(v) for v in node.inputs] + [_version_of(g)] != versions:
        raise RuntimeError(
            f"create_graph: the backward of {type(node).__name__} changed its input or its "
            "incoming gradient in place (a bug in that operation)"
        )
    return _tied(node, input_grads)


def _tied(node: Function, input_grads: tuple) -> tuple:
    """``input_grads`` tied to ``node``'s inputs that require grad where the node asks for it
    (:mod:`chainrule.autograd.ties`)."""
    if not node.ties_gradients:
        return input_grads
    sources = [v for v in node.inputs if isinstance(v, Tensor) and v._requires_grad]
    return tuple(ties.tied(value, sources) for value in input_grads)


def _backward_of_composite(node: Function, g: Any, needs: list) -> tuple:
    """The backward of an operation whose array backward is a tuned kernel (a convolution, a
    recurrent layer): its ``composite(*inputs)`` computes the same forward from chainrule's
    differentiable operations, and the gradients of that, taken with ``create_graph``, are
    the ones recorded. Each input is held fixed while the others vary (partial derivatives),
    as the node's own backward would give."""
    wanted = [v for v, need in zip(node.inputs, needs) if need and isinstance(v, Tensor)]
    with enable_grad():
        out = node.composite(*node.inputs)
    if not wanted:
        return (None,) * len(node.inputs)
    g = g if isinstance(g, Tensor) else Tensor._make(backend.as_array(g), False, None)
    found = walk([out], [g], wanted, True, True, into_leaves=False, stop_at_targets=True)
    return tuple(
        found.get(id(v)) if need and isinstance(v, Tensor) else None
        for v, need in zip(node.inputs, needs)
    )


def _check_inputs_unchanged(node: Function) -> None:
    """An operation that rebuilds what it saved from its input tensors must see them as its
    forward did: raise PyTorch's in-place error if one was written since (check_saved covers
    only the arrays kept in ``saved``)."""
    born = node.sequence_number
    own_write = getattr(node, "written_at", None)  # an in-place node's write of its input
    for value in node.inputs:
        if not isinstance(value, Tensor):
            continue
        record = versions._records.get(id(versions.memory_root(value.array)))
        if record is not None and record.stamp > born and record.stamp != own_write:
            name = type(node).__name__
            raise RuntimeError(
                f"backward of {name} (create_graph): one of the variables needed for gradient "
                "computation has been modified by an inplace operation: an input of shape "
                f"{tuple(value.shape)} was changed afterwards by {record.what}. Use the "
                f"out-of-place form of {record.what}, or clone() the tensor before changing it."
            )


def _version_of(value: Any) -> int:
    return value._version if isinstance(value, Tensor) else 0


# ---- gradients as tensors or arrays ------------------------------------------------------------


def _conformed(node: Function, input_grad: Any, value: Tensor, create_graph: bool) -> Any:
    """``input_grad`` with ``value``'s shape (checked) and dtype: an array, or with
    ``create_graph`` a tensor (a constant where the backward returned an array)."""
    if not create_graph:
        if (
            type(input_grad) is not backend.ndarray
            or input_grad.shape != value.array.shape
            or input_grad.dtype is not value.array.dtype
        ):
            from chainrule.autograd.engine import conform_gradient

            input_grad = conform_gradient(node, input_grad, value.array)
        return input_grad
    if not isinstance(input_grad, Tensor):
        input_grad = Tensor._make(backend.as_array(input_grad), False, None)
    if tuple(input_grad.shape) != tuple(value.array.shape):
        if input_grad.numel() == value.numel() and input_grad.ndim == 0:
            input_grad = input_grad.reshape(value.array.shape)
        else:
            raise RuntimeError(
                f"backward of {type(node).__name__}: gradient of shape "
                f"{tuple(input_grad.shape)} for an input of shape {value.array.shape} "
                "(a bug in that operation)"
            )
    if input_grad.dtype != value.array.dtype:
        input_grad = input_grad.to(value.array.dtype)
    return input_grad


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return a + b
    return _sum(a, b)


def _deliver(
    value: Tensor,
    g: Any,
    target_ids: set,
    found: dict,
    into_leaves: bool,
    create_graph: bool,
    lent: set,
) -> None:
    producer = value._ctx
    if producer is not None:
        producer.pending = g if producer.pending is None else _add(producer.pending, g)
        return
    hooks = value._hooks
    if hooks is not None and hooks.gather is not None:  # summed on the stand-in, hooks first
        gather = hooks.gather
        gather.pending = g if gather.pending is None else _add(gather.pending, g)
        return
    key = id(value)
    if key in target_ids:
        g = _stored(g, create_graph)
        found[key] = g if key not in found else _stored(_add(found[key], g), create_graph)
    elif into_leaves:
        _add_to_grad(value, _stored(g, create_graph), create_graph)


def _stored(g: Any, create_graph: bool) -> Tensor:
    """A gradient as a tensor of its own (an array is copied: the walk may still lend it)."""
    if isinstance(g, Tensor):
        return g
    return Tensor._make(g.copy() if create_graph is False else g, False, None)


def _add_to_grad(leaf: Tensor, g: Tensor, create_graph: bool) -> None:
    current = leaf._grad
    if current is None:
        if create_graph:
            # A copy in the graph, as PyTorch's: g may also flow on, be returned by grad() or
            # become another tensor's .grad, and a later backward adds into .grad in place.
            with enable_grad():
                g = g.clone()
        leaf._grad = g
    elif create_graph or g._requires_grad or current._requires_grad:
        with enable_grad():
            leaf._grad = current + g
    else:
        leaf._grad = Tensor._make(current.array + g.array, False, None)


def _hooked(tensor: Tensor, g: Any, lent: set, create_graph: bool) -> Any:
    if not create_graph:
        return _run_tensor_hooks(tensor, tensor._hooks, g, lent)
    for hook in list(tensor._hooks.functions.values()):
        result = hook(g)
        if result is not None:
            g = result
    if tensor._hooks.retains_grad:
        _add_to_grad(tensor, g, True)
    return g


# ---- arguments ---------------------------------------------------------------------------------


def _as_tensors(values: Any, what: str) -> list[Tensor]:
    values = [values] if isinstance(values, Tensor) else list(values)
    for i, value in enumerate(values):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"autograd: element {i} of {what} must be a Tensor, not {type(value).__name__}"
            )
    if not values:
        raise ValueError(f"autograd: {what} is empty")
    return values


def _weights(outputs: list[Tensor], grad_outputs: Any, create_graph: bool) -> list:
    """One weight per output: ∂C/∂output, 1 for a scalar output given None."""
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"autograd: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs; give one "
            "per output"
        )
    weights = []
    for output, weight in zip(outputs, grad_outputs):
        if create_graph and isinstance(weight, Tensor):
            if tuple(weight.shape) != tuple(output.shape):
                raise ValueError(
                    f"autograd: grad_outputs has shape {tuple(weight.shape)} but the output "
                    f"has shape {tuple(output.shape)}"
                )
            weights.append(weight if weight.dtype == output.dtype else weight.to(output.dtype))
            continue
        array = _initial_gradient(output, weight)
        weights.append(Tensor._make(array, False, None) if create_graph else array)
    return weights


__all__ = ["backward", "grad"]
