"""Cases of the operation table (tests/op_cases.py): attention, activations, losses and
distances added for the PyTorch-programs issue."""

from __future__ import annotations

from op_cases import NOGRAD, ONE, X3, A, at, away_from, case, normal, positive  # noqa: F401

# ---- attention (nn/functional/attention.py): compositions of matmul, softmax and where ----------

QKV = ((2, 3, 4), (2, 5, 4), (2, 5, 3))
ALLOWED_35 = [[True, False, True, True, False], [False] * 5, [True, True, False, True, True]]


def _sdpa(m, *args, **options):
    return m.nn.functional.scaled_dot_product_attention(*args, **options)


case("sdpa", lambda m, q, k, v: _sdpa(m, q, k, v), *QKV)
case("sdpa_causal_scale", lambda m, q, k, v: _sdpa(m, q, k, v, is_causal=True, scale=0.3), *QKV)
case("sdpa_float_mask", lambda m, q, k, v, a: _sdpa(m, q, k, v, attn_mask=a), *QKV, (3, 5))
case(  # a query that may attend to no key gives zeros
    "sdpa_bool_mask_empty_row",
    lambda m, q, k, v: _sdpa(m, q, k, v, attn_mask=m.tensor(ALLOWED_35)),
    *QKV,
)
case(
    "sdpa_4d_broadcast",
    lambda m, q, k, v: _sdpa(m, q, k, v),
    (2, 1, 3, 4),
    (1, 2, 5, 4),
    (1, 2, 5, 2),
)


# ---- activations (nn/functional/rectifiers.py, smooth_activations.py) ----------------------------


def _f(m):
    return m.nn.functional


KINKS = away_from(-3.0, -2.0, -1.0, 0.0, 1.0, 3.0, 6.0, margin=0.1)
case("relu_fn_inplace", lambda m, x: _f(m).relu(x * 1.5, inplace=True), A, domain=KINKS)
case("relu__fn", lambda m, x: _f(m).relu_(x - 0.5), X3, domain=away_from(0.5))
case("leaky_relu", lambda m, x: _f(m).leaky_relu(x, 0.2), A, domain=KINKS)
case("leaky_relu_inplace", lambda m, x: _f(m).leaky_relu(x * 2, inplace=True), A, domain=KINKS)
case("prelu_shared", lambda m, x, w: _f(m).prelu(x, w), X3, (1,), domain=(KINKS, normal))
case("prelu_channels", lambda m, x, w: _f(m).prelu(x, w), X3, (3,), domain=(KINKS, normal))
case("prelu_top_level", lambda m, x, w: m.prelu(x, w), (4,), (1,), domain=(KINKS, normal))
case("relu6", lambda m, x: _f(m).relu6(x * 4), A, domain=away_from(0.0, 1.5))
case("relu6_inplace", lambda m, x: _f(m).relu6(x * 4, inplace=True), A, domain=away_from(0.0, 1.5))
case("hardtanh", lambda m, x: _f(m).hardtanh(x), X3, domain=KINKS)
case("hardtanh_bounds", lambda m, x: _f(m).hardtanh(x, -0.5, 2.0), A, domain=away_from(-0.5, 2.0))
case("hardtanh__fn", lambda m, x: _f(m).hardtanh_(x * 1), A, domain=KINKS)
case("elu_inplace", lambda m, x: _f(m).elu(x * 1, 0.5, inplace=True), A, domain=KINKS)
case("selu", lambda m, x: _f(m).selu(x), X3, domain=KINKS)
case("selu_top_level", lambda m, x: m.selu(x), A, domain=KINKS)
case("selu_inplace", lambda m, x: _f(m).selu(x * 1, inplace=True), A, domain=KINKS)
case("celu", lambda m, x: _f(m).celu(x), A)  # continuously differentiable at 0
case("celu_alpha", lambda m, x: _f(m).celu(x, 0.5), X3)
case("celu_top_level_inplace", lambda m, x: _f(m).celu_(x * 1, 2.0), A)
case("hardsigmoid", lambda m, x: _f(m).hardsigmoid(x * 4), A, domain=away_from(-0.75, 0.75))
case("hardswish", lambda m, x: _f(m).hardswish(x * 4), X3, domain=away_from(-0.75, 0.75))
case(
    "hardswish_inplace",
    lambda m, x: _f(m).hardswish(x * 4, inplace=True),
    A,
    domain=away_from(-0.75, 0.75),
)
case("mish", lambda m, x: _f(m).mish(x * 3), X3)
case("mish_inplace", lambda m, x: _f(m).mish(x * 1, inplace=True), A)
case("silu_inplace", lambda m, x: _f(m).silu(x * 1, inplace=True), A)
case("softsign", lambda m, x: _f(m).softsign(x * 3), A, domain=away_from(0.0))
case("gelu", lambda m, x: _f(m).gelu(x * 2), A)
case("gelu_tanh", lambda m, x: _f(m).gelu(x * 2, approximate="tanh"), A)
case("softplus", lambda m, x: _f(m).softplus(x * 2), A)
case("softplus_beta_threshold", lambda m, x: _f(m).softplus(x * 3, beta=2, threshold=4), A)
case("silu", lambda m, x: _f(m).silu(x * 2), A)
case("tanhshrink", lambda m, x: _f(m).tanhshrink(x * 2), X3)
# At the kinks: the one-sided derivative PyTorch picks.
case("leaky_relu_at_zero", lambda m, x: _f(m).leaky_relu(x, 0.1), A, domain=at(0.0), **ONE)
case("prelu_at_zero", lambda m, x, w: _f(m).prelu(x, w), A, (1,), domain=(at(0.0), normal), **ONE)
case("relu6_at_bounds", lambda m, x: _f(m).relu6(x), A, domain=at(0.0, 6.0), **ONE)
case("hardtanh_at_bounds", lambda m, x: _f(m).hardtanh(x), A, domain=at(-1.0, 1.0), **ONE)
case("elu_at_zero", lambda m, x: _f(m).elu(x, 0.5), A, domain=at(0.0), **ONE)
case("selu_at_zero", lambda m, x: _f(m).selu(x), A, domain=at(0.0), **ONE)
case("hardsigmoid_at_bounds", lambda m, x: _f(m).hardsigmoid(x), A, domain=at(-3.0, 3.0), **ONE)
case("hardswish_at_bounds", lambda m, x: _f(m).hardswish(x), A, domain=at(-3.0, 3.0), **ONE)

