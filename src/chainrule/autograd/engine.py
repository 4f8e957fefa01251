"""The reverse walk: one pass over the graph in reverse topological order.

The engine knows no operation by name. For each node it asks the node's ``backward`` for the
input gradients, checks their shapes, sums the contributions that reach the same tensor, and
stores the totals in the leaves' ``.grad``. It recurses nowhere, so graphs of any depth work.
"""

from __future__ import annotations

import operator
from typing import Any

from chainrule import backend
from chainrule.autograd.function import FREED
from chainrule.tensor import Tensor


def backward(root: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """Accumulate ∂root/∂leaf (times ``gradient``) into the ``.grad`` of every leaf below root."""
    if not root._requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn; did you forget "
            "requires_grad=True on the parameters, or compute it under no_grad()?"
        )
    grad = _initial_gradient(root, gradient)
    # Arrays already stored as a leaf's .grad: a second leaf receiving the same memory gets a
    # copy, so that an in-place update of one gradient never changes another.
    handed_out = {id(_owner(grad))} if gradient is not None else set()
    if root._ctx is None:
        _accumulate_leaf(root, grad, handed_out)
        return

    order = _reverse_topological_order(root)
    ndarray, freed = backend.ndarray, FREED  # locals: this loop is the hot path of backward
    # Each node holds the gradient summed so far for its output while the walk runs, so that
    # accumulating needs no dictionary. A finished walk has consumed every sum; one cut short
    # by an error clears them, so that no stale sum leaks into the next backward.
    root._ctx.pending = grad
    try:
        for tensor in order:
            node = tensor._ctx
            grad = node.pending
            if grad is None:
                continue
            node.pending = None
            if tensor._retains_grad:
                _accumulate_leaf(tensor, grad, handed_out)
            if node.saved is freed:
                raise RuntimeError(
                    f"backward: trying to go through the graph a second time (at {node!r}); "
                    "its saved arrays were freed by the first backward. Pass retain_graph=True "
                    "to the first backward if you need to call it twice."
                )
            input_grads = node.backward(grad)
            for value, input_grad, needed in zip(node.inputs, input_grads, node.needs_input_grad):
                if not needed or input_grad is None:
                    continue
                data = value.data
                if type(input_grad) is not ndarray:
                    # NumPy returns scalars, not 0-d arrays, from ufuncs on 0-d inputs.
                    input_grad = backend.as_array(input_grad)
                if input_grad.shape != data.shape:
                    raise RuntimeError(
                        f"backward of {type(node).__name__}: gradient of shape "
                        f"{input_grad.shape} for an input of shape {data.shape} (a bug in that "
                        "operation)"
                    )
                if input_grad.dtype is not data.dtype and input_grad.dtype != data.dtype:
                    input_grad = input_grad.astype(data.dtype)
                producer = value._ctx
                if producer is None:
                    _accumulate_leaf(value, input_grad, handed_out)
                elif producer.pending is None:
                    producer.pending = input_grad
                else:
                    producer.pending = producer.pending + input_grad
            if not retain_graph:
                # Dropping the inputs too releases the intermediate activations at once, as
                # PyTorch does, even while the caller still holds the output (e.g. the loss).
                node.saved = freed
                node.inputs = ()
    except BaseException:
        for tensor in order:
            tensor._ctx.pending = None
        raise


def _initial_gradient(root: Tensor, gradient: Any) -> Any:
    data = root.data
    if gradient is None:
        if data.size != 1:
            raise RuntimeError(
                f"backward: gradient can be implied only for a single-element output, this one "
                f"has shape {data.shape}; pass gradient= with that shape (∂C/∂output)"
            )
        if data.ndim == 0:  # the usual scalar loss: array() is five times cheaper than ones_like
            return backend.xp.array(1, dtype=data.dtype)
        return backend.xp.ones_like(data)
    grad = gradient.data if isinstance(gradient, Tensor) else backend.as_array(gradient)
    if grad.shape != data.shape:
        raise ValueError(
            f"backward: gradient has shape {grad.shape} but the tensor has shape {data.shape}"
        )
    return grad.astype(data.dtype, copy=False)


def _owner(array: Any) -> Any:
    """The array that owns ``array``'s memory (itself, or the base it is a view of)."""
    base = array.base
    return array if base is None else base


def _accumulate_leaf(tensor: Tensor, grad: Any, handed_out: set) -> None:
    current = tensor._grad
    if current is None:
        owner = _owner(grad)
        if id(owner) in handed_out or not grad.flags.writeable or owner is tensor.data:
            grad = grad.copy()
        else:
            handed_out.add(id(owner))
        tensor._grad = Tensor._make(grad, False, None)
    elif current.data.flags.writeable and current.data.shape == grad.shape:
        current.data += grad
    else:
        current.data = current.data + grad


def _reverse_topological_order(root: Tensor) -> list[Tensor]:
    """Non-leaf tensors reachable from ``root``, each before the tensors it was computed from.

    Every node is numbered when it is created, after its inputs, so sorting the reachable
    tensors by that number, newest first, puts each consumer before what it consumes.
    """
    visit = object()  # marks the nodes found in this search, without a set of ids
    root._ctx.visit = visit
    found = [root]
    stack = [root]
    while stack:
        for value in stack.pop()._ctx.inputs:
            if isinstance(value, Tensor):
                node = value._ctx
                if node is not None and node.visit is not visit:
                    node.visit = visit
                    found.append(value)
                    stack.append(value)
    found.sort(key=_creation_order, reverse=True)
    return found


_creation_order = operator.attrgetter("_ctx.sequence_number")
