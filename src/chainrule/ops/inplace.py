"""In-place operations (``x.add_(y)``, ``x.relu_()``, ``x[i] = y``, ``x += y``...) with PyTorch's
autograd semantics.

Outside a graph (under ``no_grad``, or when no tensor involved requires grad) an in-place
operation writes the tensor's memory and records the write (:mod:`chainrule.autograd.versions`),
so that a graph which saved that memory refuses to run backward.

Inside a graph, ``x.op_(y)`` on a tensor ``x`` that is not a leaf requiring grad:

1. computes ``op(x_before, y)`` with the ordinary, differentiable operation, where
   ``x_before`` is ``x`` as it is now (same memory, same history);
2. writes the result into ``x``'s memory;
3. gives ``x`` the new history: its node is the operation's, whose ``previous`` is
   ``x_before``, so that nodes made earlier still reach the old history (the engine follows
   each consumer to the version it saw);
4. if ``x`` is a view of a base, the base is given the new history instead: its view's place
   now holds the result (:class:`~chainrule.ops.assignment.CopySlices`), and every live view
   of the base, ``x`` included, is taken again from the base's new version
   (:mod:`chainrule.autograd.views`); otherwise the views of ``x`` are.

An operation that saved ``x``'s memory (``x.mul_(w)`` needs the old x for ∂C/∂w) is computed on
a copy of the old values, since the write would change them; the operation that made ``x``
(``exp`` saves its output) keeps a copy of what it saved. Any other node that saved the memory
refuses to run backward afterwards, with PyTorch's error. So chainrule allows a few changes
that PyTorch refuses (``x.exp().add_(1)``), always with exact gradients, and refuses none that
PyTorch allows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd import graph_numpy, views
from chainrule.autograd.function import FREED
from chainrule.autograd.grad_mode import current_mode
from chainrule.autograd.hooks import TensorHooks
from chainrule.autograd.versions import Writes, memory_root, note_write, saved_arrays, version
from chainrule.ops import conversion, elementwise
from chainrule.ops.assignment import CopySlices, RepeatedSelfCopy, SetItem
from chainrule.ops.movement import normalise_index
from chainrule.ops.rectifiers import relu
from chainrule.ops.smooth_activations import sigmoid, tanh
from chainrule.tensor import Tensor


def modify(
    target: Tensor,
    what: str,
    compute: Callable[..., Tensor],
    *args: Any,
    ufunc: Any = None,
    region: Any = None,
) -> Tensor:
    """``target ← compute(target, *args)`` in place, recorded in the graph when one is due.

    ``compute`` is an out-of-place, differentiable function of tensors; ``what`` names the
    in-place operation in errors. Outside a graph, a binary ``ufunc`` (``xp.add``...) writes
    ``ufunc(target, args[0])`` straight into the memory, without a temporary. ``region`` is
    the part of ``target.array`` actually written, where that is less than all of it.
    """
    _check_writable(target, what, region=region)
    if not _records_graph(target, args):
        if ufunc is None:
            _write(target, compute(target, *args), what)
        else:
            _write_ufunc(target, ufunc, args[0], what)
        return target
    return _record(target, what, compute, args)


def _record(target: Tensor, what: str, compute: Callable[..., Tensor], args: tuple) -> Tensor:
    """The graph's part of :func:`modify`: the write, the new history, the views."""
    link = views.link_of(target)
    _check_allowed(target, link, what)
    # Before computing: SetItem writes the memory as it computes.
    _keep_saved_values(target)
    if link is not None:
        _keep_saved_values(link.base)
    before = Tensor._make(target.array, target._requires_grad, target._ctx)
    args = tuple(before if arg is target else arg for arg in args)
    result = compute(before, *args)
    node = result._ctx
    if node is None:  # nothing that requires grad reached the result after all
        _write(target, result, what)
        return target
    if result.array is not target.array and _saves_memory_of(node, target.array):
        before.array = target.array.copy()  # the old values outlive the write
        result = compute(before, *args)
        node = result._ctx
    _write(target, result, what)
    if link is None:
        _rebase(target, node, before)
        _refresh_views(target)
        return target
    # Through a view, the base changes: it takes the new region (the result, as the node made
    # it), and every view of it, this one included, is taken again from its new version, so
    # that the view's history runs through the base as in PyTorch.
    base = link.base
    base_before = Tensor._make(base.array, base._requires_grad, base._ctx)
    region = Tensor._make(target.array, True, node)
    copied = CopySlices.apply(base_before, region, steps=link.steps)
    _rebase(base, copied._ctx, base_before)
    _refresh_views(base, {target: before})
    return target


