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

# ---- flat views, turns, splits at indices, diagonals and blocks, picks along a dimension --------

case("ravel", lambda m, x: m.ravel(x.transpose(0, 1)), A)
case("ravel_method", lambda m, x: x.ravel(), X3)
case("rot90", lambda m, x: m.rot90(x), A)
case("rot90_k_dims_method", lambda m, x: x.rot90(-1, [2, 0]), X3)
case("rot90_half_turn", lambda m, x: m.rot90(x, 2, (1, 2)), X3)
case("rot90_full_turn", lambda m, x: m.rot90(x, 4) * 2, A)
case("tensor_split_sections", lambda m, x: m.tensor_split(x, 3, dim=1), (2, 7))
case("tensor_split_indices_method", lambda m, x: x.tensor_split([1, 5, 3, -1], 1), (2, 7))
case("tensor_split_tensor", lambda m, x: m.tensor_split(x, m.tensor([2]), dim=0), A)
case("hsplit", lambda m, x: m.hsplit(x, 2), A)
case("hsplit_vector_method", lambda m, x: x.hsplit([1, 3]), (5,))
case("vsplit", lambda m, x: m.vsplit(x, [1]), A)
case("dsplit_method", lambda m, x: x.dsplit(2), X3)
case("diag_embed", lambda m, x: m.diag_embed(x), A)
case("diag_embed_offset_dims_method", lambda m, x: x.diag_embed(-1, 0, 2), A)
case("diag_embed_offset_positive", lambda m, x: m.diag_embed(x, 2, 1, 0), X3)
case("block_diag", lambda m, x, y, z: m.block_diag(x, y, z), A, (2,), ())
case("cartesian_prod", lambda m, x, y: m.cartesian_prod(x, y), (3,), (2,))
case("cartesian_prod_three", lambda m, x, y, z: m.cartesian_prod(x, y, z), (2,), (2,), (3,))
case(
    "vander",  # PyTorch 2.13's own backward of vander fails (an in-place write): powers there
    lambda m, x: m.vander(x, 4),
    (3,),
    th_fn=lambda m, x: m.stack([x**3, x**2, x, m.ones_like(x)], 1),
)
case(
    "vander_increasing",
    lambda m, x: m.vander(x, increasing=True),
    (3,),
    th_fn=lambda m, x: m.stack([m.ones_like(x), x, x**2], 1),
)
case(
    "take_along_dim",
    lambda m, x: m.take_along_dim(x, m.tensor([[0, 2], [1, 1], [3, 0]]), dim=1),
    A,
)
case(
    "take_along_dim_bcast_method",
    lambda m, x: x.take_along_dim(m.tensor([[[1], [0], [2]]]), 2),
    X3,
)
case("take_along_dim_flat", lambda m, x: m.take_along_dim(x, m.tensor([5, 0, 5])), A)
