"""The ``nn.functional`` operations of the gradient fuzzer: losses and the functions of
layers (linear, normalization, convolution, pooling, padding, embedding), each as a builder
``op(builder) -> bool`` (see fuzz_ops.py).

Weights and biases are new leaves of the right shape; targets are constants, or computed from
other values (the softmax or sigmoid of a value, the same one included) so that they carry
gradients where PyTorch differentiates them.
"""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from fuzz_graphs import GraphBuilder, Value
from fuzz_ops import Op, choose, distance, emitted

# ---- linear and losses ---------------------------------------------------------------------------


def linear(b: GraphBuilder) -> bool:
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    out_features = b.draw(st.integers(0, 3))
    weight = b.leaf((out_features, x.shape[-1]))
    if b.draw(st.booleans()):
        return emitted(b, "F.linear({0}, {1})", [x, weight])
    bias = b.leaf((out_features,))
    return emitted(b, "F.linear({0}, {1}, {2})", [x, weight, bias])


def regression_loss(b: GraphBuilder) -> bool:
    """mse_loss and huber_loss (smooth: Huber is continuously differentiable at delta)."""
    x = b.pick()
    y = b.operand_like(x, x.shape)
    reduction = choose(b, ["", ", reduction='sum'", ", reduction='none'", ", reduction='mean'"])
    template = choose(b, ["F.mse_loss({0}, {1}R)", "F.huber_loss({0}, {1}R, delta=0.5)"])
    return emitted(b, template.replace("R", reduction), [x, y])


def l1_loss(b: GraphBuilder) -> bool:
    x = b.pick()
    y = b.operand_like(x, x.shape)
    reduction = choose(b, ["", ", reduction='sum'", ", reduction='none'"])
    gap = distance(b.tensor(x) - b.tensor(y), 0.0)
    return emitted(b, "F.l1_loss({0}, {1}" + reduction + ")", [x, y], gap)


def classification_loss(b: GraphBuilder) -> bool:
    """cross_entropy (class indices or probabilities, weights, label smoothing) and nll_loss
    of log_softmax, for logits of shape (C,), (N, C) or (N, C, d)."""
    x = b.pick(lambda v: 1 <= v.ndim <= 3 and v.shape[1 if v.ndim > 1 else 0] > 0)
    if x is None:
        return False
    classes = x.shape[1] if x.ndim > 1 else x.shape[0]
    target_shape = (x.shape[0], *x.shape[2:]) if x.ndim > 1 else ()
    reduction = choose(b, ["", ", reduction='sum'", ", reduction='none'"])
    if b.draw(st.integers(0, 2)) == 0:  # probabilities: the softmax of another value
        y = b.operand_like(x, x.shape)
        dim = 1 if x.ndim > 1 else 0
        smoothing = choose(b, ["", ", label_smoothing=0.2"])
        template = f"F.cross_entropy({{0}}, {{1}}.softmax({dim}){reduction}{smoothing})"
        return emitted(b, template, [x, y])
    size = math.prod(target_shape)
    indices = b.draw(st.lists(st.integers(0, classes - 1), min_size=size, max_size=size))
    target = f"m.tensor({torch.tensor(indices).reshape(target_shape).tolist()!r})"
    extra = choose(b, ["", ", label_smoothing=0.1", ", ignore_index=0", ", weight=W"])
    weights = b.draw(st.lists(st.integers(1, 9), min_size=classes, max_size=classes))
    extra = extra.replace("W", f"m.tensor({scaled_list(weights)!r}, dtype=m.float64)")
    if "label_smoothing" in extra or b.draw(st.booleans()):
        template = f"F.cross_entropy({{0}}, {target}{reduction}{extra})"
    else:
        dim = 1 if x.ndim > 1 else 0
        template = f"F.nll_loss(F.log_softmax({{0}}, dim={dim}), {target}{reduction}{extra})"
    return emitted(b, template, [x])


def scaled_list(integers: list[int]) -> list[float]:
    return [i / 10 for i in integers]


