"""Cases of the operation table (tests/op_cases.py): repeat, repeat_interleave, tile, roll, flip,
and split with PyTorch's method keywords and empty pieces."""

from __future__ import annotations

from op_cases import NOGRAD, X3, A, case

# ---- repeat and tile ----------------------------------------------------------------------------

case("repeat", lambda m, x: x.repeat(2, 3), A)
case("repeat_tuple", lambda m, x: x.repeat((1, 2)), A)
case("repeat_list", lambda m, x: x.repeat([3, 1, 1]), X3)
case("repeat_new_leading_dims", lambda m, x: x.repeat(2, 1, 3), (2, 3))
case("repeat_ones", lambda m, x: x.repeat(1, 1), A)
case("repeat_zero_copies", lambda m, x: x.repeat(0, 2), A)
case("repeat_0d", lambda m, x: x.repeat(3, 2), ())
case("repeat_used_twice", lambda m, x: x.repeat(2, 1)[:3] * x, A)
case("tile", lambda m, x: m.tile(x, (2, 2)), A)
case("tile_fewer_counts", lambda m, x: m.tile(x, (2,)), X3)
case("tile_more_counts", lambda m, x: x.tile(2, 1, 2), (3,))
case("tile_method_tuple", lambda m, x: x.tile((3,)), (2,))

# ---- repeat_interleave --------------------------------------------------------------------------

case("repeat_interleave_flat", lambda m, x: m.repeat_interleave(x, 2), A)
case("repeat_interleave_dim", lambda m, x: x.repeat_interleave(3, dim=1), A)
case("repeat_interleave_negative_dim", lambda m, x: x.repeat_interleave(2, -3), X3)
case(
    "repeat_interleave_counts",
    lambda m, x: m.repeat_interleave(x, m.tensor([2, 0, 1]), dim=0),
    A,
)
case(
    "repeat_interleave_counts_flat",
    lambda m, x: m.repeat_interleave(x, m.tensor([1, 3, 0, 2])),
    (2, 2),
)
case("repeat_interleave_one_count", lambda m, x: x.repeat_interleave(m.tensor([2]), 1), A)
case("repeat_interleave_0d_count", lambda m, x: x.repeat_interleave(m.tensor(2), dim=0), A)
case("repeat_interleave_zero", lambda m, x: x.repeat_interleave(0, dim=1), A)
case("repeat_interleave_0d_input", lambda m, x: m.repeat_interleave(x, 3), ())
case(
    "repeat_interleave_output_size",
    lambda m, x: m.repeat_interleave(x, m.tensor([1, 2, 3]), dim=0, output_size=6),
    A,
)
case(
    "repeat_interleave_indices",
    lambda m, x: m.repeat_interleave(m.tensor([1, 0, 3, 2])),
    A,
    **NOGRAD,
)

# ---- roll and flip ------------------------------------------------------------------------------

case("roll_flat", lambda m, x: m.roll(x, 5), A)
case("roll_flat_tuple", lambda m, x: m.roll(x, (-2,)), X3)
case("roll_dim", lambda m, x: x.roll(1, 0), A)
case("roll_dims", lambda m, x: m.roll(x, (1, -2), (0, 2)), X3)
case("roll_same_dim_twice", lambda m, x: m.roll(x, (1, 2), (1, 1)), A)
case("roll_beyond_length", lambda m, x: x.roll(-7, dims=1), A)
case("roll_0d", lambda m, x: m.roll(x, 1), ())
case("roll_empty_dim", lambda m, x: m.roll(x, 1, 1), (2, 0))
case("flip", lambda m, x: m.flip(x, (0,)), A)
case("flip_list", lambda m, x: m.flip(x, [0, 2]), X3)
case("flip_negative_dim", lambda m, x: x.flip(-1), X3)
case("flip_method_varargs", lambda m, x: x.flip(0, 1), A)
case("flip_no_dims", lambda m, x: m.flip(x, ()), A)
case("flip_0d", lambda m, x: m.flip(x, (0,)), ())
case("flip_used_twice", lambda m, x: x.flip(1) * x, A)
case("fliplr", lambda m, x: m.fliplr(x), X3)
case("flipud", lambda m, x: x.flipud(), (3,))

# ---- split: the method's keyword, and empty pieces ----------------------------------------------

case("split_method_keywords", lambda m, x: x.split(split_size=2, dim=1), (2, 5))
case("split_method_list_keyword", lambda m, x: x.split(split_size=[1, 4], dim=1), (2, 5))
case("split_fn_keywords", lambda m, x: m.split(x, split_size_or_sections=[2, 1], dim=0), A)
case("split_sizes_with_zeros", lambda m, x: x.split([0, 3, 0, 1], 1), A)
case("split_zero_size_of_empty_dim", lambda m, x: m.split(x, 0), (0, 3))
case("chunk_method_keywords", lambda m, x: x.chunk(chunks=2, dim=-1), X3)