# Thresholding and shrinkage (nn/functional/shrinkage.py), log σ, GLU, softmin, RReLU.
BAND = away_from(-0.5, 0.5)
case("threshold", lambda m, x: _f(m).threshold(x, 0.1, -2.0), A, domain=away_from(0.1))
case("threshold_inplace", lambda m, x: _f(m).threshold(x * 1, 0.1, 3.0, inplace=True), A)
case("threshold__fn", lambda m, x: _f(m).threshold_(x * 2, -0.5, 0.0), X3, domain=away_from(-0.25))
case("threshold_module", lambda m, x: m.nn.Threshold(0.2, 7.0)(x), A, domain=away_from(0.2))
case("threshold_at_bound", lambda m, x: _f(m).threshold(x, 0.1, -2.0), A, domain=at(0.1), **ONE)
case("hardshrink", lambda m, x: _f(m).hardshrink(x), X3, domain=BAND)
case("hardshrink_lambd", lambda m, x: m.nn.Hardshrink(1.0)(x), A, domain=away_from(-1.0, 1.0))
case("hardshrink_method", lambda m, x: x.hardshrink(0.3), A, domain=away_from(-0.3, 0.3))
case("hardshrink_at_band", lambda m, x: _f(m).hardshrink(x), A, domain=at(-0.5, 0.5), **ONE)
case("softshrink", lambda m, x: _f(m).softshrink(x), X3, domain=BAND)
case("softshrink_lambd", lambda m, x: m.nn.Softshrink(0.2)(x), A, domain=away_from(-0.2, 0.2))
case("softshrink_at_band", lambda m, x: _f(m).softshrink(x), A, domain=at(-0.5, 0.5), **ONE)
case("logsigmoid", lambda m, x: _f(m).logsigmoid(x * 8), X3)
case("logsigmoid_module", lambda m, x: m.nn.LogSigmoid()(x), A)
case("logsigmoid_at_zero", lambda m, x: _f(m).logsigmoid(x), A, domain=at(0.0), **ONE)
case("glu", lambda m, x: _f(m).glu(x), X3)
case("glu_dim0", lambda m, x: _f(m).glu(x, 0), (4, 3))
case("glu_module", lambda m, x: m.nn.GLU(1)(x), (2, 6, 3))
case("softmin", lambda m, x: _f(m).softmin(x, 1), X3)
case("softmin_module", lambda m, x: m.nn.Softmin(dim=0)(x), A)
case("softmax2d", lambda m, x: m.nn.Softmax2d()(x), (2, 3, 2, 2))
case("softmax2d_unbatched", lambda m, x: m.nn.Softmax2d()(x), (3, 2, 2))
case("rrelu_eval", lambda m, x: _f(m).rrelu(x), X3, domain=KINKS)
case("rrelu_eval_bounds", lambda m, x: m.nn.RReLU(0.2, 0.4).eval()(x), A, domain=KINKS)
case("rrelu__eval", lambda m, x: _f(m).rrelu_(x * 1, 0.1, 0.5), A, domain=KINKS)

# ---- losses (nn/functional/*_losses.py) and distances --------------------------------------------

SIGNS_3 = [1.0, -1.0, 1.0]
SIGNS_34 = [[1.0, -1.0, 1.0, 1.0], [-1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, 1.0]]


def _log_probabilities(m, x, dim=1):
    return x.log_softmax(dim)


