"""The in-place operations of the gradient fuzzer, kept apart so that they run as a test of
their own (``test_random_inplace_graphs_match_torch``).

Each builder updates an existing value in place: ``add_``, ``sub_``, ``mul_``, ``div_``,
``+=`` and friends, ``relu_``, ``clamp_``, ``neg_``, ``exp_``, ``copy_``, ``fill_``, ``zero_``,
``masked_fill_``, ``scatter_``, ``scatter_add_`` and ``x[index] = y``. The target is a tensor
made by an operation (it may or may not require grad), a constant, or rarely a leaf that
requires grad (PyTorch refuses that at the call), or a fresh view of a value.

One update in four goes through a view made for it (``v5 = v3[1:]; v5.mul_(v2)``), which
changes the base too. PyTorch decides what must happen: where it runs the program, chainrule
must give the same values and gradients; where it raises at the in-place call, chainrule must
raise there too; where it raises at backward (a tensor saved for backward was modified: "one of
the variables needed for gradient computation has been modified by an inplace operation"),
chainrule may raise the same error or run the program exactly (see test_gradient_fuzz.check).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from hypothesis import strategies as st

from fuzz_graphs import KINK_MARGIN, LIMIT, GraphBuilder, Value, partner_shapes, rarely
from fuzz_indexing import position_index
from fuzz_movement import index_list, slice_source
from fuzz_ops import Op, bool_tensor_source, choose, distance, draw_dim
from fuzz_program import Step, expected_error

# Views that both libraries make without a copy, whatever the layout: the in-place update of
# one also changes its base (PyTorch's CopySlices), and the base's later uses must see it.
VIEWS = ["{0}[1:]", "{0}[0]", "{0}[..., ::2]", "{0}.unsqueeze(0)", "{0}.transpose(0, -1)"]
VIEWS += ["{0}.narrow(0, 0, 1)", "{0}.select(-1, 0)", "{0}.movedim(0, -1)", "{0}.diagonal()"]


def view_target(b: GraphBuilder) -> Value | None:
    """A fresh view of a value that is not a leaf requiring grad (PyTorch refuses those)."""
    source = b.pick(lambda v: v.ndim >= 1 and v.numel > 0 and not (v.leaf and v.requires_grad))
    if source is None:
        return None
    made = b.emit(choose(b, VIEWS), [source])
    if not made or not b.tensor(made[0])._is_view() or made[0].numel == 0:
        return None
    b.views = True
    return made[0]


def target(b: GraphBuilder) -> Value | None:
    """A value to update in place: not a view, sharing memory with no other value, or (one
    time in four) a view made for the purpose."""
    if rarely(b.draw, 4):
        view = view_target(b)
        if view is not None:
            return view
    allow_leaf = rarely(b.draw, 25)

    def fits(v: Value) -> bool:
        t = b.tensor(v)
        if v.numel == 0 or t._is_view() or (v.leaf and v.requires_grad and not allow_leaf):
            return False
        storage = t.untyped_storage().data_ptr()
        return not any(
            w is not v
            and b.tensor(w).numel()
            and b.tensor(w).untyped_storage().data_ptr() == storage
            for w in b.values.values()
        )

    found = b.pick(fits)
    if found is not None and not rarely(b.draw, 3):
        return found
    # A fresh tensor to update: clone() is PyTorch's idiom; exp and sigmoid save their output
    # for backward, so updating it is an error there.
    source = b.pick(lambda v: v.numel > 0)
    if source is None:
        return found
    template = choose(b, ["{0}.clone()", "{0} * 2.0", "{0}.exp()", "m.sigmoid({0})", "{0} + {0}"])
    made = b.emit(template, [source])
    return made[0] if made else found


def emit_inplace(
    b: GraphBuilder, template: str, operands: list[Value], gap: float = math.inf
) -> bool:
    """Append the in-place statement ``template`` on ``operands[0]`` if PyTorch runs it to
    acceptable values; if PyTorch refuses it as an in-place error, append it and end the
    program there (the error is what the test compares)."""
    step = Step((), template.format(*[v.name for v in operands]))
    if not _result_acceptable(b, step, operands[0]):
        return False
    if _shares_memory(b, operands[0]):
        b.views = True  # the update reaches other values: cloning it would not do the same
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exec(step.source(), b.namespace)
        except RuntimeError as error:
            try:
                expected_error(error)  # an in-place error that the comparison knows
            except AssertionError:
                return False
            b.statements.append(step)
            b.stopped = b.updated = True
            return True
    b.statements.append(step)
    b.updated = True
    b.smooth &= gap >= KINK_MARGIN
    b.consumed.update(v.name for v in operands[1:])
    updated = operands[0]
    updated.depth = 1 + max(v.depth for v in operands)
    for value in b.values.values():  # through a view, the base changed too
        tensor = b.namespace[value.name]
        value.requires_grad = tensor.requires_grad
        value.leaf = value.leaf and tensor.grad_fn is None
    return True


def _shares_memory(b: GraphBuilder, updated: Value) -> bool:
    """Whether another value of the program is a view of the same memory as ``updated``."""
    t = b.tensor(updated)
    if t._is_view():
        return True
    others = [b.tensor(v) for v in b.values.values() if v is not updated]
    if any(w._is_view() and w._base is t for w in others):  # empty views included
        return True
    storage = t.untyped_storage().data_ptr()
    return t.numel() > 0 and any(
        w.numel() and w.untyped_storage().data_ptr() == storage for w in others
    )


def _result_acceptable(b: GraphBuilder, step: Step, updated: Value) -> bool:
    """Run the statement on detached copies first: an in-place update cannot be taken back."""
    scratch: dict[str, Any] = {"m": torch, "F": torch.nn.functional}
    for name in b.values:
        scratch[name] = b.namespace[name].detach().clone()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exec(step.source(), scratch)
        except (RuntimeError, IndexError, ValueError, TypeError):
            return False
    result = scratch[updated.name]
    return bool(torch.isfinite(result).all()) and float(result.abs().max()) <= LIMIT


def arithmetic(b: GraphBuilder) -> bool:
    """add_, sub_, mul_, div_ and the augmented assignments, with a tensor or a scalar."""
    t = target(b)
    if t is None:
        return False
    if b.draw(st.booleans()):
        options = ["{0}.add_(0.5)", "{0}.sub_(1.5)", "{0}.mul_(-2.0)", "{0}.div_(4)"]
        options += ["{0} += 1.5", "{0} -= 0.25", "{0} *= 0.5", "{0} /= 2"]
        return emit_inplace(b, choose(b, options), [t])
    y = b.partner(t, to_shape=True)
    options = ["{0}.add_({1})", "{0}.add_({1}, alpha=0.5)", "{0}.sub_({1})", "{0}.mul_({1})"]
    options += ["{0}.div_({1} * {1} + 0.5)", "{0} += {1}", "{0} -= {1}", "{0} *= {1}"]
    options += ["{0} /= {1} * {1} + 0.5"]
    return emit_inplace(b, choose(b, options), [t, y])


def unary(b: GraphBuilder) -> bool:
    """relu_ and clamp_ (kinks), neg_ and exp_, and activations with inplace=True."""
    t = target(b)
    if t is None:
        return False
    options = {
        "{0}.relu_()": (0.0,),
        "{0}.clamp_(-0.5, 0.5)": (-0.5, 0.5),
        "{0}.clamp_(min=0.1)": (0.1,),
        "{0}.neg_()": (),
        "{0}.exp_()": (),
        # The activations' inplace=True (nn/functional/rectifiers.py, smooth_activations.py).
        "F.relu({0}, inplace=True)": (0.0,),
        "F.leaky_relu_({0}, 0.2)": (0.0,),
        "F.elu({0}, 0.5, inplace=True)": (0.0,),
        "F.hardtanh_({0})": (-1.0, 1.0),
        "F.silu({0}, inplace=True)": (),
        "F.mish({0}, inplace=True)": (),
    }
    template = choose(b, list(options))
    kinks = options[template]
    gap = distance(b.tensor(t), *kinks) if kinks else math.inf
    return emit_inplace(b, template, [t], gap)


def overwrite(b: GraphBuilder) -> bool:
    """copy_ (broadcast), fill_, zero_ and masked_fill_ with a constant or computed mask."""
    t = target(b)
    if t is None:
        return False
    kind = b.draw(st.integers(0, 4))
    if kind == 0:
        return emit_inplace(b, "{0}.copy_({1})", [t, b.partner(t, to_shape=True)])
    if kind == 1:
        return emit_inplace(b, choose(b, ["{0}.fill_(0.25)", "{0}.zero_()"]), [t])
    if kind == 2:
        shape = b.draw(partner_shapes(t.shape, grow=False))
        size = math.prod(shape)
        flags = b.draw(st.lists(st.booleans(), min_size=size, max_size=size))
        return emit_inplace(b, f"{{0}}.masked_fill_({bool_tensor_source(flags, shape)}, 0.5)", [t])
    if kind == 3:
        gap = distance(b.tensor(t), 0.2)
        return emit_inplace(b, "{0}.masked_fill_({0} > 0.2, -1.0)", [t], gap)
    y = b.operand_like(t, t.shape)
    return emit_inplace(b, "{0}.masked_fill_({1} < 0, 0.0)", [t, y], distance(b.tensor(y), 0.0))


def setitem(b: GraphBuilder) -> bool:
    """``x[index] = y`` (the gradient flows to y) or ``= scalar``: slices, ints, distinct
    integer lists and boolean masks."""
    t = target(b)
    if t is None:
        return False
    kind = b.draw(st.integers(0, 2))
    n = t.shape[0] if t.ndim else 0
    if kind == 0 or t.ndim == 0:
        index = "..." if t.ndim == 0 else slice_source(b, n)
        if t.ndim >= 2 and b.draw(st.booleans()):
            index += f", {b.draw(st.integers(-t.shape[1], t.shape[1] - 1))}"
    elif kind == 1:
        # Distinct positions: with repeats, which write wins is unspecified in PyTorch.
        rows = sorted({i % n for i in index_list(b, n)})
        index = repr(b.draw(st.permutations(rows)))
    else:
        flags = b.draw(st.lists(st.booleans(), min_size=n, max_size=n))
        index = bool_tensor_source(flags, (n,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            selected = tuple(eval(f"t[{index}]", {"m": torch, "t": b.tensor(t)}).shape)
        except (IndexError, RuntimeError, ValueError):
            return False
    if b.draw(st.integers(0, 2)) == 0:
        return emit_inplace(b, f"{{0}}[{index}] = 0.5", [t])
    y = b.leaf(b.draw(partner_shapes(selected, grow=False))) if b.draw(st.booleans()) else None
    if y is None:
        y = b.pick(lambda v: v is not t and _fits(v.shape, selected))
        if y is None:
            return False
    return emit_inplace(b, f"{{0}}[{index}] = {{1}}", [t, y])


def scatter_into(b: GraphBuilder) -> bool:
    """scatter_ of a new leaf to distinct places (with repeats, which write wins is
    unspecified) or of a number, and scatter_add_ (repeats accumulate)."""
    t = target(b)
    if t is None or t.ndim == 0:
        return False
    dim = draw_dim(b, t.ndim)
    kind = b.draw(st.integers(0, 2))
    index, shape = position_index(b, t.shape, dim % t.ndim, distinct=kind == 0)
    if kind == 1:
        return emit_inplace(b, f"{{0}}.scatter_({dim}, {index}, 0.5)", [t])
    name = "scatter_" if kind == 0 else "scatter_add_"
    return emit_inplace(b, f"{{0}}.{name}({dim}, {index}, {{1}})", [t, b.leaf(shape)])


def index_writes(b: GraphBuilder) -> bool:
    """index_add_ (repeats add up), index_copy_ (distinct positions), index_fill_ (a number
    or a 0-d leaf), masked_scatter_ of a leaf, fill_diagonal_, tril_ and triu_."""
    t = target(b)
    if t is None or t.ndim == 0:
        return False
    dim = draw_dim(b, t.ndim)
    axis = dim % t.ndim
    n = t.shape[axis]
    kind = b.draw(st.integers(0, 4))
    if kind == 4:
        options = ["{0}.tril_()", "{0}.triu_(1)", "{0}.fill_diagonal_(0.25)"]
        return t.ndim == 2 and emit_inplace(b, choose(b, options), [t])
    if kind == 3:
        flags = b.draw(st.lists(st.booleans(), min_size=t.numel, max_size=t.numel))
        mask = bool_tensor_source(flags, t.shape)
        return emit_inplace(b, f"{{0}}.masked_scatter_({mask}, {{1}})", [t, b.leaf((sum(flags),))])
    if kind == 2:
        # Negative positions only with a number: PyTorch 2.13's backward to a tensor value
        # fails on them ("index out of range").
        index = b.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
        value = choose(b, ["-0.5", "{1}"])
        index = [i - n for i in index] if value == "-0.5" else index
        template = f"{{0}}.index_fill_({dim}, m.tensor({index}), {value})"
        return emit_inplace(b, template, [t, b.leaf(())])
    if kind == 1:
        index = b.draw(st.permutations(range(n)))[: b.draw(st.integers(1, n))]
    else:
        index = b.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
    source = b.leaf(t.shape[:axis] + (len(index),) + t.shape[axis + 1 :])
    name = "index_copy_" if kind == 1 else "index_add_"
    return emit_inplace(b, f"{{0}}.{name}({dim}, m.tensor({index}), {{1}})", [t, source])


def _fits(shape: tuple[int, ...], into: tuple[int, ...]) -> bool:
    try:
        return torch.broadcast_shapes(shape, into) == torch.Size(into)
    except RuntimeError:
        return False


INPLACE: list[Op] = [arithmetic, unary, overwrite, setitem, scatter_into, index_writes]
