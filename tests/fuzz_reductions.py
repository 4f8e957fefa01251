"""The views, reductions, products, statistics and writes by position of the gradient fuzzer,
each as a builder ``op(builder) -> bool`` (see fuzz_ops.py); fuzz_movement.py puts them in its
tables.

- parts of a value (narrow, select, unbind, diagonal, take) and moved or added axes (movedim,
  swapaxes, unflatten, broadcast_to, broadcast_tensors, atleast_*d, meshgrid), the stacks
  (hstack, vstack, dstack, column_stack);
- prod (leaf values are hundredths, so exact zeros reach it often), trace, kron, tensordot,
  cross, var_mean and std_mean, diff with prepended and appended values;
- inv, det and solve of matrices kept far from singular (0.1·x + 3·I);
- index_add, index_copy (distinct positions: with repeats the write that wins is unspecified),
  index_fill and masked_scatter, out of place;
- kinked: amax and amin (ties share the gradient), cummax and cummin, median and mode (the
  element chosen changes where two values cross), cdist (no derivative at zero distance).
"""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from fuzz_graphs import GraphBuilder, Value
from fuzz_ops import Op, bool_tensor_source, choose, draw_dim, draw_dims, emitted, keepdim

# ---- parts and axes (views) ----------------------------------------------------------------------


def _with_axes(v: Value) -> bool:
    return v.ndim >= 1


def parts(b: GraphBuilder) -> bool:
    """narrow (negative starts, empty lengths), select, one piece of unbind, a diagonal of any
    offset and pair of dims, take at flat positions (negative and repeated)."""
    x = b.pick(_with_axes)
    if x is None:
        return False
    dim = draw_dim(b, x.ndim)
    n = x.shape[dim]
    options = []
    if n > 0:
        start = b.draw(st.integers(-n, n - 1))
        length = b.draw(st.integers(0, n - start % n))
        index = b.draw(st.integers(-n, n - 1))
        options += [f"{{0}}.narrow({dim}, {start}, {length})", f"m.narrow({{0}}, {dim}, 0, 1)"]
        options += [f"{{0}}.select({dim}, {index})", f"m.select({{0}}, {dim}, {index})"]
        options += [f"m.unbind({{0}}, {dim})[{index}]", f"{{0}}.unbind({dim})[0]"]
    if x.ndim >= 2:
        dim1, dim2 = b.draw(st.permutations(range(x.ndim)))[:2]
        offset = b.draw(st.integers(-3, 3))
        options += ["{0}.diagonal()", f"m.diagonal({{0}}, {offset}, {dim1}, {dim2})"]
        options += [f"{{0}}.diagonal(offset={offset}, dim1={dim1 - x.ndim}, dim2={dim2})"]
    if x.numel > 0:
        count = x.numel
        flat = b.draw(st.lists(st.integers(-count, count - 1), min_size=1, max_size=5))
        options += [f"m.take({{0}}, m.tensor({flat}))", f"{{0}}.take(m.tensor({flat[0]}))"]
    if not options:
        return False
    return emitted(b, choose(b, options), [x])


def moved_axes(b: GraphBuilder) -> bool:
    """movedim/moveaxis (ints and tuples), swapaxes/swapdims, unflatten (with -1),
    broadcast_to, broadcast_tensors against another value, atleast_1d/2d/3d."""
    x = b.pick()
    options = ["m.atleast_1d({0})", "m.atleast_2d({0})", "m.atleast_3d({0})"]
    shape = tuple(b.draw(st.sampled_from([1, 2])) for _ in range(b.draw(st.integers(0, 1))))
    options += [f"m.broadcast_to({{0}}, {shape + tuple(x.shape)!r})"]
    if x.ndim >= 1:
        source = b.draw(st.lists(st.integers(0, x.ndim - 1), min_size=1, unique=True))
        target = b.draw(st.permutations(range(x.ndim)))[: len(source)]
        dim0, dim1 = draw_dim(b, x.ndim), draw_dim(b, x.ndim)
        options += [f"m.movedim({{0}}, {tuple(source)!r}, {tuple(target)!r})"]
        options += [f"{{0}}.moveaxis({source[0]}, {target[0] - x.ndim})"]
        options += [f"m.swapaxes({{0}}, {dim0}, {dim1})", f"{{0}}.swapdims({dim0}, {dim1})"]
        dim = draw_dim(b, x.ndim)
        n = x.shape[dim]
        if n > 0:
            first = b.draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
            options += [f"{{0}}.unflatten({dim}, ({first}, -1))"]
            options += [f"m.unflatten({{0}}, {dim}, [1, {n}])"]
    if b.draw(st.booleans()):
        y = b.partner(x)
        template = choose(
            b, ["m.broadcast_tensors({0}, {1})[0]", "m.broadcast_tensors({1}, {0})[1]"]
        )
        return emitted(b, template, [x, y])
    return emitted(b, choose(b, options), [x])