def _records_graph(target: Tensor, args: tuple) -> bool:
    if not current_mode().grad:
        return False
    if target._requires_grad:
        return True
    link = views.link_of(target)
    if link is not None and link.base._requires_grad:
        return True
    return any(isinstance(arg, Tensor) and arg._requires_grad for arg in args)


def _check_allowed(target: Tensor, link: Any, what: str) -> None:
    if target._ctx is None and target._requires_grad:
        raise RuntimeError(
            f"{what}: a leaf Variable that requires grad is being used in an in-place "
            f"operation (shape {target.shape}); change parameters in place inside "
            "`with chainrule.no_grad():`, or use the out-of-place form"
        )
    if link is not None:
        base = link.base
        if link.pieces:
            raise RuntimeError(
                f"{what}: a view made by {link.pieces} (shape {target.shape}) is being modified "
                "inplace; it is the output of a function that returns multiple views, and such "
                "outputs may not be modified inplace in a graph (as in PyTorch): use the "
                "out-of-place form, or clone() the piece"
            )
        if base._ctx is None and base._requires_grad:
            raise RuntimeError(
                f"{what}: a view of a leaf Variable that requires grad is being used in an "
                f"in-place operation (a view of shape {target.shape} of a leaf of shape "
                f"{base.shape}); use the out-of-place form, or clone() the leaf first"
            )
        if target._ctx is None and base._requires_grad:
            raise RuntimeError(
                f"{what}: a view was created in no_grad mode and is being modified in place "
                f"with grad mode enabled (a view of shape {target.shape}); take the view "
                "outside no_grad, or clone() it"
            )


def _check_writable(
    target: Tensor, what: str, repeats_allowed: bool = False, region: Any = None
) -> None:
    data = target.array if region is None else region
    if not repeats_allowed and _repeats_elements(data):
        raise RuntimeError(
            f"{what}: unsupported operation: more than one element of the written-to tensor "
            f"refers to a single memory location (an expand()ed tensor of shape "
            f"{target.shape}); clone() it before changing it in place"
        )
    if not backend.writeable(data):
        raise RuntimeError(
            f"{what}: the tensor's memory (shape {target.shape}) is read-only (a NumPy array "
            "marked so, shared by from_numpy); clone() it before changing it in place"
        )


def _repeats_elements(data: Any) -> bool:
    """An axis of stride 0 and size > 1 (an expand) puts one element in several places; an
    empty array has none to repeat (NumPy gives its axes stride 0: (2, 0) has strides (0, 0))."""
    return (
        data.size > 1
        and 0 in data.strides
        and any(stride == 0 and n > 1 for stride, n in zip(data.strides, data.shape))
    )


def _saves_memory_of(node: Any, array: Any) -> bool:
    root = memory_root(array)
    return any(memory_root(saved) is root for saved in saved_arrays(node.saved))


def _keep_saved_values(tensor: Tensor) -> None:
    """Give the node that made ``tensor`` its own copy of what it saved of the tensor's memory
    (``exp`` and ``relu`` save their output, max-pool the pooled values), so that the write
    leaves its backward exact: an in-place change of an operation's own output is allowed.
    Other nodes that saved the memory still refuse to run backward (versions.py)."""
    node = tensor._ctx
    if node is None or not node.saved or node.saved is FREED:
        return
    root = memory_root(tensor.array)
    if any(memory_root(saved) is root for saved in saved_arrays(node.saved)):
        node.saved = tuple(_private(value, root) for value in node.saved)


