"""Cases of the operation table (tests/op_cases.py): adaptive max pooling, bilinear and
embedding_bag, each a composition of gathers, products and sums."""

from __future__ import annotations

from typing import Any

from op_cases import NOGRAD, ONE, case, distinct, normal, positive, ties  # noqa: F401


def _f(m):
    return m.nn.functional


# ---- adaptive max pooling (nn/functional/adaptive_max_pool.py) ---------------------------------

case(
    "adaptive_max_pool1d", lambda m, x: _f(m).adaptive_max_pool1d(x, 3), (2, 3, 7), domain=distinct
)
case(
    "adaptive_max_pool1d_upsample",
    lambda m, x: _f(m).adaptive_max_pool1d(x, 6),
    (2, 4),
    domain=distinct,
)
case(
    "adaptive_max_pool2d",
    lambda m, x: _f(m).adaptive_max_pool2d(x, (3, 2)),
    (2, 2, 7, 5),
    domain=distinct,
)
case(
    "adaptive_max_pool2d_none_unbatched",
    lambda m, x: _f(m).adaptive_max_pool2d(x, (None, 3)),
    (2, 4, 7),
    domain=distinct,
)
case(
    "adaptive_max_pool2d_even",
    lambda m, x: _f(m).adaptive_max_pool2d(x, 2),
    (1, 3, 4, 6),
    domain=distinct,
)
# Ties: the gradient goes to the first maximum in row-major order, as PyTorch's kernel picks it.
case(
    "adaptive_max_pool1d_ties",
    lambda m, x: _f(m).adaptive_max_pool1d(x, 4),
    (2, 3, 9),
    domain=ties,
    **ONE,
)
case(
    "adaptive_max_pool2d_ties",
    lambda m, x: _f(m).adaptive_max_pool2d(x, (3, 4)),
    (2, 3, 5, 7),
    domain=ties,
    **ONE,
)
case(
    "adaptive_max_pool1d_indices",
    lambda m, x: _f(m).adaptive_max_pool1d(x, 4, return_indices=True)[1],
    (2, 3, 9),
    domain=ties,
    **NOGRAD,
)
case(
    "adaptive_max_pool2d_indices",
    lambda m, x: _f(m).adaptive_max_pool2d(x, (2, 3), return_indices=True)[1],
    (3, 5, 7),
    domain=ties,
    **NOGRAD,
)

# ---- bilinear (nn/functional/linear.py) --------------------------------------------------------

case("bilinear", lambda m, a, b, w, c: _f(m).bilinear(a, b, w, c), (4, 2), (4, 3), (5, 2, 3), (5,))
case(
    "bilinear_nobias_3d",
    lambda m, a, b, w: _f(m).bilinear(a, b, w),
    (2, 3, 2),
    (2, 3, 4),
    (3, 2, 4),
)
case("bilinear_1d", lambda m, a, b, w: _f(m).bilinear(a, b, w), (2,), (3,), (4, 2, 3))

# ---- embedding_bag (nn/functional/embedding_bag.py): the table's gradient ----------------------
#
# PyTorch has no double backward for embedding_bag; TORCH_DOUBLE_BACKWARD holds, per case, the
# same bags written with indexing and sum/mean/max, for tests/test_second_order.py.

BAGS_1D = [1, 2, 2, 4, 0, 6, 5, 3]
OFFSETS = [0, 3, 3, 6]  # the second bag is empty
BAGS_2D = [[1, 2, 2], [4, 0, 6], [5, 3, 3]]
TORCH_DOUBLE_BACKWARD: dict[str, Any] = {}


def _bags(indices: list, offsets: list | None, include_last_offset: bool) -> list[list[int]]:
    """Each bag's positions in the flattened input."""
    if offsets is None:
        width = len(indices[0])
        return [list(range(b * width, (b + 1) * width)) for b in range(len(indices))]
    starts = offsets[:-1] if include_last_offset else offsets
    ends = [*starts[1:], len(indices)]
    return [list(range(a, b)) for a, b in zip(starts, ends)]


def _torch_bag(torch, w, p, indices, offsets, mode, padding_idx=None, include_last_offset=False):
    flat = torch.tensor(indices).reshape(-1)
    weights = None if p is None else p.reshape(-1)
    out = []
    for positions in _bags(indices, offsets, include_last_offset):
        kept = [i for i in positions if int(flat[i]) != padding_idx]
        if not kept:
            out.append(w.sum(0) * 0)
            continue
        rows = w[flat[kept]]
        if weights is not None:
            rows = rows * weights[kept][:, None]
        reduce = {"sum": rows.sum(0), "mean": rows.mean(0)}
        out.append(reduce[mode] if mode in reduce else rows.max(0).values)
    return torch.stack(out)


def bag_case(id: str, indices: list, offsets: list | None, shapes: tuple, **options: Any) -> None:  # noqa: A002
    """An embedding_bag case over ``indices`` (with ``offsets`` when 1-D), differentiated with
    respect to the table (and the per-sample weights when there are two shapes)."""
    domain = options.pop("domain", normal)
    extra = options.pop("case_options", {})

    def fn(m, w, p=None):
        off = None if offsets is None else m.tensor(offsets)
        weights = {} if p is None else {"per_sample_weights": p}
        return _f(m).embedding_bag(m.tensor(indices), w, off, **weights, **options)

    case(id, fn, *shapes, domain=domain, **extra)
    TORCH_DOUBLE_BACKWARD[id] = lambda w, p=None: _torch_bag(
        __import__("torch"), w, p, indices, offsets, **options
    )


for _mode in ("sum", "mean", "max"):
    _domain = distinct if _mode == "max" else normal
    bag_case(f"embedding_bag_{_mode}", BAGS_1D, OFFSETS, ((7, 3),), mode=_mode, domain=_domain)
    bag_case(f"embedding_bag_{_mode}_2d", BAGS_2D, None, ((7, 3),), mode=_mode, domain=_domain)
    bag_case(
        f"embedding_bag_{_mode}_padding_idx",
        BAGS_1D,
        OFFSETS,
        ((7, 3),),
        mode=_mode,
        padding_idx=2,
        domain=_domain,
    )
    bag_case(
        f"embedding_bag_{_mode}_last_offset",
        BAGS_1D,
        [0, 2, 5, 8],
        ((7, 3),),
        mode=_mode,
        include_last_offset=True,
        domain=_domain,
    )
bag_case("embedding_bag_per_sample_weights", BAGS_1D, OFFSETS, ((7, 3), (8,)), mode="sum")
bag_case(
    "embedding_bag_per_sample_weights_2d_padding",
    BAGS_2D,
    None,
    ((7, 3), (3, 3)),
    mode="sum",
    padding_idx=3,
)
# Equal rows in a bag: PyTorch's max gives each dimension's gradient to the first of them.
bag_case(
    "embedding_bag_max_ties",
    [[1, 1, 2], [4, 4, 4]],
    None,
    ((7, 3),),
    mode="max",
    domain=ties,
    case_options=ONE,
)
