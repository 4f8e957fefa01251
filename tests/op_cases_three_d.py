"""Cases of the operation table (tests/op_cases.py): the 3-d convolutions and pooling
(conv3d, conv_transpose3d, max_pool3d, avg_pool3d, adaptive_avg_pool3d) and batch_norm over
(N, C, D, H, W). Shapes stay tiny: each case is also checked by finite differences."""

from __future__ import annotations

from op_cases import NOGRAD, ONE, case, distinct, ties


def _f(m):
    return m.nn.functional


# ---- convolution (nn/functional/conv.py, conv_transpose.py) ----------------------------------

case(
    "conv3d",
    lambda m, x, w, b: _f(m).conv3d(x, w, b),
    (2, 2, 3, 4, 3),
    (3, 2, 2, 2, 2),
    (3,),
)
case(
    "conv3d_stride_pad_dilation_groups",
    lambda m, x, w, b: _f(m).conv3d(
        x, w, b, stride=(1, 2, 1), padding=(1, 0, 1), dilation=(2, 1, 1), groups=2
    ),
    (1, 4, 4, 5, 3),
    (2, 2, 2, 2, 2),
    (2,),
)
case(
    "conv3d_same_unbatched",
    lambda m, x, w: _f(m).conv3d(x, w, padding="same", dilation=(1, 2, 1)),
    (2, 3, 5, 4),
    (2, 2, 3, 3, 3),
)
case(
    "conv3d_valid",
    lambda m, x, w: _f(m).conv3d(x, w, padding="valid", stride=2),
    (1, 1, 4, 3, 5),
    (2, 1, 3, 2, 2),
)
case(
    "conv_transpose3d",
    lambda m, x, w, b: _f(m).conv_transpose3d(x, w, b),
    (2, 2, 2, 3, 2),
    (2, 3, 2, 2, 2),
    (3,),
)
case(
    "conv_transpose3d_stride_pad_out_pad_groups_dilation",
    lambda m, x, w: _f(m).conv_transpose3d(
        x, w, stride=(2, 1, 2), padding=1, output_padding=(1, 0, 0), groups=2, dilation=(1, 2, 1)
    ),
    (1, 4, 2, 3, 2),
    (4, 1, 2, 2, 3),
)
case(
    "conv_transpose3d_unbatched",
    lambda m, x, w: _f(m).conv_transpose3d(x, w, stride=2),
    (2, 2, 2, 3),
    (2, 2, 2, 1, 2),
)

# ---- pooling (nn/functional/conv.py) ---------------------------------------------------------

case("max_pool3d", lambda m, x: _f(m).max_pool3d(x, 2), (2, 2, 4, 4, 5), domain=distinct)
case(
    "max_pool3d_stride_pad_dilation_ceil_unbatched",
    lambda m, x: _f(m).max_pool3d(
        x, (3, 2, 2), stride=(2, 1, 2), padding=1, dilation=(1, 2, 1), ceil_mode=True
    ),
    (2, 5, 5, 4),
    domain=distinct,
)
# Ties: the gradient goes to the first maximum of each window, as in PyTorch.
case("max_pool3d_ties", lambda m, x: _f(m).max_pool3d(x, 2, 1), (1, 2, 3, 3, 4), domain=ties, **ONE)
case(
    "max_pool3d_indices",
    lambda m, x: _f(m).max_pool3d(x, (2, 3, 2), padding=(1, 1, 0), return_indices=True)[1],
    (2, 2, 3, 5, 4),
    domain=ties,
    **NOGRAD,
)
case("avg_pool3d", lambda m, x: _f(m).avg_pool3d(x, 2), (2, 2, 4, 4, 5))
case(
    "avg_pool3d_pad_ceil_exclude_pad",
    lambda m, x: _f(m).avg_pool3d(
        x, (3, 2, 2), stride=2, padding=1, ceil_mode=True, count_include_pad=False
    ),
    (1, 2, 5, 4, 5),
)
case(
    "avg_pool3d_divisor_unbatched",
    lambda m, x: _f(m).avg_pool3d(x, (2, 2, 3), (1, 2, 1), padding=(1, 0, 1), divisor_override=5),
    (2, 3, 4, 4),
)
case(
    "adaptive_avg_pool3d",
    lambda m, x: _f(m).adaptive_avg_pool3d(x, (2, 3, 2)),
    (2, 2, 5, 4, 7),
)
case(
    "adaptive_avg_pool3d_none_unbatched",
    lambda m, x: _f(m).adaptive_avg_pool3d(x, (None, 2, 1)),
    (2, 3, 5, 4),
)
case("adaptive_avg_pool3d_even", lambda m, x: _f(m).adaptive_avg_pool3d(x, 2), (1, 2, 4, 2, 6))

# ---- batch norm over (N, C, D, H, W) (nn/functional/normalization.py) ------------------------

case(
    "batch_norm_5d_training",
    lambda m, x, w, b: _f(m).batch_norm(x, None, None, w, b, training=True),
    (2, 3, 2, 3, 2),
    (3,),
    (3,),
)