def _private(value: Any, root: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return type(value)(_private(item, root) for item in value)
    if backend.is_array(value) and memory_root(value) is root:
        return value.copy()
    return value


def _write(target: Tensor, result: Tensor, what: str) -> None:
    """Put ``result``'s values into ``target``'s memory, as PyTorch's in-place rules allow."""
    data, new = target.array, result.array
    if new.shape != data.shape:
        raise RuntimeError(
            f"{what}: output with shape {data.shape} doesn't match the broadcast shape {new.shape}"
        )
    if new is not data:
        if not dtypes.can_cast(new.dtype, data.dtype):
            raise _cast_error(what, new.dtype, data)
        backend.xp.copyto(data, new, casting="unsafe")  # PyTorch's rule was checked above
    note_write(data, what)


def _write_ufunc(target: Tensor, ufunc: Any, other: Any, what: str) -> None:
    data = target.array
    value = other.array if isinstance(other, Tensor) else other
    try:
        ufunc(data, value, out=data)  # same_kind casting: PyTorch's rule, nearly
    except (ValueError, TypeError) as error:
        # NumPy's casting error is a TypeError subclass whose constructor takes more than a
        # message: report it anew rather than rebuild it.
        result = dtypes.result_type(data, value)
        if ufunc is backend.xp.true_divide and not dtypes.is_floating(result):
            result = dtypes.get_default_dtype()  # true division of integers gives floats
        if result is not None and not dtypes.can_cast(result, data.dtype):
            raise _cast_error(what, result, data) from None
        if result is not None and data.dtype.kind == "u" and result.kind == "i":
            # PyTorch writes signed results into unsigned tensors, wrapping around.
            ufunc(data, value, out=data, casting="unsafe")
            note_write(data, what)
            return
        raise RuntimeError(
            f"{what}: cannot update a tensor of shape {data.shape} and dtype {data.dtype} in "
            f"place with a value of shape {tuple(getattr(value, 'shape', ()))}: {error}"
        ) from None
    note_write(data, what)


def _cast_error(what: str, result: Any, data: Any) -> RuntimeError:
    """PyTorch's error for an in-place result of a dtype the tensor cannot hold."""
    return RuntimeError(
        f"result type {dtypes.torch_name(result)} can't be cast to the desired output type "
        f"{dtypes.torch_name(data.dtype)} (in-place {what} on a tensor of dtype {data.dtype} "
        f"and shape {data.shape}; use the out-of-place form, or convert first, e.g. "
        "t = t.float())"
    )


def _rebase(tensor: Tensor, node: Any, before: Tensor) -> None:
    """Make ``node`` the history of ``tensor``; ``before`` keeps the history it had."""
    node.previous = before
    # The stamp of the node's own write, which a backward recording a graph tells apart from
    # later writes to the memory (autograd/gradients.py).
    node.written_at = Writes.latest
    hooks = tensor._hooks
    if hooks is not None:
        # As in PyTorch: hooks stay with the version they were registered on; retain_grad
        # follows the tensor to its newest version.
        if hooks.functions:
            kept = TensorHooks()
            kept.functions = hooks.functions
            before._hooks = kept
        if hooks.retains_grad:
            tensor._hooks = TensorHooks()
            tensor._hooks.retains_grad = True
        else:
            tensor._hooks = None
    tensor._ctx = node
    tensor._requires_grad = True


def _refresh_views(base: Tensor, known: dict | None = None) -> None:
    """Take every live view of ``base`` again from the base's new version; ``known`` maps a
    view to the tensor that already stands for its version before (one object per version)."""
    for view in views.live_views(base):
        again = views.replay(base, view._view_link.steps)
        before = (known or {}).get(view)
        if before is None:
            before = Tensor._make(view.array, view._requires_grad, view._ctx)
        if again._ctx is not None:
            _rebase(view, again._ctx, before)


# ---- the operations ----------------------------------------------------------------------------


def _scaled(other: Any, alpha: float) -> Any:
    return other if alpha == 1 else other * alpha


def add_(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """``self += alpha * other`` in place."""
    return modify(self, "add_", elementwise.add, _scaled(other, alpha), ufunc=backend.xp.add)


def sub_(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """``self -= alpha * other`` in place."""
    value = _scaled(other, alpha)
    return modify(self, "sub_", elementwise.sub, value, ufunc=backend.xp.subtract)


def mul_(self: Tensor, other: Any) -> Tensor:
    return modify(self, "mul_", elementwise.mul, other, ufunc=backend.xp.multiply)


def div_(self: Tensor, other: Any) -> Tensor:
    return modify(self, "div_", elementwise.div, other, ufunc=backend.xp.true_divide)


def pow_(self: Tensor, exponent: Any) -> Tensor:
    return modify(self, "pow_", elementwise.pow, exponent)


def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    return modify(self, "clamp_", lambda x, lo, hi: elementwise.clamp(x, lo, hi), min, max)


def masked_fill_(self: Tensor, mask: Any, value: Any) -> Tensor:
    """Write ``value`` where ``mask`` (broadcast to this shape) is true."""
    where = backend.xp.broadcast_to(_array(mask), self.shape)
    if where.dtype.kind != "b":
        raise TypeError(f"masked_fill_: mask must be a bool tensor, got {where.dtype}")
    return _assign(self, where, value, "masked_fill_")


def copy_(self: Tensor, source: Any) -> Tensor:
    """Overwrite with ``source`` (broadcast to this shape, cast to this dtype); in a graph the
    gradient flows to ``source``. A copy from the tensor itself changes nothing (PyTorch)."""
    if source is self:
        # Nothing to write (not even into memory an expand repeats), but a change all the same
        # for autograd, as in PyTorch: a new version, and a new history in a graph.
        if _records_graph(self, ()):
            if _repeats_elements(self.array):
                return _record(self, "copy_", RepeatedSelfCopy.apply, ())
            return _record(self, "copy_", conversion.clone, ())
        note_write(self.array, "copy_")
        return self
    return _assign(self, Ellipsis, source, "copy_")


def fill_(self: Tensor, value: Any) -> Tensor:
    return _assign(self, Ellipsis, value, "fill_")


def zero_(self: Tensor) -> Tensor:
    return _assign(self, Ellipsis, 0, "zero_")


def setitem(self: Tensor, index: Any, value: Any) -> None:
    """``self[index] = value``; in a graph the gradient flows to ``value``."""
    _assign(self, normalise_index(index), value, "setitem")


def _assign(target: Tensor, index: Any, value: Any, what: str) -> Tensor:
    if not _records_graph(target, (value,)):
        # Writing where an expand repeats elements: PyTorch's fill_, zero_ and masked_fill_
        # allow one value there, and its index_put_ (``x[tensor] = v``) allows any value outside
        # a graph (deprecated, with a warning); basic slicing stays refused.
        one_value = what in ("fill_", "zero_", "masked_fill_") and not isinstance(value, Tensor)
        advanced = what == "setitem" and _is_advanced(index)
        region = _written_region(target, index)
        _check_writable(target, what, repeats_allowed=one_value or advanced, region=region)
        target.array[index] = value.array if isinstance(value, Tensor) else value
        note_write(target.array, what)
        return target
    # In a graph the whole target is checked: a write into part of an expanded view would
    # leave the view's other positions, the same memory, with a gradient they no longer have.
    return modify(target, what, lambda x, v: SetItem.apply(x, v, index), value)


def _written_region(target: Tensor, index: Any) -> Any:
    """The view of ``target.array`` that ``target[index] = …`` writes, for basic indexing (a
    slice of an expanded tensor may hold each element once); None for the whole tensor."""
    if index is Ellipsis or _is_advanced(index):
        return None
    parts = index if isinstance(index, tuple) else (index,)
    return target.array[(*parts, Ellipsis)]


def _is_advanced(index: Any) -> bool:
    """Whether a normalised index holds an array (integer or boolean), so NumPy copies."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(part, "shape") and hasattr(part, "dtype") for part in parts)


def _array(value: Any) -> Any:
    return value.array if isinstance(value, Tensor) else backend.as_array(value)


def _unary(name: str, function: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    def method(self: Tensor) -> Tensor:
        return modify(self, name, function)

    method.__name__ = name
    method.__doc__ = f"``{name.rstrip('_')}`` of this tensor, in place."
    return method


def _augmented(name: str, function: Callable[..., Tensor], ufunc: Any) -> Callable[..., Tensor]:
    symbol = {"add": "+=", "sub": "-=", "mul": "*=", "truediv": "/="}[name]

    def method(self: Tensor, other: Any) -> Tensor:
        if graph_numpy.recording():
            # An operation's backward written for arrays (``grad_a *= b``) runs on tensors
            # when it records a graph: there ``x *= y`` rebinds x to a new tensor, which keeps
            # the recorded graph free of in-place versions and never changes a tensor that
            # another node of the backward still holds.
            return function(self, other)
        return modify(self, symbol, function, other, ufunc=ufunc)

    method.__name__ = f"__i{name}__"
    return method


def _version(self: Tensor) -> int:
    """How many in-place changes this tensor's memory has had (PyTorch's ``_version``)."""
    return version(self.array)


METHODS: dict[str, Any] = {
    "add_": add_,
    "sub_": sub_,
    "mul_": mul_,
    "div_": div_,
    "pow_": pow_,
    "clamp_": clamp_,
    "clip_": clamp_,
    "masked_fill_": masked_fill_,
    "copy_": copy_,
    "fill_": fill_,
    "zero_": zero_,
    "__setitem__": setitem,
    "neg_": _unary("neg_", elementwise.neg),
    "abs_": _unary("abs_", elementwise.abs),
    "exp_": _unary("exp_", elementwise.exp),
    "log_": _unary("log_", elementwise.log),
    "sqrt_": _unary("sqrt_", elementwise.sqrt),
    "sin_": _unary("sin_", elementwise.sin),
    "cos_": _unary("cos_", elementwise.cos),
    "sigmoid_": _unary("sigmoid_", sigmoid),
    "tanh_": _unary("tanh_", tanh),
    "relu_": _unary("relu_", relu),
    "__iadd__": _augmented("add", elementwise.add, backend.xp.add),
    "__isub__": _augmented("sub", elementwise.sub, backend.xp.subtract),
    "__imul__": _augmented("mul", elementwise.mul, backend.xp.multiply),
    "__itruediv__": _augmented("truediv", elementwise.div, backend.xp.true_divide),
    "_version": property(_version),
}