def binary_loss(b: GraphBuilder) -> bool:
    """binary_cross_entropy of a sigmoid and binary_cross_entropy_with_logits, with targets
    from the sigmoid of another value (or of the same one)."""
    x = b.pick()
    y = b.operand_like(x, x.shape)
    reduction = choose(b, ["", ", reduction='sum'", ", reduction='none'"])
    template = choose(
        b,
        ["F.binary_cross_entropy_with_logits({0}, {1}.sigmoid()R)"]
        + ["F.binary_cross_entropy_with_logits({0}, {1}.sigmoid()R, pos_weight=m.tensor(1.5))"]
        + ["F.binary_cross_entropy({0}.sigmoid(), {1}.sigmoid()R)"],
    )
    # σ(x) rounds to exactly 1 beyond x ≈ 37, where BCE clamps its logarithms; well before,
    # 1 − σ(x) is so small (1e-9 at x = 20) that the last bit of σ, which the two libraries
    # round differently, moves BCE's gradient (x − y)/(x(1 − x)) by 1e-7: out of the check.
    largest = float(b.tensor(x).detach().abs().max()) if x.numel else 0.0
    if "({0}.sig" in template and largest > 12.0:
        return False
    gap = 30.0 - largest if x.numel else math.inf
    return emitted(
        b, template.replace("R", reduction), [x, y], gap if "({0}.sig" in template else math.inf
    )


def more_regression_losses(b: GraphBuilder) -> bool:
    """smooth_l1_loss (continuously differentiable at beta, as Huber), poisson_nll_loss and
    gaussian_nll_loss (positive rates and variances: x * x + 0.5)."""
    x = b.pick()
    y = b.operand_like(x, x.shape)
    reduction = choose(b, ["", ", reduction='sum'", ", reduction='none'"])
    kind = b.draw(st.integers(0, 3))
    if kind == 0:
        beta = choose(b, ["", ", beta=0.5", ", beta=2.0"])
        return emitted(b, f"F.smooth_l1_loss({{0}}, {{1}}{reduction}{beta})", [x, y])
    if kind == 1:
        return emitted(b, f"F.poisson_nll_loss({{0}}, {{1}} * {{1}} + 0.5{reduction})", [x, y])
    if kind == 2:
        # full=True adds Stirling's term where the target passes 1: a jump there.
        target = b.tensor(y) * b.tensor(y) + 0.5
        template = "F.poisson_nll_loss({0} * {0} + 0.5, {1} * {1} + 0.5, log_input=False, full=True"
        return emitted(b, template + reduction + ")", [x, y], distance(target, 1.0))
    var = b.operand_like(x, x.shape)
    full = choose(b, ["", ", full=True"])
    return emitted(
        b, f"F.gaussian_nll_loss({{0}}, {{1}}, {{2}} * {{2}} + 0.5{full}{reduction})", [x, y, var]
    )


def distribution_loss(b: GraphBuilder) -> bool:
    """kl_div of log_softmax against a softmax (or log_softmax with log_target), every
    reduction, and soft_margin_loss against constant labels ±1."""
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    if b.draw(st.booleans()):
        signs = b.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=x.numel, max_size=x.numel))
        labels = f"m.tensor({torch.tensor(signs).reshape(x.shape).tolist()!r})"
        reduction = choose(b, ["", ", reduction='sum'", ", reduction='none'"])
        return emitted(b, f"F.soft_margin_loss({{0}}, {labels}{reduction})", [x])
    y = b.operand_like(x, x.shape)
    reduction = choose(
        b, ["", ", reduction='batchmean'", ", reduction='sum'", ", reduction='none'"]
    )
    target = choose(b, ["{1}.softmax(-1)", "{1}.log_softmax(-1), log_target=True"])
    return emitted(b, f"F.kl_div({{0}}.log_softmax(-1), {target}{reduction})", [x, y])


def similarity(b: GraphBuilder) -> bool:
    """cosine_similarity, pairwise_distance and cosine_embedding_loss (with a margin below −1,
    so that its hinge never bends): smooth away from zero vectors, where the norm is not."""
    x = b.pick(lambda v: v.ndim >= 1 and v.numel > 0)
    if x is None:
        return False
    y = b.operand_like(x, x.shape)
    kind = b.draw(st.integers(0, 2))
    if kind == 0:
        vectors = [b.tensor(x), b.tensor(y)]
        template = "F.cosine_similarity({0}, {1}, dim=-1)"
    elif kind == 1:
        vectors = [b.tensor(x) - b.tensor(y)]
        p = choose(b, ["", ", p=1.5", ", p=3.0"])
        template = f"F.pairwise_distance({{0}}, {{1}}{p})"
    else:
        if x.ndim > 2:
            return False
        vectors = [b.tensor(x), b.tensor(y)]
        count = x.shape[0] if x.ndim == 2 else 1
        signs = b.draw(st.lists(st.sampled_from([-1, 1]), min_size=count, max_size=count))
        labels = f"m.tensor({signs if x.ndim == 2 else signs[0]!r})"
        template = f"F.cosine_embedding_loss({{0}}, {{1}}, {labels}, margin=-1.5)"
    # How far the shortest vector is from zero, where these functions are not smooth.
    shortest = min(float(v.detach().reshape(-1, v.shape[-1]).norm(dim=-1).min()) for v in vectors)
    gap = shortest - 0.1
    if "p=1.5" in template:
        # |dᵢ|^1.5 has no second derivative where a component dᵢ of x − y + 1e-6 is 0: central
        # differences there are off by more than their tolerance (seed 1231)
        gap = min(gap, float((vectors[0].detach() + 1e-6).abs().min()))
    return emitted(b, template, [x, y], gap)


