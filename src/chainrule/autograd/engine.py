"""The reverse walk: one pass over the graph in reverse topological order.

The engine knows no operation by name. For each node it asks the node's ``backward`` for the
input gradients, checks their shapes, sums the contributions that reach the same tensor, and
stores the totals in the leaves' ``.grad``. It recurses nowhere, so graphs of any depth work.

Tensor hooks (``Tensor.register_hook``) run on a tensor's gradient once it is complete: for a
non-leaf when the walk reaches it, for a leaf after the last operation that uses it (a
stand-in node, sorted just after that operation, sums the leaf's contributions first).

Two rules keep every gradient right on graphs that reuse values and change them in place:

- Ownership. A backward may hand one array to several places (``a + b`` passes ∂C/∂out to
  both inputs unchanged), so an array that arrives at a leaf may still be waiting at another
  node. A leaf takes its first gradient of a walk without a copy, but that array is only lent:
  nothing writes into a lent array while the walk runs. A second contribution is summed into a
  new array, which the leaf owns and into which later contributions are added in place.
- Versions. An in-place operation gives its tensor a new history (a new node) whose
  ``previous`` is the tensor as it was, so a node made before the change reaches the old
  history and a node made after it the new one: the walk follows the version that each
  consumer saw. A node whose saved arrays were overwritten after it saved them refuses to run
  (:mod:`chainrule.autograd.versions`).
"""

from __future__ import annotations

import operator
import threading
from _thread import get_ident
from typing import Any

import numpy

from chainrule import backend, fp_errors
from chainrule.autograd import function as _function
from chainrule.autograd.function import FREED, Function
from chainrule.autograd.grad_mode import pause_grad, restore_mode
from chainrule.autograd.hooks import TensorHooks, hook_name
from chainrule.autograd.versions import Writes, check_saved
from chainrule.tensor import Tensor


