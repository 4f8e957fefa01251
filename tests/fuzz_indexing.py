"""The index-tensor, ordering and running-total operations of the gradient fuzzer, each as a
builder ``op(builder) -> bool`` (see fuzz_ops.py); fuzz_movement.py puts them in its tables.

- gather and index_select with random positions (repeats included), along any dim, the
  index smaller than the value along the other axes;
- scatter of a tensor (distinct positions: with repeats, which write wins is unspecified) or
  of a number (repeats allowed), and scatter_add (repeats accumulate);
- masked_fill (a number, or a 0-d value that may require grad) and masked_select, with
  constant masks that broadcast either way, or masks computed from values (kinked);
- sort, topk and kthvalue (kinked where two values along dim come close: the order swaps);
- cumsum and cumprod (leaf values are hundredths, so exact zeros reach cumprod often).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import strategies as st

from fuzz_graphs import GraphBuilder, Value, partner_shapes
from fuzz_ops import Op, bool_tensor_source, choose, distance, draw_dim, emitted


def position_index(
    b: GraphBuilder, shape: tuple[int, ...], axis: int, *, distinct: bool = False
) -> tuple[str, tuple[int, ...]]:
    """The source of an int64 index for gather or scatter on a value of ``shape`` along
    ``axis``, and its shape: 1 to 3 positions along ``axis`` (at most the length there if
    ``distinct``, each fiber then naming a place once), no more than ``shape`` elsewhere."""
    length = shape[axis]
    along = b.draw(st.integers(1, min(3, length) if distinct else 3))
    index_shape = tuple(
        along if a == axis else b.draw(st.integers(1, n)) for a, n in enumerate(shape)
    )
    if distinct:
        fibers = math.prod(index_shape) // along
        rows = [b.draw(st.permutations(range(length)))[:along] for _ in range(fibers)]
        moved = [n for a, n in enumerate(index_shape) if a != axis] + [along]
        index = np.moveaxis(np.array(rows).reshape(moved), -1, axis)
    else:
        size = math.prod(index_shape)
        entries = b.draw(st.lists(st.integers(0, length - 1), min_size=size, max_size=size))
        index = np.array(entries).reshape(index_shape)
    return f"m.tensor({index.tolist()!r})", index_shape


def _indexable(v: Value) -> bool:
    return v.ndim >= 1 and v.numel > 0


# ---- gather, index_select, scatter -------------------------------------------------------------


def gather(b: GraphBuilder) -> bool:
    """gather along a random dim, or index_select of a list of positions (repeats included)."""
    x = b.pick(_indexable)
    if x is None:
        return False
    dim = draw_dim(b, x.ndim)
    axis = dim % x.ndim
    if b.draw(st.booleans()):
        index, _ = position_index(b, x.shape, axis)
        template = choose(b, [f"{{0}}.gather({dim}, {index})", f"m.gather({{0}}, {dim}, {index})"])
        return emitted(b, template, [x])
    size = b.draw(st.integers(0, 4))
    entries = b.draw(st.lists(st.integers(0, x.shape[axis] - 1), min_size=size, max_size=size))
    index = f"m.tensor({entries})" if entries else "m.zeros(0, dtype=m.int64)"
    options = [f"{{0}}.index_select({dim}, {index})", f"m.index_select({{0}}, {dim}, {index})"]
    return emitted(b, choose(b, options), [x])


def scatter(b: GraphBuilder) -> bool:
    """scatter of a tensor to distinct places or of a number, and scatter_add (repeats sum)."""
    x = b.pick(_indexable)
    if x is None:
        return False
    dim = draw_dim(b, x.ndim)
    axis = dim % x.ndim
    kind = b.draw(st.integers(0, 2))
    index, index_shape = position_index(b, x.shape, axis, distinct=kind == 0)
    if kind == 1:
        options = [f"{{0}}.scatter({dim}, {index}, 0.5)", f"m.scatter({{0}}, {dim}, {index}, -1.5)"]
        options.append(f"{{0}}.scatter({dim}, {index}, value=2.0)")
        return emitted(b, choose(b, options), [x])
    src = b.operand_like(x, index_shape)
    name = "scatter" if kind == 0 else "scatter_add"
    options = [f"{{0}}.{name}({dim}, {index}, {{1}})", f"m.{name}({{0}}, {dim}, {index}, {{1}})"]
    return emitted(b, choose(b, options), [x, src])


# ---- masks -------------------------------------------------------------------------------------


def masked(b: GraphBuilder) -> bool:
    """masked_fill and masked_select with a constant mask that broadcasts with the value (and
    may be the larger of the two)."""
    x = b.pick()
    shape = b.draw(partner_shapes(x.shape, grow=b.draw(st.booleans())))
    size = math.prod(shape)
    flags = b.draw(st.lists(st.booleans(), min_size=size, max_size=size))
    mask = bool_tensor_source(flags, shape)
    kind = b.draw(st.integers(0, 2))
    if kind == 0:
        options = [f"{{0}}.masked_fill({mask}, 0.5)", f"m.masked_fill({{0}}, {mask}, -2)"]
        return emitted(b, choose(b, options), [x])
    if kind == 1:  # a 0-d value: its gradient is the sum over the filled places
        value = b.operand_like(x, ())
        return emitted(b, f"{{0}}.masked_fill({mask}, {{1}})", [x, value])
    options = [f"{{0}}.masked_select({mask})", f"m.masked_select({{0}}, {mask})"]
    return emitted(b, choose(b, options), [x])


def value_masked(b: GraphBuilder) -> bool:
    """``x.masked_fill(x > t, v)`` and ``x.masked_select(y < t)``: kinked at t."""
    x = b.pick()
    threshold = b.draw(st.sampled_from([0.0, 0.3, -0.5]))
    if b.draw(st.booleans()):
        gap = distance(b.tensor(x), threshold)
        return emitted(b, f"{{0}}.masked_fill({{0}} > {threshold}, 0.25)", [x], gap)
    y = b.operand_like(x, x.shape)
    gap = distance(b.tensor(y), threshold)
    return emitted(b, f"{{0}}.masked_select({{1}} < {threshold})", [x, y], gap)


# ---- ordering ----------------------------------------------------------------------------------


def order_gap(t: torch.Tensor, axis: int) -> float:
    """The smallest gap between two values along ``axis``: how far the order is from changing
    (inf with fewer than two values there)."""
    t = t.detach()
    if t.numel() == 0 or t.shape[axis] < 2:
        return math.inf
    ordered = t.sort(dim=axis).values
    return float(ordered.diff(dim=axis).min())


def ordering(b: GraphBuilder) -> bool:
    """sort (stable, so that ties match PyTorch), topk and kthvalue along a random dim. Ties
    make topk's and kthvalue's indices unspecified in PyTorch: those draw again."""
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    dim = draw_dim(b, x.ndim)
    length = x.shape[dim % x.ndim]
    gap = order_gap(b.tensor(x), dim % x.ndim)
    kind = b.draw(st.integers(0, 2))
    if kind == 0:
        options = [f"{{0}}.sort(dim={dim}, stable=True).values", f"m.sort({{0}}, {dim})[0]"]
        options += [f"m.sort({{0}}, dim={dim}, descending=True, stable=True).values"]
        template = choose(b, options)
        if "stable" not in template and gap == 0:
            return False
        return emitted(b, template, [x], gap)
    if gap == 0:
        return False
    if kind == 1:
        k = b.draw(st.integers(0, length))
        options = [
            f"{{0}}.topk({k}, {dim}).values",
            f"m.topk({{0}}, {k}, dim={dim}, largest=False)[0]",
        ]
        options += [f"{{0}}.topk({k}, dim={dim}, sorted=True).values"]
        return emitted(b, choose(b, options), [x], gap)
    if length == 0:
        return False
    k = b.draw(st.integers(1, length))
    options = [f"{{0}}.kthvalue({k}, {dim}).values", f"m.kthvalue({{0}}, {k}, {dim}, True)[0]"]
    return emitted(b, choose(b, options), [x], gap)


# ---- running totals ----------------------------------------------------------------------------


def running(b: GraphBuilder) -> bool:
    """cumsum and cumprod along a random dim (0-d values included)."""
    x = b.pick()
    dim = draw_dim(b, x.ndim)
    options = [f"{{0}}.cumsum({dim})", f"m.cumsum({{0}}, dim={dim})", f"{{0}}.cumprod({dim})"]
    options += [f"m.cumprod({{0}}, {dim})", f"{{0}}.cumsum(dim={dim}, dtype=m.float64)"]
    return emitted(b, choose(b, options), [x])


INDEXING: list[Op] = [gather, scatter, masked, running]
KINKED_INDEXING: list[Op] = [value_masked, ordering]