def margin_loss(b: GraphBuilder) -> bool:
    """margin_ranking_loss and hinge_embedding_loss: hinges where the margin is met."""
    x = b.pick(lambda v: v.numel > 0)
    if x is None:
        return False
    signs = b.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=x.numel, max_size=x.numel))
    labels = torch.tensor(signs).reshape(x.shape)
    source = f"m.tensor({labels.tolist()!r})"
    reduction = choose(b, ["", ", reduction='sum'", ", reduction='none'"])
    if b.draw(st.booleans()):
        y = b.operand_like(x, x.shape)
        hinge = -labels * (b.tensor(x) - b.tensor(y)) + 0.2
        template = f"F.margin_ranking_loss({{0}}, {{1}}, {source}, margin=0.2{reduction})"
        return emitted(b, template, [x, y], distance(hinge, 0.0))
    template = f"F.hinge_embedding_loss({{0}}, {source}, margin=0.5{reduction})"
    return emitted(b, template, [x], distance(b.tensor(x), 0.5))


# ---- activations (the rest are in fuzz_ops.py) ---------------------------------------------------


def smooth_activations(b: GraphBuilder) -> bool:
    """mish, celu (continuously differentiable at 0 for any alpha, but its second derivative
    jumps there: no finite differences close to 0, where their error is first order),
    tanhshrink, logsigmoid."""
    x = b.pick()
    template = choose(
        b,
        [
            "F.mish({0})",
            "F.celu({0})",
            "F.celu({0}, 0.5)",
            "F.tanhshrink({0})",
            "F.logsigmoid({0})",
        ],
    )
    gap = distance(b.tensor(x), 0.0) if "celu" in template else math.inf
    return emitted(b, template, [x], gap)


def rectifiers(b: GraphBuilder) -> bool:
    """relu6, hardtanh, hardsigmoid, hardswish, selu, softsign, leaky_relu with a negative
    slope, prelu (a new leaf of one slope or one per channel), threshold, hardshrink,
    softshrink and rrelu (evaluation: its mean slope): kinks where they bend."""
    x = b.pick()
    options = {
        "F.relu6({0} * 3)": (3.0, (0.0, 6.0)),
        "F.hardtanh({0})": (1.0, (-1.0, 1.0)),
        "F.hardtanh({0}, -0.5, 2.0)": (1.0, (-0.5, 2.0)),
        "F.hardsigmoid({0} * 2)": (2.0, (-3.0, 3.0)),
        "F.hardswish({0} * 2)": (2.0, (-3.0, 3.0)),
        "F.selu({0})": (1.0, (0.0,)),
        "F.softsign({0})": (1.0, (0.0,)),
        "F.leaky_relu({0}, -0.3)": (1.0, (0.0,)),
        "F.prelu({0}, {1})": (1.0, (0.0,)),
        "F.threshold({0}, 0.2, -1.0)": (1.0, (0.2,)),
        "F.hardshrink({0})": (1.0, (-0.5, 0.5)),
        "F.softshrink({0}, 0.3)": (1.0, (-0.3, 0.3)),
        "F.rrelu({0})": (1.0, (0.0,)),
    }
    template = choose(b, list(options))
    scale, kinks = options[template]
    operands = [x]
    if "prelu" in template:
        channels = x.shape[1] if x.ndim >= 2 else 1
        operands.append(b.leaf((choose(b, [1, channels]),)))
    return emitted(b, template, operands, distance(b.tensor(x) * scale, *kinks))


# ---- layers' functions ---------------------------------------------------------------------------


