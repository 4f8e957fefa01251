"""Movement of traced values: indexing, reshaping, permuting, joining.

Each function first computes the real result with chainrule (which checks the arguments and
raises chainrule's own errors), then adds the ONNX nodes that compute the same. Shapes are
written so that a dimension the graph may vary (a dynamic batch) keeps varying: Reshape's 0
copies an input dimension, slices run to the end without naming it.
"""

from __future__ import annotations

from typing import Any

from chainrule.tensor import Tensor

# ONNX Slice clamps its bounds to the dimension, so these stand for "to the end".
_END = 2**63 - 1
_BEFORE_START = -(2**63)


def _shape_entries(shape: tuple) -> tuple:
    """``view(2, 3)`` and ``view((2, 3))`` alike, as a tuple of entries."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _axis(dim: int, ndim: int) -> int:
    return dim % ndim if ndim else 0


# ---- reshaping ---------------------------------------------------------------------------------


def reshape(x: Any, shape: tuple) -> Any:
    """x.view(*shape) / x.reshape(*shape): Reshape, keeping traced sizes dynamic."""
    entries = _shape_entries(shape)
    real = x.real.reshape(*entries)
    return x.tracer.wrap(reshape_to(x, entries), real)


def reshape_to(x: Any, entries: tuple) -> str:
    """The name of x reshaped to ``entries`` (ints, -1, or sizes traced from some value)."""
    tracer, graph = x.tracer, x.tracer.graph
    pieces: list[str] = []  # 1-D int64 names, concatenated when a size is traced elsewhere
    literal: list[int] = []
    for i, entry in enumerate(entries):
        source = getattr(entry, "source", None)
        if source == x.name and entry.axis == i:
            literal.append(0)  # Reshape's 0: this dimension of the input, whatever it is
        elif source is not None:
            if literal:
                pieces.append(graph.ints(literal))
                literal = []
            pieces.append(graph.add("Shape", [source], start=entry.axis, end=entry.axis + 1))
        else:
            if int(entry) == 0:
                raise tracer.refusal("reshapes to a dimension of size 0")
            literal.append(int(entry))
    if not pieces:
        target = graph.ints(literal)
    else:
        if literal:
            pieces.append(graph.ints(literal))
        target = graph.add("Concat", pieces, axis=0)
    return graph.add("Reshape", [x.name, target])


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """x.flatten(start_dim, end_dim): the leading dimensions copied, the merged one -1."""
    real = x.real.flatten(start_dim, end_dim)
    ndim = x.real.ndim
    if ndim == 0:
        return x.tracer.wrap(
            x.tracer.graph.add("Reshape", [x.name, x.tracer.graph.ints([1])]), real
        )
    start, end = _axis(start_dim, ndim), _axis(end_dim, ndim)
    if start == end:
        return x
    entries = [0] * start + [-1] + list(x.real.shape[end + 1 :])
    graph = x.tracer.graph
    return x.tracer.wrap(graph.add("Reshape", [x.name, graph.ints(entries)]), real)


def squeeze(x: Any, dim: Any = None) -> Any:
    """x.squeeze(dim): drops the named dimensions of size 1 (all of them without ``dim``)."""
    real = x.real.squeeze(dim)
    shape = x.real.shape
    if dim is None:
        axes = [i for i, n in enumerate(shape) if n == 1]
    else:
        wanted = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = sorted({_axis(d, len(shape)) for d in wanted if shape[_axis(d, len(shape))] == 1})
    if not axes:
        return x
    graph = x.tracer.graph
    return x.tracer.wrap(graph.add("Squeeze", [x.name, graph.ints(axes)]), real)


def unsqueeze(x: Any, dim: int) -> Any:
    """x.unsqueeze(dim): Unsqueeze."""
    real = x.real.unsqueeze(dim)
    graph = x.tracer.graph
    axis = _axis(dim, x.real.ndim + 1)
    return x.tracer.wrap(graph.add("Unsqueeze", [x.name, graph.ints([axis])]), real)


def permute(x: Any, dims: tuple) -> Any:
    """x.permute(*dims): Transpose."""
    dims = _shape_entries(dims)
    real = x.real.permute(*dims)
    perm = [_axis(d, x.real.ndim) for d in dims]
    return x.tracer.wrap(x.tracer.graph.add("Transpose", [x.name], perm=perm), real)


def transpose(x: Any, dim0: int, dim1: int) -> Any:
    """x.transpose(dim0, dim1): Transpose with two axes swapped."""
    real = x.real.transpose(dim0, dim1)
    ndim = x.real.ndim
    if ndim < 2:
        return x
    perm = list(range(ndim))
    a, b = _axis(dim0, ndim), _axis(dim1, ndim)
    perm[a], perm[b] = perm[b], perm[a]
    return x.tracer.wrap(x.tracer.graph.add("Transpose", [x.name], perm=perm), real)


# ---- indexing ----------------------------------------------------------------------------------


def getitem(x: Any, index: Any) -> Any:
    """x[index] for ints, slices, None and Ellipsis: one Slice, a Squeeze of the dimensions
    an int picked, an Unsqueeze for each None."""
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, (int, slice))):
            raise x.tracer.refusal(
                f"indexes a traced value with {type(item).__name__}; export follows ints, "
                "slices, None and ... (no tensor or list indices)"
            )
    real = x.real[index]
    items = _expand_ellipsis(items, x.real.ndim)
    slices: list[tuple[int, int, int, int]] = []  # (axis, start, end, step) for one Slice
    picked, new_axes = [], []
    axis = 0  # the input dimension the next item indexes
    out_position = 0  # its position in the result (ints drop a dimension, None adds one)
    for item in items:
        if item is None:
            new_axes.append(out_position)
            out_position += 1
            continue
        if isinstance(item, slice):
            if item != slice(None):
                slices.append((axis, *_slice_bounds(item)))
            out_position += 1
        else:
            slices.append((axis, item, item + 1 if item != -1 else _END, 1))
            picked.append(axis)
        axis += 1
    graph, name = x.tracer.graph, x.name
    if slices:
        axes, starts, ends, steps = zip(*slices)
        bounds = [graph.ints(values) for values in (starts, ends, axes, steps)]
        name = graph.add("Slice", [name, *bounds])
    if picked:
        name = graph.add("Squeeze", [name, graph.ints(picked)])
    if new_axes:
        name = graph.add("Unsqueeze", [name, graph.ints(new_axes)])
    if name == x.name:
        return x
    return x.tracer.wrap(name, real)


def _expand_ellipsis(items: tuple, ndim: int) -> tuple:
    """The index with ``...`` replaced by full slices, and full slices appended to ndim."""
    indexing = sum(1 for item in items if item is not None and item is not Ellipsis)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        fill = (slice(None),) * (ndim - indexing)
        return items[:at] + fill + items[at + 1 :]
    return items + (slice(None),) * (ndim - indexing)


def _slice_bounds(item: slice) -> tuple[int, int, int]:
    step = 1 if item.step is None else int(item.step)
    if item.start is not None:
        start = int(item.start)
    else:
        start = 0 if step > 0 else _END
    if item.stop is not None:
        end = int(item.stop)
    else:
        end = _END if step > 0 else _BEFORE_START
    return start, end, step


# ---- joining -----------------------------------------------------------------------------------


def _names(tracer: Any, values: list, dtype: Any) -> list[str]:
    return [tracer.name_of(value, dtype) for value in values]


def cat(tracer: Any, tensors: list, dim: int, real: Tensor) -> Any:
    """chainrule.cat(tensors, dim): Concat (constant tensors among them become initializers)."""
    names = _names(tracer, list(tensors), real.dtype)
    axis = _axis(dim, real.ndim)
    return tracer.wrap(tracer.graph.add("Concat", names, axis=axis), real)


def stack(tracer: Any, tensors: list, dim: int, real: Tensor) -> Any:
    """chainrule.stack(tensors, dim): each unsqueezed at ``dim``, then Concat."""
    graph = tracer.graph
    axis = graph.ints([_axis(dim, real.ndim)])
    names = [graph.add("Unsqueeze", [name, axis]) for name in _names(tracer, tensors, real.dtype)]
    return tracer.wrap(graph.add("Concat", names, axis=_axis(dim, real.ndim)), real)