def grids(b: GraphBuilder) -> bool:
    """meshgrid of 1 to 3 vectors (0-d values too), 'ij' and 'xy', one grid of the result."""
    vectors = [b.pick(lambda v: v.ndim <= 1 and v.numel <= 6)]
    if vectors[0] is None:
        return False
    for _ in range(b.draw(st.integers(0, 2))):
        vectors.append(b.leaf((b.draw(st.integers(0, 3)),)))
    names = ", ".join(f"{{{i}}}" for i in range(len(vectors)))
    which = b.draw(st.integers(0, len(vectors) - 1))
    indexing = choose(b, ["ij", "xy"])
    template = choose(
        b,
        [f"m.meshgrid({names}, indexing={indexing!r})[{which}]"]
        + [f"m.meshgrid([{names}], indexing={indexing!r})[{which}]"],
    )
    return emitted(b, template, vectors)


def stacks(b: GraphBuilder) -> bool:
    """hstack, vstack/row_stack, dstack and column_stack of a value with 1 or 2 others whose
    shapes fit (the value itself among them at times)."""
    x = b.pick(lambda v: v.ndim <= 3)
    if x is None:
        return False
    name = choose(b, ["hstack", "vstack", "row_stack", "dstack", "column_stack"])
    pieces = [x, b.operand_like(x, x.shape)]
    if b.draw(st.booleans()):
        pieces.append(b.operand_like(x, x.shape))
    names = ", ".join(f"{{{i}}}" for i in range(len(pieces)))
    return emitted(b, choose(b, [f"m.{name}([{names}])", f"m.{name}(({names}))"]), pieces)


# ---- products and moments ------------------------------------------------------------------------


def products(b: GraphBuilder) -> bool:
    """prod over everything or a dim (zeros included), trace, kron with another value,
    tensordot over 0 to 2 paired dims, cross of 3-vectors along a dim."""
    x = b.pick()
    dim = draw_dim(b, x.ndim)
    options = [
        "{0}.prod()",
        f"m.prod({{0}}, {dim}{keepdim(b)})",
        f"{{0}}.prod({dim}, dtype=m.float64)",
    ]
    if x.ndim == 2:
        options.append("m.trace({0})")
    kind = b.draw(st.integers(0, 3))
    if kind == 1 and x.numel <= 12:
        y = b.leaf(tuple(b.draw(st.integers(1, 2)) for _ in range(b.draw(st.integers(0, 2)))))
        # PyTorch's kron keeps views of its inputs that it does not watch for in-place changes:
        # the clones keep a later change of x or y from reaching its gradient.
        template = choose(b, ["m.kron({0}.clone(), {1}.clone())", "{1}.clone().kron({0} * 1)"])
        return emitted(b, template, [x, y])
    if kind == 2 and x.ndim >= 1:
        count = b.draw(st.integers(0, min(2, x.ndim)))
        tail = x.shape[x.ndim - count :]
        y = b.operand_like(x, tail + tuple(b.draw(st.lists(st.integers(1, 2), max_size=1))))
        return emitted(b, f"m.tensordot({{0}}, {{1}}, {count})", [x, y])
    if kind == 3 and 3 in x.shape:
        axis = x.shape.index(3)
        y = b.partner(x, to_shape=True)
        if len(y.shape) != x.ndim or _cancelling_cross(b.tensor(x), b.tensor(y), axis):
            return False
        options = [
            f"m.cross({{0}}, {{1}}, dim={axis})",
            f"m.linalg.cross({{1}}, {{0}}, dim={axis})",
        ]
        return emitted(b, choose(b, options), [x, y])
    return emitted(b, choose(b, options), [x])


def _cancelling_cross(x: torch.Tensor, y: torch.Tensor, axis: int) -> bool:
    """Whether a component of x × y is a difference of two equal nonzero products (x and y
    parallel there, y = x among them): PyTorch's CPU cross fuses one product into the
    subtraction and leaves that product's rounding error (−2.6e-18 for x × x in float64),
    where chainrule's difference is exactly 0, and a mask or a running maximum downstream then
    tells the two apart."""
    x, y = torch.broadcast_tensors(x.detach().double(), y.detach().double())
    first = x.roll(-1, axis) * y.roll(-2, axis)
    second = x.roll(-2, axis) * y.roll(-1, axis)
    size = first.abs() + second.abs()
    return bool(((first - second).abs() <= 1e-9 * size).logical_and(size > 0).any())