def normalization(b: GraphBuilder) -> bool:
    """layer_norm over 1 to all trailing axes (affine or not) and batch_norm in training mode."""
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    if x.ndim >= 2 and b.draw(st.booleans()):
        if _misread_as_channels_last(b.tensor(x)):
            return False
        channels = (x.shape[1],)
        gap = spread_gap(b.tensor(x), (0, *range(2, x.ndim)))
        if b.draw(st.booleans()):
            return emitted(b, "F.batch_norm({0}, None, None, training=True)", [x], gap)
        weight, bias = b.leaf(channels), b.leaf(channels)
        template = "F.batch_norm({0}, None, None, {1}, {2}, training=True)"
        return emitted(b, template, [x, weight, bias], gap)
    tail = x.shape[-b.draw(st.integers(1, x.ndim)) :]
    gap = spread_gap(b.tensor(x), tuple(range(x.ndim - len(tail), x.ndim)))
    if b.draw(st.booleans()):
        return emitted(b, f"F.layer_norm({{0}}, {tail!r})", [x], gap)
    weight, bias = b.leaf(tail), b.leaf(tail)
    template = f"F.layer_norm({{0}}, {list(tail)!r}, {{1}}, {{2}})"
    return emitted(b, template, [x, weight, bias], gap)


def spread_gap(t: torch.Tensor, dims: tuple[int, ...]) -> float:
    """How far a normalisation over ``dims`` is from the groups of (nearly) equal values where
    finite differences fail: x̂ = (x − μ)/√(σ² + ε) bends on the scale √ε ≈ 0.003 there (the
    first and second derivatives through it swing by orders of magnitude). A hundredth of the
    smallest standard deviation, so that below 0.1 it is closer than KINK_MARGIN."""
    t = t.detach().double()
    if t.numel() == 0 or not dims:
        return math.inf
    return float(t.std(dim=dims, correction=0).min()) / 100


def _misread_as_channels_last(t: torch.Tensor) -> bool:
    """Whether PyTorch would take ``t`` for channels-last although an axis of size 1 has a
    stride other than channels-last's: its CPU batch norm then gives the bias a wrong
    gradient (2.24, −1.22, −0.76 expected, [0.27, −0.34, 0.34] given, for (2, 3, 1, 2) with
    strides (6, 1, 1, 3), and in 5-D; torch 2.13), where chainrule's is right."""
    formats = {4: torch.channels_last, 5: torch.channels_last_3d}
    if t.ndim not in formats or not t.is_contiguous(memory_format=formats[t.ndim]):
        return False
    if t.is_contiguous():
        return False
    # channels-last strides: C innermost, then the spatial axes from the last, N outermost
    order = [1, *range(t.ndim - 1, 1, -1), 0]
    strides, step = [0] * t.ndim, 1
    for axis in order:
        strides[axis] = step
        step *= t.shape[axis]
    return list(t.stride()) != strides


def as_batch(x: Value, spatial: int) -> tuple[str, tuple[int, ...]] | None:
    """Source that views ``x`` as (N, C, *spatial) for conv and pooling, and that shape."""
    rank = 2 + spatial
    if x.numel == 0:
        return None
    if x.ndim == rank:
        return "{0}", x.shape
    if x.ndim == rank - 1:
        return "{0}.unsqueeze(0)", (1, *x.shape)
    if x.ndim == rank - 2 and x.ndim >= 1:
        return "{0}.reshape(1, 1, " + ", ".join(str(n) for n in x.shape) + ")", (1, 1, *x.shape)
    return None


def convolution(b: GraphBuilder) -> bool:
    spatial = b.draw(st.integers(1, 2))
    x = b.pick(lambda v: as_batch(v, spatial) is not None)
    if x is None:
        return False
    view, shape = as_batch(x, spatial)
    padding = b.draw(st.integers(0, 1))
    kernel = tuple(b.draw(st.integers(1, max(1, n + 2 * padding))) for n in shape[2:])
    out_channels = b.draw(st.integers(1, 2))
    weight = b.leaf((out_channels, shape[1], *kernel))
    stride = b.draw(st.integers(1, 2))
    call = f"F.conv{spatial}d({view}, {{1}}, stride={stride}, padding={padding})"
    return emitted(b, call, [x, weight])


def transposed_convolution(b: GraphBuilder) -> bool:
    """conv_transpose1d/2d with stride, padding, output_padding (below the stride) and
    groups; the padding is kept small enough to leave an output."""
    spatial = b.draw(st.integers(1, 2))
    x = b.pick(lambda v: as_batch(v, spatial) is not None)
    if x is None:
        return False
    view, shape = as_batch(x, spatial)
    groups = 2 if shape[1] % 2 == 0 and b.draw(st.booleans()) else 1
    kernel = tuple(b.draw(st.integers(1, 3)) for _ in shape[2:])
    stride = b.draw(st.integers(1, 2))
    padding = b.draw(st.integers(0, 1))
    extra = b.draw(st.integers(0, stride - 1))
    if any((n - 1) * stride - 2 * padding + k + extra <= 0 for n, k in zip(shape[2:], kernel)):
        return False
    weight = b.leaf((shape[1], b.draw(st.integers(1, 2)), *kernel))
    call = (
        f"F.conv_transpose{spatial}d({view}, {{1}}, stride={stride}, padding={padding}, "
        f"output_padding={extra}, groups={groups})"
    )
    return emitted(b, call, [x, weight])


