"""Cases of the operation table (tests/op_cases.py): padding layers and cropping pads, pixel
shuffle, interpolation and upsampling, normalize, RMS norm and the distance layers."""

from __future__ import annotations

from op_cases import X3, A, case, positive


def _f(m):
    return m.nn.functional


# ---- padding (nn/functional/padding.py, nn/layers/padding.py) ----------------------------------

N1, N2, N3 = (2, 3, 5), (2, 2, 4, 5), (1, 2, 3, 4, 3)
case("pad_reflect_crop", lambda m, x: _f(m).pad(x, (-1, 2, 2, -1), mode="reflect"), N2)
case("pad_replicate_crop", lambda m, x: _f(m).pad(x, (2, -3), mode="replicate"), N1)
case("pad_circular_crop", lambda m, x: _f(m).pad(x, (-1, 2, 1, -2), mode="circular"), N2)
case("zero_pad1d", lambda m, x: m.nn.ZeroPad1d((2, -1))(x), N1)
case("zero_pad2d_int", lambda m, x: m.nn.ZeroPad2d(1)(x), N2)
case("zero_pad3d", lambda m, x: m.nn.ZeroPad3d((1, 0, 0, 2, 1, 1))(x), N3)
case("constant_pad1d", lambda m, x: m.nn.ConstantPad1d(2, -0.5)(x), N1)
case("constant_pad2d", lambda m, x: m.nn.ConstantPad2d((1, 0, 2, -1), 3.0)(x), N2)
case("constant_pad3d", lambda m, x: m.nn.ConstantPad3d(1, 0.25)(x), N3)
case("reflection_pad1d", lambda m, x: m.nn.ReflectionPad1d((3, 1))(x), N1)
case("reflection_pad2d", lambda m, x: m.nn.ReflectionPad2d(2)(x), N2)
case("reflection_pad3d", lambda m, x: m.nn.ReflectionPad3d((1, 2, 0, 1, 2, 1))(x), N3)
case("replication_pad1d", lambda m, x: m.nn.ReplicationPad1d(4)(x), N1)
case("replication_pad2d", lambda m, x: m.nn.ReplicationPad2d((0, 3, 1, 1))(x), N2)
case("replication_pad3d_unbatched", lambda m, x: m.nn.ReplicationPad3d(1)(x), (2, 3, 4, 3))
case("circular_pad1d_unbatched", lambda m, x: m.nn.CircularPad1d((2, 3))(x), (3, 5))
case("circular_pad2d", lambda m, x: m.nn.CircularPad2d((1, 2, 3, 0))(x), N2)
case("circular_pad3d", lambda m, x: m.nn.CircularPad3d(1)(x), N3)

# ---- pixel shuffle (nn/functional/resampling.py) ------------------------------------------------

case("pixel_shuffle", lambda m, x: _f(m).pixel_shuffle(x, 2), (2, 8, 2, 3))
case("pixel_shuffle_unbatched", lambda m, x: _f(m).pixel_shuffle(x, 3), (9, 2, 2))
case("pixel_shuffle_5d", lambda m, x: m.nn.PixelShuffle(2)(x), (2, 1, 4, 2, 2))
case("pixel_unshuffle", lambda m, x: _f(m).pixel_unshuffle(x, 2), (2, 2, 4, 6))
case("pixel_unshuffle_module", lambda m, x: m.nn.PixelUnshuffle(3)(x), (1, 3, 3))
case(
    "pixel_shuffle_round_trip",
    lambda m, x: _f(m).pixel_unshuffle(_f(m).pixel_shuffle(x, 2), 2) * x,
    (1, 4, 3, 2),
)

# ---- interpolate and Upsample ------------------------------------------------------------------


def _up(m, x, **options):
    return m.nn.functional.interpolate(x, **options)