def moments(b: GraphBuilder) -> bool:
    """var_mean and std_mean (one of the pair, or their sum) over dims, with a correction;
    diff of order 1 or 2 along a dim, with values prepended or appended."""
    x = b.pick()
    if b.draw(st.booleans()) or x.ndim == 0:
        name = choose(b, ["var_mean", "std_mean"])
        dims = draw_dims(b, x.ndim)
        correction = choose(b, ["", ", correction=0", ", correction=2"])
        pick = choose(b, ["[0]", "[1]", "[0] + 0"])
        variances = b.tensor(x).detach().var(dim=dims, correction=0)
        if name == "std_mean" and variances.numel() and float(variances.min()) < 1e-4:
            return False  # √ at 0: both libraries give inf or nan gradients
        return emitted(b, f"m.{name}({{0}}, {dims!r}{keepdim(b)}{correction}){pick}", [x])
    dim = draw_dim(b, x.ndim)
    n = b.draw(st.integers(1, 2))
    axis = dim % x.ndim
    options = [f"m.diff({{0}}, {n}, {dim})", f"{{0}}.diff(dim={dim})"]
    if b.draw(st.booleans()):
        extra = b.leaf(x.shape[:axis] + (b.draw(st.integers(1, 2)),) + x.shape[axis + 1 :])
        template = choose(
            b, [f"m.diff({{0}}, 1, {dim}, {{1}})", f"{{0}}.diff(dim={dim}, append={{1}})"]
        )
        return emitted(b, template, [x, extra])
    return emitted(b, choose(b, options), [x])


def square_matrices(b: GraphBuilder) -> bool:
    """inv, det and solve (B a matrix or a vector, A on either side) of 0.1·A + 3·I, far from
    singular whatever the values, so both libraries agree to rounding."""
    a = b.pick(lambda v: v.ndim >= 2 and v.shape[-1] == v.shape[-2] and v.numel > 0)
    if a is None:
        n = b.draw(st.integers(1, 3))
        a = b.leaf(tuple(b.draw(st.lists(st.integers(1, 2), max_size=1))) + (n, n))
    n = a.shape[-1]
    safe = f"({{0}} * 0.1 + 3 * m.eye({n}, dtype=m.float64))"
    options = [f"m.linalg.inv{safe}", f"{safe}.inverse()", f"m.det{safe}", f"m.linalg.det{safe}"]
    if b.draw(st.booleans()):
        rhs = b.leaf(a.shape[:-1] if b.draw(st.booleans()) else (n, b.draw(st.integers(1, 2))))
        left = choose(b, ["", ", left=False"])
        if left and len(b.tensor(rhs).shape) >= 2:
            rhs = b.leaf((b.draw(st.integers(1, 2)), n))
        return emitted(b, f"m.linalg.solve({safe}, {{1}}{left})", [a, rhs])
    return emitted(b, choose(b, options), [a])


def position_writes(b: GraphBuilder) -> bool:
    """index_add (repeats add up), index_copy (distinct positions), index_fill (a number or a
    0-d value) and masked_scatter with a constant mask, out of place."""
    x = b.pick(lambda v: v.ndim >= 1 and v.numel > 0)
    if x is None:
        return False
    dim = draw_dim(b, x.ndim)
    axis = dim % x.ndim
    n = x.shape[axis]
    kind = b.draw(st.integers(0, 3))
    if kind == 3:
        flags = b.draw(st.lists(st.booleans(), min_size=x.numel, max_size=x.numel))
        source = b.leaf((b.draw(st.integers(sum(flags), sum(flags) + 2)),))
        mask = bool_tensor_source(flags, x.shape)
        return emitted(b, f"m.masked_scatter({{0}}, {mask}, {{1}})", [x, source])
    if kind == 2:
        # Negative positions only with a number: PyTorch 2.13's backward to a tensor value
        # fails on them ("index out of range").
        index = b.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
        negative = [i - n for i in index]
        options = [f"{{0}}.index_fill({dim}, m.tensor({negative}), -0.5)"]
        value = b.leaf(())
        template = choose(b, [*options, f"m.index_fill({{0}}, {dim}, m.tensor({index}), {{1}})"])
        return emitted(b, template, [x, value] if "{1}" in template else [x])
    if kind == 1:
        index = b.draw(st.permutations(range(n)))[: b.draw(st.integers(1, n))]
    else:
        index = b.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
    source = b.leaf(x.shape[:axis] + (len(index),) + x.shape[axis + 1 :])
    name = "index_copy" if kind == 1 else "index_add"
    alpha = ", alpha=-2" if kind == 0 and b.draw(st.booleans()) else ""
    options = [f"m.{name}({{0}}, {dim}, m.tensor({index}), {{1}}{alpha})"]
    options += [f"{{0}}.{name}({dim}, m.tensor({index}), {{1}}{alpha})"]
    return emitted(b, choose(b, options), [x, source])