def instance_normalization(b: GraphBuilder) -> bool:
    """instance_norm over the trailing axes of (N, C, *) values, affine or not."""
    x = b.pick(lambda v: v.ndim >= 3 and v.numel > 0 and math.prod(v.shape[2:]) > 1)
    if x is None:
        return False
    gap = spread_gap(b.tensor(x), tuple(range(2, x.ndim)))
    if b.draw(st.booleans()):
        return emitted(b, "F.instance_norm({0})", [x], gap)
    weight, bias = b.leaf((x.shape[1],)), b.leaf((x.shape[1],))
    return emitted(b, "F.instance_norm({0}, weight={1}, bias={2})", [x, weight, bias], gap)


def pooling(b: GraphBuilder) -> bool:
    """avg_pool (smooth) and max_pool (kinked: ties inside a window) in 1-D and 2-D."""
    spatial = b.draw(st.integers(1, 2))
    x = b.pick(lambda v: as_batch(v, spatial) is not None)
    if x is None:
        return False
    view, _ = as_batch(x, spatial)
    kernel = b.draw(st.integers(1, 2))
    stride = b.draw(st.integers(1, 2))
    kind = choose(b, ["avg", "max"])
    call = f"F.{kind}_pool{spatial}d({view}, {kernel}, stride={stride})"
    return emitted(b, call, [x], 0.0 if kind == "max" else math.inf)


def padding(b: GraphBuilder) -> bool:
    """Constant padding (negative widths crop) and reflect/replicate/circular on (N, C, L)."""
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    mode = choose(b, ["constant", "reflect", "replicate", "circular"])
    left, right = b.draw(st.integers(-1, 2)), b.draw(st.integers(-1, 2))
    if mode == "constant":
        return emitted(b, f"F.pad({{0}}, ({left}, {right}), value=0.5)", [x])
    if x.ndim not in (2, 3):
        return False
    left, right = abs(left), abs(right)
    return emitted(b, f"F.pad({{0}}, ({left}, {right}), mode={mode!r})", [x])


def embedding(b: GraphBuilder) -> bool:
    """Rows of a 2-D value looked up by index, repeats included; padding_idx gets no gradient."""
    table = b.pick(lambda v: v.ndim == 2 and v.shape[0] > 0)
    if table is None:
        return False
    rows = table.shape[0]
    indices = b.draw(st.lists(st.integers(0, rows - 1), min_size=1, max_size=5))
    pad = choose(b, ["", f", padding_idx={indices[0]}"])
    # The padding row's gradient is 0 by definition, not its derivative: no finite differences.
    gap = 0.0 if pad else math.inf
    return emitted(b, f"F.embedding(m.tensor({indices!r}), {{0}}{pad})", [table], gap)


def attention(b: GraphBuilder) -> bool:
    """scaled_dot_product_attention with a value as the queries (*, L, E): attending to
    itself, or to new keys and values (*, S, E) and (*, S, Ev); causal or rescaled."""
    query = b.pick(lambda v: v.ndim >= 2 and v.shape[-1] > 0)
    if query is None:
        return False
    options = choose(b, ["", ", is_causal=True", ", scale=0.5"])
    if b.draw(st.booleans()):
        template = "F.scaled_dot_product_attention({0}, {0}, {0}" + options + ")"
        return emitted(b, template, [query])
    keys = b.draw(st.integers(1, 3))
    key = b.leaf((*query.shape[:-2], keys, query.shape[-1]))
    value = b.leaf((*query.shape[:-2], keys, b.draw(st.integers(1, 3))))
    template = "F.scaled_dot_product_attention({0}, {1}, {2}" + options + ")"
    return emitted(b, template, [query, key, value])


FUNCTIONAL: list[Op] = [
    linear,
    regression_loss,
    more_regression_losses,
    classification_loss,
    binary_loss,
    distribution_loss,
    similarity,
    smooth_activations,
    normalization,
    convolution,
    transposed_convolution,
    instance_normalization,
    padding,
    embedding,
    attention,
]
KINKED_FUNCTIONAL: list[Op] = [l1_loss, margin_loss, rectifiers, pooling]
