"""The movement operations of the gradient fuzzer: indexing, reshaping, permuting, expanding,
joining and splitting, repeating, rolling and flipping, each as a builder ``op(builder) -> bool``
(see fuzz_ops.py).

Indexing covers ints (negative too), slices with steps and negative bounds, None and Ellipsis,
integer lists and tensors (repeats and negative entries), paired and mixed advanced indices,
constant boolean masks, and masks computed from the indexed values themselves (kinked: the
selection changes where a value crosses the threshold).
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from fuzz_graphs import GraphBuilder
from fuzz_indexing import INDEXING, KINKED_INDEXING
from fuzz_ops import Op, bool_tensor_source, choose, distance, draw_dim, emitted
from fuzz_reductions import KINKED_REDUCTIONS, REDUCTIONS

# ---- indexing ------------------------------------------------------------------------------------


def slice_source(b: GraphBuilder, n: int) -> str:
    """A slice for an axis of length n: bounds may be negative or out of range, step 1 to 3."""
    bound = st.none() | st.integers(-n - 1, n + 1)
    start, stop = b.draw(bound), b.draw(bound)
    step = b.draw(st.sampled_from([None, 1, 2, 3]))
    text = f"{'' if start is None else start}:{'' if stop is None else stop}"
    return text if step is None else f"{text}:{step}"


def basic_index(b: GraphBuilder) -> bool:
    """Ints, slices, None and Ellipsis: a view of the value in both libraries."""
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    count = b.draw(st.integers(1, x.ndim))
    ellipsis = count < x.ndim and b.draw(st.booleans())
    axes = x.shape[x.ndim - count :] if ellipsis else x.shape[:count]
    parts = []
    for n in axes:
        kind = b.draw(st.integers(0, 2))
        if kind == 0 and n > 0:
            parts.append(str(b.draw(st.integers(-n, n - 1))))
        elif kind == 1:
            parts.append(slice_source(b, n))
        else:
            parts.append(":")
    if ellipsis:
        parts.insert(0, "...")
    if b.draw(st.integers(0, 3)) == 0:
        parts.insert(b.draw(st.integers(0, len(parts))), "None")
    return emitted(b, "{0}[" + ", ".join(parts) + "]", [x])


def index_list(b: GraphBuilder, n: int, *, size: int | None = None) -> list[int]:
    """Indices into an axis of length n > 0, repeats and negative indices included."""
    lengths = st.integers(1, 4) if size is None else st.just(size)
    length = b.draw(lengths)
    return b.draw(st.lists(st.integers(-n, n - 1), min_size=length, max_size=length))


def array_index(b: GraphBuilder) -> bool:
    """Integer lists and tensors on one axis, two paired axes, or mixed with slices."""
    x = b.pick(lambda v: v.ndim >= 1 and min(v.shape) > 0)
    if x is None:
        return False
    form = b.draw(st.integers(0, 4))
    first = index_list(b, x.shape[0])
    if form == 0:
        options = [f"{{0}}[{first}]", f"{{0}}[m.tensor({first})]", f"{{0}}[m.tensor({first[0]})]"]
        template = choose(b, options)
    elif form == 1:  # on the last axis, or the second
        last = index_list(b, x.shape[-1])
        options = [f"{{0}}[..., {last}]"]
        if x.ndim >= 2:
            options.append(f"{{0}}[:, m.tensor({index_list(b, x.shape[1])})]")
        template = choose(b, options)
    elif form == 2:  # a 2-D index tensor: the result gains an axis
        rows = [index_list(b, x.shape[0], size=len(first)) for _ in range(2)]
        template = f"{{0}}[m.tensor({rows})]"
    elif form == 3 and x.ndim >= 2:  # two paired index lists
        second = index_list(b, x.shape[1], size=len(first))
        template = f"{{0}}[{first}, {second}]"
    elif form == 4 and x.ndim >= 2:  # advanced and basic together
        second = index_list(b, x.shape[1])
        options = [f"{{0}}[1:, {second}]", f"{{0}}[{first}, ::2]", f"{{0}}[-1, {second}]"]
        if x.ndim >= 3:
            third = index_list(b, x.shape[2], size=len(first))
            options.append(f"{{0}}[{first}, :, {third}]")
        template = choose(b, options)
    else:
        return False
    return emitted(b, template, [x])


def mask_index(b: GraphBuilder) -> bool:
    """A constant boolean mask over the leading axes (a tensor or a list of bools)."""
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    count = b.draw(st.integers(1, x.ndim))
    shape = x.shape[:count]
    size = math.prod(shape)
    flags = b.draw(st.lists(st.booleans(), min_size=size, max_size=size))
    mask = bool_tensor_source(flags, shape)
    options = [f"{{0}}[{mask}]"]
    if count == 1:
        options.append(f"{{0}}[{flags!r}]" if flags else f"{{0}}[{mask}]")
        if x.ndim >= 2:
            options.append(f"{{0}}[{mask}, 1:]")
    return emitted(b, choose(b, options), [x])


def value_mask_index(b: GraphBuilder) -> bool:
    """``x[x > t]`` and ``x[y < t]``: the selection depends on values (a kink at t)."""
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    threshold = b.draw(st.sampled_from([0.0, 0.3, -0.5]))
    if b.draw(st.booleans()):
        return emitted(b, f"{{0}}[{{0}} > {threshold}]", [x], distance(b.tensor(x), threshold))
    y = b.operand_like(x, x.shape)
    return emitted(b, f"{{0}}[{{1}} < {threshold}]", [x, y], distance(b.tensor(y), threshold))


# ---- shapes --------------------------------------------------------------------------------------


def factor_shape(b: GraphBuilder, numel: int) -> tuple[int, ...]:
    """A random shape with ``numel`` elements (up to 4 axes, size-1 axes included)."""
    if numel == 0:
        shape = [0, *b.draw(st.lists(st.integers(1, 3), max_size=2))]
        return tuple(b.draw(st.permutations(shape)))
    factors, n, p = [], numel, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    axes = b.draw(st.integers(1 if factors else 0, 4))
    shape = [1] * axes
    for f in factors:
        shape[b.draw(st.integers(0, axes - 1))] *= f
    return tuple(shape)


def reshape(b: GraphBuilder) -> bool:
    """reshape/view to a random shape (one axis -1 at times), flatten over a range of axes."""
    x = b.pick()
    shape = list(factor_shape(b, x.numel))
    if shape and x.numel > 0 and b.draw(st.booleans()):
        shape[b.draw(st.integers(0, len(shape) - 1))] = -1
    args = ", ".join(map(str, shape))
    options = [f"{{0}}.reshape({args})", f"{{0}}.reshape({tuple(shape)!r})"]
    options += [f"m.reshape({{0}}, {tuple(shape)!r})", f"{{0}}.view({tuple(shape)!r})"]
    if x.ndim >= 1:
        start, end = sorted(b.draw(st.integers(-x.ndim, x.ndim - 1)) % x.ndim for _ in range(2))
        options += ["{0}.flatten()", f"{{0}}.flatten({start}, {end})", f"m.flatten({{0}}, {start})"]
    return emitted(b, choose(b, options), [x])


def permute(b: GraphBuilder) -> bool:
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    order = b.draw(st.permutations(range(x.ndim)))
    if b.draw(st.booleans()):
        order = [d - x.ndim for d in order]
    dim0, dim1 = draw_dim(b, x.ndim), draw_dim(b, x.ndim)
    args = ", ".join(map(str, order))
    options = [f"{{0}}.permute({args})", f"m.permute({{0}}, {tuple(order)!r})"]
    options += [f"{{0}}.transpose({dim0}, {dim1})", f"m.transpose({{0}}, {dim0}, {dim1})"]
    options += ["{0}.t()"] if x.ndim <= 2 else []
    options += ["{0}.T"] if x.ndim == 2 else []
    options += ["{0}.mT"] if x.ndim >= 2 else []
    return emitted(b, choose(b, options), [x])


def expand(b: GraphBuilder) -> bool:
    """expand to larger sizes along size-1 axes and new leading axes (-1 keeps a size)."""
    x = b.pick()
    sizes = []
    for n in x.shape:
        sizes.append(b.draw(st.sampled_from([-1, 1, 2, 3] if n == 1 else [-1, n])))
    lead = b.draw(st.lists(st.integers(1, 3), max_size=2))
    sizes = lead + sizes
    target = tuple(lead) + tuple(n if s == -1 else s for n, s in zip(x.shape, sizes[len(lead) :]))
    if b.draw(st.integers(0, 3)) == 0:
        other = b.leaf(target, requires_grad=False)
        return emitted(b, "{0}.expand_as({1})", [x, other])
    args = ", ".join(map(str, sizes))
    return emitted(b, choose(b, [f"{{0}}.expand({args})", f"{{0}}.expand({tuple(sizes)!r})"]), [x])


def squeeze(b: GraphBuilder) -> bool:
    x = b.pick()
    dim = draw_dim(b, x.ndim)
    new = b.draw(st.integers(-x.ndim - 1, x.ndim))
    options = ["{0}.squeeze()", f"{{0}}.unsqueeze({new})", f"m.unsqueeze({{0}}, {new})"]
    if x.ndim >= 1:
        options += [f"{{0}}.squeeze({dim})", f"m.squeeze({{0}}, {dim})"]
    if x.ndim >= 2:
        options.append(f"{{0}}.squeeze((0, {dim}))")
    return emitted(b, choose(b, options), [x])


# ---- joining and splitting -----------------------------------------------------------------------


def concatenate(b: GraphBuilder) -> bool:
    """cat of 2 or 3 pieces that differ along dim (sizes 0 to 3), the same tensor repeated."""
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    dim = draw_dim(b, x.ndim)
    axis = dim % x.ndim
    pieces = [x]
    for _ in range(b.draw(st.integers(1, 2))):
        size = b.draw(st.integers(0, 3))
        shape = x.shape[:axis] + (size,) + x.shape[axis + 1 :]
        pieces.insert(b.draw(st.integers(0, len(pieces))), b.operand_like(x, shape))
    names = ", ".join(f"{{{i}}}" for i in range(len(pieces)))
    options = [f"m.cat([{names}], dim={dim})", f"m.cat(({names}), {dim})"]
    options.append(f"m.concat([{names}], dim={dim})")
    return emitted(b, choose(b, options), pieces)


def stack(b: GraphBuilder) -> bool:
    x = b.pick()
    pieces = [x]
    for _ in range(b.draw(st.integers(1, 2))):
        pieces.insert(b.draw(st.integers(0, len(pieces))), b.operand_like(x, x.shape))
    dim = b.draw(st.integers(-x.ndim - 1, x.ndim))
    names = ", ".join(f"{{{i}}}" for i in range(len(pieces)))
    return emitted(
        b, choose(b, [f"m.stack([{names}], dim={dim})", f"m.stack(({names}), {dim})"]), pieces
    )


def split(b: GraphBuilder) -> bool:
    """split by a size or a list of sizes (zeros included), chunk into n pieces: every piece
    becomes a value of its own."""
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    dim = draw_dim(b, x.ndim)
    length = x.shape[dim]
    kind = b.draw(st.integers(0, 2))
    if kind == 0:
        size = b.draw(st.integers(1, max(1, length)))
        template = choose(b, [f"{{0}}.split({size}, {dim})", f"m.split({{0}}, {size}, dim={dim})"])
        pieces = _pieces(lambda: b.tensor(x).split(size, dim))
    elif kind == 1:
        cuts = sorted(b.draw(st.lists(st.integers(0, length), max_size=3)))
        sizes = [hi - lo for lo, hi in zip([0, *cuts], [*cuts, length])]
        template = choose(
            b, [f"{{0}}.split({sizes}, dim={dim})", f"m.split({{0}}, {sizes}, {dim})"]
        )
        pieces = len(sizes)
    else:
        chunks = b.draw(st.integers(1, 4))
        template = choose(
            b, [f"{{0}}.chunk({chunks}, {dim})", f"m.chunk({{0}}, {chunks}, dim={dim})"]
        )
        pieces = _pieces(lambda: b.tensor(x).chunk(chunks, dim))
    if pieces is None:
        return False
    return b.emit(template, [x], outputs=pieces, unpack=True) is not None


def _pieces(cut: Any) -> int | None:
    """How many pieces ``cut()`` makes; None where PyTorch refuses to cut (a piece of an
    earlier split whose base changed in place)."""
    try:
        return len(cut())
    except RuntimeError:
        return None


# ---- repeating, rolling, flipping ----------------------------------------------------------------


def repeat(b: GraphBuilder) -> bool:
    """repeat and tile (counts 0 to 2, new leading axes), repeat_interleave by an int or by a
    tensor of counts (zeros included), along a dim or flattened."""
    x = b.pick()
    form = b.draw(st.integers(0, 2))
    if form < 2:
        low = x.ndim if form == 0 else 0
        counts = b.draw(st.lists(st.integers(0, 2), min_size=max(low, 1), max_size=x.ndim + 1))
        args = ", ".join(map(str, counts))
        if form == 0:
            options = [f"{{0}}.repeat({args})", f"{{0}}.repeat({tuple(counts)!r})"]
        else:
            options = [f"{{0}}.tile({args})", f"m.tile({{0}}, {tuple(counts)!r})"]
        return emitted(b, choose(b, options), [x])
    k = b.draw(st.integers(0, 3))
    if x.ndim == 0 or b.draw(st.integers(0, 3)) == 0:  # flattened
        return emitted(b, f"m.repeat_interleave({{0}}, {k})", [x])
    dim = draw_dim(b, x.ndim)
    n = x.shape[dim]
    options = [f"{{0}}.repeat_interleave({k}, {dim})", f"m.repeat_interleave({{0}}, {k}, {dim})"]
    if n > 0:
        counts = b.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
        options.append(f"{{0}}.repeat_interleave(m.tensor({counts}), dim={dim})")
    return emitted(b, choose(b, options), [x])


def roll_flip(b: GraphBuilder) -> bool:
    """roll (flattened, one dim, several dims, a dim twice) and flip, fliplr, flipud."""
    x = b.pick()
    shift = b.draw(st.integers(-4, 4))
    options = [f"m.roll({{0}}, {shift})", f"{{0}}.roll({shift})", "m.flip({0}, ())"]
    if x.ndim >= 1:
        dims = b.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1, max_size=3))
        shifts = b.draw(st.lists(st.integers(-4, 4), min_size=len(dims), max_size=len(dims)))
        options += [f"m.roll({{0}}, {tuple(shifts)!r}, {tuple(dims)!r})"]
        options += [f"{{0}}.roll({shift}, {dims[0]})", "m.flipud({0})"]
        flips = b.draw(
            st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1, unique_by=lambda d: d % x.ndim)
        )
        options += [f"m.flip({{0}}, {flips!r})", f"{{0}}.flip({', '.join(map(str, flips))})"]
    if x.ndim >= 2:
        options += ["m.fliplr({0})", "{0}.fliplr()"]
    return emitted(b, choose(b, options), [x])


MOVEMENT: list[Op] = [
    basic_index,
    array_index,
    mask_index,
    reshape,
    permute,
    expand,
    squeeze,
    concatenate,
    stack,
    split,
    repeat,
    roll_flip,
    *INDEXING,  # gather, scatter, masks, running totals (fuzz_indexing.py)
    *REDUCTIONS,  # views, stacks, products, moments, writes by position (fuzz_reductions.py)
]
KINKED_MOVEMENT: list[Op] = [value_mask_index, *KINKED_INDEXING, *KINKED_REDUCTIONS]
