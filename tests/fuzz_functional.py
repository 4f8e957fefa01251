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


# ---- layers' functions ---------------------------------------------------------------------------


def normalization(b: GraphBuilder) -> bool:
    """layer_norm over 1 to all trailing axes (affine or not) and batch_norm in training mode."""
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    if x.ndim >= 2 and b.draw(st.booleans()):
        channels = (x.shape[1],)
        if b.draw(st.booleans()):
            return emitted(b, "F.batch_norm({0}, None, None, training=True)", [x])
        weight, bias = b.leaf(channels), b.leaf(channels)
        return emitted(
            b, "F.batch_norm({0}, None, None, {1}, {2}, training=True)", [x, weight, bias]
        )
    tail = x.shape[-b.draw(st.integers(1, x.ndim)) :]
    if b.draw(st.booleans()):
        return emitted(b, f"F.layer_norm({{0}}, {tail!r})", [x])
    weight, bias = b.leaf(tail), b.leaf(tail)
    return emitted(b, f"F.layer_norm({{0}}, {list(tail)!r}, {{1}}, {{2}})", [x, weight, bias])


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


FUNCTIONAL: list[Op] = [
    linear,
    regression_loss,
    classification_loss,
    binary_loss,
    normalization,
    convolution,
    padding,
    embedding,
]
KINKED_FUNCTIONAL: list[Op] = [l1_loss, pooling]