# ---- kinked: extremes, order statistics, distances -----------------------------------------------


def _gap_between_values(t: torch.Tensor, axis: int | None) -> float:
    """The smallest gap between two values along ``axis`` (all values for None): how far an
    extreme, a median or a mode is from changing its element."""
    t = t.detach()
    t = t.reshape(-1) if axis is None or t.ndim == 0 else t.movedim(axis, -1)
    if t.numel() == 0 or t.shape[-1] < 2:
        return math.inf
    return float(t.sort(dim=-1).values.diff(dim=-1).min())


def order_statistics(b: GraphBuilder) -> bool:
    """amax/amin over dims, cummax/cummin, median (whole or along a dim), nanmedian and mode."""
    x = b.pick(lambda v: v.numel > 0)
    if x is None:
        return False
    t = b.tensor(x)
    dim = draw_dim(b, x.ndim)
    axis = dim % max(x.ndim, 1) if x.ndim else None
    kind = b.draw(st.integers(0, 3))
    if kind == 0:
        dims = draw_dims(b, x.ndim)
        name = choose(b, ["amax", "amin"])
        template = choose(b, [f"{{0}}.{name}({dims!r}{keepdim(b)})", f"m.{name}({{0}})"])
        gap = _gap_between_values(t, None) if "m." in template else _ties_gap(t, dims)
        return emitted(b, template, [x], gap)
    gap = _gap_between_values(t, None if kind == 3 else axis)
    if kind == 1:
        name = choose(b, ["cummax", "cummin"])
        options = [f"m.{name}({{0}}, {dim}).values", f"{{0}}.{name}({dim})[0]"]
    elif kind == 2:
        # Among tied values PyTorch's median may return any index (and send it the gradient):
        # only the mode, whose index is the last occurrence, is drawn over ties.
        options = [f"m.mode({{0}}, {dim}).values", f"{{0}}.mode({dim}{keepdim(b)})[0]"]
        if gap > 0:
            options += [f"{{0}}.median({dim}{keepdim(b)}).values", f"m.nanmedian({{0}}, {dim})[0]"]
    else:
        options = ["{0}.median()", "m.nanmedian({0})"]
    return emitted(b, choose(b, options), [x], gap)


def _ties_gap(t: torch.Tensor, dims: int | tuple[int, ...]) -> float:
    axes = dims if isinstance(dims, tuple) else (dims,)
    t = t.detach()
    if t.ndim == 0:
        return math.inf
    axes = tuple(a % t.ndim for a in axes)
    moved = t.movedim(axes, tuple(range(-len(axes), 0)))
    flat = moved.reshape(*moved.shape[: moved.ndim - len(axes)], -1)
    return _gap_between_values(flat, flat.ndim - 1)


def distances(b: GraphBuilder) -> bool:
    """cdist (p = 2, 1, 3, ∞) between the rows of a value and those of another with as many
    columns, batch dimensions broadcast; kinked at zero distance (and at ties for ∞)."""
    x = b.pick(lambda v: v.ndim >= 2 and v.numel > 0)
    if x is None:
        return False
    rows = b.draw(st.integers(1, 3))
    y = b.operand_like(x, (rows, x.shape[-1]))
    p = choose(b, ["2.0", "1.0", "3.0", "float('inf')"])
    tx, ty = b.tensor(x).detach(), b.tensor(y).detach()
    diff = tx[..., :, None, :] - ty[..., None, :, :]
    gap = float(diff.abs().min()) if diff.numel() else math.inf  # |d| = 0: a kink for p ≤ 2
    if "inf" in p:
        gap = min(gap, _gap_between_values(diff.abs(), diff.ndim - 1))
    return emitted(
        b, choose(b, [f"m.cdist({{0}}, {{1}}, p={p})", f"m.cdist({{1}}, {{0}}, {p})"]), [x, y], gap
    )


REDUCTIONS: list[Op] = [
    parts,
    moved_axes,
    grids,
    stacks,
    products,
    moments,
    square_matrices,
    position_writes,
]
KINKED_REDUCTIONS: list[Op] = [order_statistics, distances]