L1, L2, L3 = (2, 3, 5), (2, 2, 4, 5), (1, 2, 3, 4, 3)
case("interp_nearest_1d_size", lambda m, x: _up(m, x, size=8), L1)
case("interp_nearest_1d_down", lambda m, x: _up(m, x, size=3), L1)
case("interp_nearest_1d_scale", lambda m, x: _up(m, x, scale_factor=1.7), L1)
case(
    "interp_nearest_1d_recompute",
    lambda m, x: _up(m, x, scale_factor=1.7, recompute_scale_factor=True),
    L1,
)
case("interp_nearest_2d_scale", lambda m, x: _up(m, x, scale_factor=(2, 0.6)), L2)
case("interp_nearest_3d_size", lambda m, x: _up(m, x, size=(4, 3, 5)), L3)
case("interp_nearest_exact_2d", lambda m, x: _up(m, x, size=(7, 3), mode="nearest-exact"), L2)
case("interp_linear", lambda m, x: _up(m, x, size=9, mode="linear"), L1)
case("interp_linear_down", lambda m, x: _up(m, x, size=3, mode="linear"), L1)
case(
    "interp_linear_align_corners",
    lambda m, x: _up(m, x, size=7, mode="linear", align_corners=True),
    L1,
)
case("interp_linear_scale", lambda m, x: _up(m, x, scale_factor=2.5, mode="linear"), L1)
case("interp_bilinear", lambda m, x: _up(m, x, size=(6, 9), mode="bilinear"), L2)
case(
    "interp_bilinear_scale_align",
    lambda m, x: _up(m, x, scale_factor=(1.5, 0.7), mode="bilinear", align_corners=True),
    L2,
)
case(
    "interp_bilinear_recompute",
    lambda m, x: _up(m, x, scale_factor=1.3, mode="bilinear", recompute_scale_factor=True),
    L2,
)
case("interp_bicubic", lambda m, x: _up(m, x, size=(7, 4), mode="bicubic"), L2)
case(
    "interp_bicubic_align",
    lambda m, x: _up(m, x, scale_factor=1.6, mode="bicubic", align_corners=True),
    L2,
)
case("interp_trilinear", lambda m, x: _up(m, x, size=(5, 2, 6), mode="trilinear"), L3)
case("interp_area_1d", lambda m, x: _up(m, x, size=3, mode="area"), L1)
case("interp_area_2d", lambda m, x: _up(m, x, scale_factor=0.6, mode="area"), L2)
case("interp_area_3d", lambda m, x: _up(m, x, size=(2, 3, 2), mode="area"), L3)
case("upsample_nearest", lambda m, x: m.nn.Upsample(scale_factor=2)(x), L2)
case(
    "upsample_bilinear",
    lambda m, x: m.nn.Upsample(size=(3, 7), mode="bilinear")(x),
    L2,
)
case("upsampling_nearest2d", lambda m, x: m.nn.UpsamplingNearest2d(size=(5, 3))(x), L2)
case("upsampling_bilinear2d", lambda m, x: m.nn.UpsamplingBilinear2d(scale_factor=2)(x), L2)

# ---- normalize, RMS norm (nn/functional/normalization.py) -------------------------------------

case("normalize", lambda m, x: _f(m).normalize(x), X3)
case("normalize_p1_last", lambda m, x: _f(m).normalize(x, p=1.0, dim=-1), A)
case("normalize_p3_dim0", lambda m, x: _f(m).normalize(x, p=3.0, dim=0, eps=1e-6), A)
case("normalize_1d", lambda m, x: _f(m).normalize(x, dim=0), (5,))
case("rms_norm", lambda m, x: _f(m).rms_norm(x, (4,)), X3)
case("rms_norm_weight", lambda m, x, w: _f(m).rms_norm(x, (3, 4), w), X3, (3, 4))
case("rms_norm_eps", lambda m, x, w: _f(m).rms_norm(x, [4], w, eps=0.1), A, (4,))
case("rms_norm_module", lambda m, x: m.nn.RMSNorm(4, dtype=x.dtype)(x) * x, X3)
case("rms_norm_module_no_affine", lambda m, x: m.nn.RMSNorm([3, 4], 1e-3, False)(x), X3)

# ---- the distance layers (nn/layers/distances.py) ---------------------------------------------

case("cosine_similarity_module", lambda m, a, b: m.nn.CosineSimilarity()(a, b), X3, X3)
case(
    "cosine_similarity_module_dim",
    lambda m, a, b: m.nn.CosineSimilarity(dim=-1, eps=1e-6)(a, b),
    A,
    (4,),
)
case("pairwise_distance_module", lambda m, a, b: m.nn.PairwiseDistance()(a, b), A, A)
case(
    "pairwise_distance_module_p3_keepdim",
    lambda m, a, b: m.nn.PairwiseDistance(p=3.0, eps=0.0, keepdim=True)(a, b),
    A,
    A,
    domain=(positive, lambda rng, shape, index: -rng.uniform(0.5, 2.0, shape)),
)