case(
    "smooth_l1_loss",
    lambda m, x, y: _f(m).smooth_l1_loss(x * 2, y),
    A,
    A,
    domain=away_from(0.5, -0.5, margin=0.02),
)
case(
    "smooth_l1_loss_beta",
    lambda m, x, y: _f(m).smooth_l1_loss(x, y, reduction="sum", beta=0.3),
    X3,
    X3,
)
case(
    "smooth_l1_loss_none",
    lambda m, x, y: _f(m).smooth_l1_loss(x, y, reduction="none", beta=2.0),
    A,
    A,
)
case(
    "kl_div_batchmean",
    lambda m, x, t: _f(m).kl_div(x.log_softmax(1), t.softmax(1), reduction="batchmean"),
    A,
    A,
)
case(
    "kl_div_sum",
    lambda m, x, t: _f(m).kl_div(x.log_softmax(1), t, reduction="sum"),
    A,
    A,
    domain=(normal, positive),
)
case(
    "kl_div_none_log_target",
    lambda m, x, t: _f(m).kl_div(x, t, reduction="none", log_target=True),
    X3,
    X3,
)
case(
    "kl_div_broadcast",
    lambda m, x, t: _f(m).kl_div(x, t, reduction="batchmean"),
    A,
    (4,),
    domain=(normal, positive),
)
case("soft_margin_loss", lambda m, x: _f(m).soft_margin_loss(x * 3, m.tensor(SIGNS_34)), A)
case(
    "soft_margin_loss_none",
    lambda m, x: _f(m).soft_margin_loss(x, m.tensor(SIGNS_34[0]), reduction="none"),
    A,
)
case(
    "margin_ranking_loss",
    lambda m, a, b: _f(m).margin_ranking_loss(a, b, m.tensor(SIGNS_3), margin=0.1),
    (3,),
    (3,),
    domain=normal,
    gradcheck_kw={"eps": 1e-7},
)
case(
    "hinge_embedding_loss",
    lambda m, d: _f(m).hinge_embedding_loss(d, m.tensor(SIGNS_34), margin=0.5),
    A,
    domain=away_from(0.5),
)
case(
    "cosine_embedding_loss",
    lambda m, a, b: _f(m).cosine_embedding_loss(a, b, m.tensor(SIGNS_3), margin=-1.5),
    A,
    A,
)
case(
    "cosine_embedding_loss_none",
    lambda m, a, b: _f(m).cosine_embedding_loss(a, b, m.tensor(SIGNS_3), reduction="none"),
    A,
    A,
)
case(
    "poisson_nll_loss",
    lambda m, x, y: _f(m).poisson_nll_loss(x, y),
    A,
    A,
    domain=(normal, positive),
)
case(
    "poisson_nll_loss_full",
    lambda m, x, y: _f(m).poisson_nll_loss(x, y * 3, log_input=False, full=True),
    A,
    A,
    domain=positive,
)
case(
    "gaussian_nll_loss",
    lambda m, x, y, v: _f(m).gaussian_nll_loss(x, y, v),
    A,
    A,
    A,
    domain=(normal, normal, positive),
)
case(
    "gaussian_nll_loss_shared",
    lambda m, x, y, v: _f(m).gaussian_nll_loss(x, y, v, full=True, reduction="sum"),
    A,
    A,
    (3, 1),
    domain=(normal, normal, positive),
)
case("cosine_similarity", lambda m, a, b: _f(m).cosine_similarity(a, b), X3, X3)
case("cosine_similarity_bcast", lambda m, a, b: _f(m).cosine_similarity(a, b, dim=-1), A, (4,))
case("pairwise_distance", lambda m, a, b: _f(m).pairwise_distance(a, b), A, A)
case(
    "pairwise_distance_p1_keepdim",
    lambda m, a, b: _f(m).pairwise_distance(a, b, p=1.0, keepdim=True),
    A,
    A,
    domain=normal,
)


# ---- transposed convolution and instance norm (ops/conv_transpose.py, ops/norm.py) ---------------


def _conv_t(m, *args, **options):
    return m.nn.functional.conv_transpose2d(*args, **options)


case("conv_transpose2d", lambda m, x, w, b: _conv_t(m, x, w, b), (2, 3, 3, 4), (3, 2, 2, 3), (2,))
case(
    "conv_transpose2d_stride_pad_out_pad",
    lambda m, x, w: _conv_t(m, x, w, stride=2, padding=1, output_padding=(1, 0)),
    (1, 2, 3, 3),
    (2, 3, 3, 2),
)
case(
    "conv_transpose2d_groups_dilation",
    lambda m, x, w, b: _conv_t(m, x, w, b, groups=2, dilation=(2, 1)),
    (2, 4, 3, 2),
    (4, 1, 2, 2),
    (2,),
)
case(
    "conv_transpose1d_unbatched",
    lambda m, x, w: m.nn.functional.conv_transpose1d(x, w, stride=3, padding=1),
    (2, 4),
    (2, 3, 3),
)
case(
    "instance_norm",
    lambda m, x, w, b: m.nn.functional.instance_norm(x, weight=w, bias=b),
    (2, 3, 4),
    (3,),
    (3,),
)
case("instance_norm_2d_plain", lambda m, x: m.nn.functional.instance_norm(x), (2, 2, 3, 2))
case(
    "instance_norm_running_stats",
    lambda m, x, w: m.nn.functional.instance_norm(
        x, m.zeros(2, dtype=x.dtype), m.ones(2, dtype=x.dtype), w, use_input_stats=False
    ),
    (3, 2, 4),
    (2,),
)