def backward(root: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """Accumulate ∂root/∂leaf (times ``gradient``) into the ``.grad`` of every leaf below root,
    then run the callbacks that hooks queued during the walk (:func:`queue_callback`).

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> cr.backward((x * x).sum())
    >>> x.grad.tolist()
    [2.0, 4.0]

    ```
    """
    recorder = _function.recorder
    if recorder is None:
        walk(root, gradient, retain_graph)
    else:  # chainrule.compile records this walk (compiled/backward.py)
        recorder.backward(root, gradient, retain_graph)


class _HookDepth(threading.local):
    depth = 0  # > 0 while a reverse walk in this thread runs tensor hooks


_hooks_running = _HookDepth()
# Thread ident -> the callbacks that hooks queued during that thread's reverse walk. Empty
# between walks, so a walk pays one look at it; per thread, as each thread may run a backward.
_queued: dict[int, list] = {}


def queue_callback(callback: Any) -> bool:
    """Call ``callback()`` once the ``backward()`` now running has filled every ``.grad``
    (PyTorch's ``Variable._execution_engine.queue_callback``); a tensor hook calls this, e.g.
    to average gradients across processes. The same callback queued twice in one pass runs
    once. Returns False, queueing nothing, outside the hooks of a ``backward()``
    (``autograd.grad`` fills no ``.grad``, so there is no end of one to wait for). A
    ``backward()`` that a hook itself starts runs the callbacks queued so far at its end."""
    if not _hooks_running.depth:
        return False
    queued = _queued.setdefault(get_ident(), [])
    if callback not in queued:
        queued.append(callback)
    return True


def _run_walk_hooks(tensor: Tensor, grad: Any, lent: set) -> Any:
    """The tensor hooks of ``tensor`` run by the reverse walk, where they may queue callbacks."""
    _hooks_running.depth += 1
    try:
        return _run_tensor_hooks(tensor, tensor._hooks, grad, lent)
    finally:
        _hooks_running.depth -= 1


def _run_queued() -> None:
    """Run the callbacks that this thread's walk queued (:func:`queue_callback`)."""
    for callback in _queued.pop(get_ident(), ()):
        callback()


def walk(root: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """:func:`backward` itself: the reverse walk, unobserved."""
    if not root._requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn; did you forget "
            "requires_grad=True on the parameters, or compute it under no_grad()?"
        )
    grad = _initial_gradient(root, gradient)
    # The ids of the arrays lent in this walk (see the module's docstring): kept by a leaf
    # without a copy, seen by a hook, or given by the caller. None of them is written in place,
    # and a second leaf receiving one gets a copy.
    lent = {id(_owner(grad))} if gradient is not None else set()
    if root._ctx is None:
        if root._hooks is not None:
            grad = _run_walk_hooks(root, grad, lent)
        _accumulate_leaf(root, grad, lent)
        if _queued:
            _run_queued()
        return

    # Oldest first, so that pop() visits the newest first and the list lets go of each tensor
    # once it has run: holding them all to the end of the walk would keep every activation
    # alive through the whole backward pass, where the peak of a training step's memory is.
    order = reverse_topological_order([root])
    order.reverse()
    ndarray, freed = backend.ndarray, FREED  # locals: this loop is the hot path of backward
    # inf and NaN in a gradient are results, as in PyTorch, not occasions for NumPy warnings;
    # detect_anomaly is the tool that stops at them.
    quiet = fp_errors.enter()
    latest_write = Writes.latest  # nodes made after it saved nothing that has changed since
    # Each node holds the gradient summed so far for its output while the walk runs, so that
    # accumulating needs no dictionary. A finished walk has consumed every sum; one cut short
    # by an error clears them, so that no stale sum leaks into the next backward.
    root._ctx.pending = grad
    # The array module of the node being run: each node's backward computes where its forward
    # did (a GPU's module for a node that ran there, NumPy otherwise).
    active = home = None
    devices = backend.on_devices  # else every node runs with NumPy: no need to look
    try:
        while order:
            tensor = order.pop()
            node = tensor._ctx
            grad = node.pending
            if grad is None:
                continue
            node.pending = None
            if devices and node.module is not active:
                if home is None:
                    home = backend.xp, backend.ndarray
                active = node.module
                backend.use(active) if active is not None else backend.restore(home)
                ndarray = backend.ndarray
            if tensor._hooks is not None:
                grad = _run_walk_hooks(tensor, grad, lent)
            if node.saved is freed:
                raise RuntimeError(
                    f"backward: trying to go through the graph a second time (at {node!r}); "
                    "its saved arrays were freed by the first backward. Pass retain_graph=True "
                    "to the first backward if you need to call it twice."
                )
            born = node.sequence_number
            if born < latest_write:
                check_saved(node)
            input_grads = node.backward(grad)
            for value, input_grad, needed in zip(node.inputs, input_grads, node.needs_input_grad):
                if not needed or input_grad is None:
                    continue
                data = value.array
                if (
                    type(input_grad) is not ndarray
                    or input_grad.shape != data.shape
                    or input_grad.dtype is not data.dtype
                ):
                    input_grad = _conform(node, input_grad, data)
                producer = value._ctx
                if producer is None:
                    if value._hooks is None:
                        _accumulate_leaf(value, input_grad, lent)
                    else:
                        _accumulate_hooked_leaf(value, input_grad, lent)
                elif producer.sequence_number > born:  # changed in place since node used it
                    _deliver(version_at(value, born), input_grad, lent)
                elif producer.pending is None:
                    producer.pending = input_grad
                else:
                    producer.pending = _sum(producer.pending, input_grad)
            if not retain_graph:
                # Dropping the inputs too releases the intermediate activations at once, as
                # PyTorch does, even while the caller still holds the output (e.g. the loss).
                node.saved = freed
                node.inputs = ()
    except BaseException:
        for tensor in order:  # those not yet run; every one run has handed its sum on
            tensor._ctx.pending = None
        _queued.pop(get_ident(), None)  # a walk cut short has no end for them to wait for
        raise
    finally:
        if home is not None:
            backend.restore(home)
        fp_errors.leave(quiet)
    if _queued:
        _run_queued()


def _deliver(value: Tensor, grad: Any, lent: set) -> None:
    """Add ``grad`` to the pending sum of ``value``'s node, or to its ``.grad`` for a leaf."""
    producer = value._ctx
    if producer is None:
        if value._hooks is None:
            _accumulate_leaf(value, grad, lent)
        else:
            _accumulate_hooked_leaf(value, grad, lent)
    elif producer.pending is None:
        producer.pending = grad
    else:
        producer.pending = _sum(producer.pending, grad)


def _sum(a: Any, b: Any) -> Any:
    """a + b as an array: NumPy gives a scalar for two 0-d arrays, and a backward may write
    into the gradient it receives."""
    total = a + b
    return total if type(total) is backend.ndarray else backend.as_array(total)


def _conform(node: Function, grad: Any, data: Any) -> Any:
    """``grad`` as an array of ``data``'s dtype, after checking that the shapes agree."""
    if type(grad) is not backend.ndarray:
        # NumPy returns scalars, not 0-d arrays, from ufuncs on 0-d inputs.
        grad = backend.as_array(grad)
    if grad.shape != data.shape:
        raise RuntimeError(
            f"backward of {type(node).__name__}: gradient of shape {grad.shape} for an input "
            f"of shape {data.shape} (a bug in that operation)"
        )
    if grad.dtype != data.dtype:
        grad = grad.astype(data.dtype)
    return grad


def deliver_to_leaf(leaf: Tensor, grad: Any, node: Function, lent: set) -> None:
    """Add ``grad``, the contribution of ``node`` to ∂C/∂leaf, to ``leaf.grad`` exactly as the
    reverse walk does for a leaf without hooks: shape checked, dtype matched, and memory never
    shared with another leaf's gradient (``lent`` holds the ids of the arrays lent so far)."""
    _accumulate_leaf(leaf, conform_gradient(node, grad, leaf.array), lent)


def conform_gradient(node: Function, grad: Any, data: Any) -> Any:
    """``grad`` from ``node`` as an array of ``data``'s shape (checked) and dtype."""
    if (
        type(grad) is not backend.ndarray
        or grad.shape != data.shape
        or grad.dtype is not data.dtype
    ):
        grad = _conform(node, grad, data)
    return grad


def _initial_gradient(root: Tensor, gradient: Any) -> Any:
    data = root.array
    if gradient is None:
        if data.size != 1:
            raise RuntimeError(
                f"backward: gradient can be implied only for a single-element output, this one "
                f"has shape {data.shape}; pass gradient= with that shape (∂C/∂output)"
            )
        xp = numpy if type(data) is _np_ndarray else backend.module_of(data)
        if data.ndim == 0:  # the usual scalar loss: array() is five times cheaper than ones_like
            return xp.array(1, dtype=data.dtype)
        return xp.ones_like(data)
    grad = gradient.array if isinstance(gradient, Tensor) else backend.as_array(gradient)
    grad = backend.transfer(grad, backend.module_of(data))
    if grad.shape != data.shape:
        raise ValueError(
            f"backward: gradient has shape {grad.shape} but the tensor has shape {data.shape}"
        )
    return grad.astype(data.dtype, copy=False)


def _owner(array: Any) -> Any:
    """The array that owns ``array``'s memory (itself, or the base it is a view of)."""
    base = array.base
    return array if base is None else base


def _accumulate_leaf(tensor: Tensor, grad: Any, lent: set) -> None:
    """Add ``grad`` to ``tensor.grad``, writing in place only into memory the leaf owns."""
    current = tensor._grad
    if current is None:
        base = grad.base
        owner = grad if base is None else base
        if (
            id(owner) in lent
            or owner is tensor.array
            or not (grad.flags.writeable if type(grad) is _np_ndarray else _writeable(grad))
        ):
            # Another leaf or a hook already holds this memory, or it is not an array of its
            # own (a broadcast view, the tensor's own data): the leaf gets a copy.
            grad = grad.copy()
        else:  # the common case: a parameter's first gradient, lent without a copy
            lent.add(id(owner))
        tensor._grad = _make_tensor(grad, False, None)
        return
    data = current.array
    base = data.base
    if id(data if base is None else base) not in lent and (
        data.flags.writeable if type(data) is _np_ndarray else _writeable(data)
    ):
        data += grad  # memory the leaf owns: a sum made earlier, or a gradient of a past walk
    else:
        current.array = _sum(data, grad)


_make_tensor = Tensor._make
_writeable = backend.writeable
_np_ndarray = numpy.ndarray


def _reverse_topological_order(root: Tensor) -> list[Tensor]:
    """Non-leaf tensors reachable from ``root``, each before the tensors it was computed from.
    (:func:`reverse_topological_order` of one root.)"""
    return reverse_topological_order([root])


def reverse_topological_order(roots: list[Tensor]) -> list[Tensor]:
    """Non-leaf tensors reachable from ``roots``, each before the tensors it was computed from.

    Every node is numbered when it is created, after its inputs, so sorting the reachable
    tensors by that number, newest first, puts each consumer before what it consumes. Leaves
    with hooks get a stand-in numbered just below their oldest consumer, which puts it after
    every operation that sends the leaf a gradient. A tensor changed in place since a consumer
    used it is followed back to the version that consumer saw.
    """
    visit = object()  # marks the nodes found in this search, without a set of ids
    found = []
    for root in roots:
        if root._ctx.visit is not visit:
            root._ctx.visit = visit
            found.append(root)
    stack = list(found)
    while stack:
        consumer = stack.pop()._ctx
        born = consumer.sequence_number
        for value in consumer.inputs:
            if not isinstance(value, Tensor):
                continue
            node = value._ctx
            if node is not None and node.sequence_number > born:
                # Changed in place after the consumer used it: the version it used (a constant
                # then, if it was one: its node is None and the walk sends it nothing).
                value = version_at(value, born)
                node = value._ctx
            if node is None:
                if value._hooks is not None:
                    _gather_leaf(value, born, found, visit)
            elif node.visit is not visit:
                node.visit = visit
                found.append(value)
                stack.append(value)
    found.sort(key=_creation_order, reverse=True)
    return found


def version_at(tensor: Tensor, born: float) -> Tensor:
    """``tensor`` as the node numbered ``born`` saw it: each in-place change since then gave
    the tensor a newer node, which keeps the tensor as it was before in ``previous``."""
    node = tensor._ctx
    while node is not None and node.sequence_number > born:
        tensor = node.previous
        node = tensor._ctx
    return tensor


_creation_order = operator.attrgetter("_ctx.sequence_number")


# ---- hooks -----------------------------------------------------------------------------------


class LeafGradient(Function):
    """The stand-in for a hooked leaf during one backward (PyTorch's AccumulateGrad): the walk
    sums the leaf's gradient here, runs the leaf's hooks on the total, and this node hands it
    to the leaf's ``.grad``."""

    def backward(self, grad: Any) -> tuple:
        self.hooks.gather = None  # the sum is complete: the leaf takes its gradient directly
        return (grad,)

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


def _gather_leaf(leaf: Tensor, consumer: float, found: list, visit: object) -> None:
    # A stand-in left by an earlier walk (one cut short, or that never reached it) is stale:
    # every leaf that this walk will send a gradient to passes here first and replaces it.
    hooks = leaf._hooks
    if not hooks.functions:
        hooks.gather = None
        return
    if hooks.gather is None or hooks.gather.visit is not visit:
        stand_in = object.__new__(LeafGradient)
        stand_in.visit = visit
        stand_in.hooks = hooks
        stand_in.inputs = (leaf,)
        stand_in.needs_input_grad = [True]
        stand_in.sequence_number = consumer - 0.5
        hooks.gather = stand_in
        proxy = Tensor._make(leaf.array, True, stand_in)
        proxy._hooks = hooks  # the walk runs the leaf's hooks when it reaches the stand-in
        found.append(proxy)
    elif consumer - 0.5 < hooks.gather.sequence_number:
        hooks.gather.sequence_number = consumer - 0.5


def _run_tensor_hooks(tensor: Tensor, hooks: TensorHooks, grad: Any, lent: set) -> Any:
    """Pass ∂C/∂tensor through its hooks in order; keep it in ``.grad`` if it is retained."""
    token = pause_grad()  # hooks run outside the graph, as the rest of backward does
    try:
        for hook in list(hooks.functions.values()):
            # The hook may keep the tensor it is given: its memory must never become a .grad.
            lent.add(id(_owner(grad)))
            result = hook(Tensor._make(grad, False, None))
            if result is not None:
                grad = _replacement_gradient(hook, result, grad)
    finally:
        restore_mode(token)
    lent.add(id(_owner(grad)))  # a replacement may be memory that the hook's author keeps
    if hooks.retains_grad:
        _accumulate_leaf(tensor, grad, lent)
    return grad


def _accumulate_hooked_leaf(leaf: Tensor, grad: Any, lent: set) -> None:
    gather = leaf._hooks.gather
    if gather is None:  # no hook functions (retain_grad alone does nothing on a leaf)
        _accumulate_leaf(leaf, grad, lent)
    else:  # the hooks must see the leaf's total gradient once: sum it on the stand-in first
        gather.pending = grad if gather.pending is None else _sum(gather.pending, grad)


def _replacement_gradient(hook: Any, result: Any, grad: Any) -> Any:
    if not isinstance(result, Tensor):
        raise TypeError(
            f"register_hook: hook {hook_name(hook)!r} returned {type(result).__name__}; a "
            "tensor hook must return a Tensor (the new gradient) or None"
        )
    new = result.array
    if new.shape != grad.shape:
        raise RuntimeError(
            f"register_hook: hook {hook_name(hook)!r} changed the gradient's shape from "
            f"{grad.shape} to {new.shape}; a hook must return a gradient of the same shape"
        )
    if new.dtype != grad.dtype:
        raise RuntimeError(
            f"register_hook: hook {hook_name(hook)!r} changed the gradient's dtype from "
            f"{grad.dtype} to {new.dtype}; a hook must return a gradient of the same dtype"
        )
    return new
