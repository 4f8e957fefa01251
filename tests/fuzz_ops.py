"""The math operations of the gradient fuzzer: element-wise, activations, reductions, matrix
products (einsum, triangles, diagonals, scaled products) and norms, each as a builder
``op(builder) -> bool``.

A builder picks its operands from the builder's values (or makes new leaves), draws its
arguments, and emits one statement; it returns False when the draw did not fit (the fuzzer
then draws another operation). Inputs are kept in each function's smooth domain by
construction: log, sqrt, non-integer powers and denominators take ``x * x + 0.5``, never x.
The operations with kinks (relu at 0, ties of max, clamp at its bounds) report how far their
inputs are from the kink, so that finite differences are skipped when they come too close.

SMOOTH_MATH and KINKED_MATH are the tables; the helpers here serve the other tables too
(fuzz_functional.py: losses and layers' functions; fuzz_movement.py: indexing and shapes).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from hypothesis import strategies as st

from fuzz_graphs import GraphBuilder, Value, partner_shapes, rarely

Op = Any  # Callable[[GraphBuilder], bool]


def choose(b: GraphBuilder, options: list[str]) -> str:
    return b.draw(st.sampled_from(options))


def distance(t: torch.Tensor, *points: float) -> float:
    """How close the elements of ``t`` come to any of ``points`` (inf for an empty tensor)."""
    t = t.detach()
    if t.numel() == 0:
        return math.inf
    return min(float((t - p).abs().min()) for p in points)


def tie_gap(t: torch.Tensor, dim: int | None) -> float:
    """The smallest gap between the largest two and the smallest two values along ``dim``
    (all elements for None): how far max and min are from switching elements."""
    t = t.detach()
    t = t.reshape(-1) if dim is None or t.ndim == 0 else t.movedim(dim, -1)
    if t.numel() == 0 or t.shape[-1] < 2:
        return math.inf
    ordered = t.sort(dim=-1).values
    top = ordered[..., -1] - ordered[..., -2]
    bottom = ordered[..., 1] - ordered[..., 0]
    return float(min(top.min(), bottom.min()))


def draw_dim(b: GraphBuilder, ndim: int) -> int:
    """A dimension of a tensor with ``ndim`` axes, negative half of the time (0 or -1 for 0-d)."""
    rank = max(ndim, 1)
    return b.draw(st.integers(-rank, rank - 1))


def draw_dims(b: GraphBuilder, ndim: int, *, empty: bool = False) -> int | tuple[int, ...]:
    """The ``dim`` argument of a reduction: one axis or a tuple of distinct axes, or (if
    ``empty``) sometimes ``()``, which PyTorch reads as every dimension. Only sum and mean
    take it here: PyTorch's own var/std backward treats ``()`` as no dimension (torch 2.13)."""
    if empty and rarely(b.draw, 8):
        return ()
    if ndim >= 2 and b.draw(st.booleans()):
        axes = b.draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        negative = b.draw(st.booleans())
        return tuple(a - ndim if negative else a for a in axes)
    return draw_dim(b, ndim)


def keepdim(b: GraphBuilder) -> str:
    return choose(b, ["", ", keepdim=True", ", keepdim=False"])


def positive_source(operand: int) -> str:
    """``x * x + 0.5``: any value moved into the domain of log, sqrt and 1/x."""
    return f"({{{operand}}} * {{{operand}}} + 0.5)"


def emitted(b: GraphBuilder, template: str, operands: list[Value], gap: float = math.inf) -> bool:
    return b.emit(template, operands, gap=gap) is not None


# ---- element-wise, smooth ------------------------------------------------------------------------


def binary_arithmetic(b: GraphBuilder) -> bool:
    """+, -, * (and the alpha forms) between broadcast-compatible operands."""
    x = b.pick()
    y = b.partner(x)
    template = choose(
        b,
        ["{0} + {1}", "{0} - {1}", "{0} * {1}", "m.add({0}, {1}, alpha=0.5)"]
        + ["m.sub({0}, {1}, alpha=2)", "m.mul({0}, {1})", "{0}.add({1})", "{0}.sub({1})"],
    )
    return emitted(b, template, [x, y])


def division(b: GraphBuilder) -> bool:
    x = b.pick()
    y = b.partner(x)
    p = positive_source(1)
    template = choose(b, ["{0} / " + p, "m.div({0}, " + p + ")", "{0}.div(" + p + ")"])
    return emitted(b, template, [x, y])


def scalar_arithmetic(b: GraphBuilder) -> bool:
    """Python scalars on either side, and negation."""
    options = ["{0} + 0.5", "1.5 - {0}", "{0} * -2.0", "3 * {0}", "{0} / 4", "{0} - 1"]
    options += ["2.0 / " + positive_source(0), "-{0}", "m.neg({0})", "{0}.neg()"]
    return emitted(b, choose(b, options), [b.pick()])


def power(b: GraphBuilder) -> bool:
    """Integer, fractional and negative powers, scalar bases and tensor exponents."""
    x = b.pick()
    p = positive_source(0)
    options = ["{0} ** 2", "{0} ** 3", "{0}.pow(2)", "m.pow({0}, 3)", p + " ** 1.5"]
    options += [p + " ** -0.5", "2.0 ** {0}", "m.pow(2.0, {0})", p + " ** {1}", p + ".pow({1})"]
    template = choose(b, options)
    operands = [x, b.partner(x)] if "{1}" in template else [x]
    return emitted(b, template, operands)


def unary_math(b: GraphBuilder) -> bool:
    p = positive_source(0)
    options = ["m.exp({0})", "{0}.exp()", "m.log" + p, p + ".log()", "m.sqrt" + p, p + ".sqrt()"]
    options += ["m.sin({0})", "{0}.sin()", "m.cos({0})", "{0}.cos()", "m.tanh({0})"]
    options += ["{0}.tanh()", "m.sigmoid({0})", "{0}.sigmoid()", "F.sigmoid({0})", "F.tanh({0})"]
    return emitted(b, choose(b, options), [b.pick()])


def smooth_activation(b: GraphBuilder) -> bool:
    """GELU (both forms), SiLU, ELU with alpha 1 (continuously differentiable; its second
    derivative jumps at 0, so no finite differences close to it), softplus."""
    x = b.pick()
    template = choose(
        b,
        ["F.gelu({0})", "F.gelu({0}, approximate='tanh')", "F.silu({0})", "F.elu({0})"]
        + ["F.softplus({0})", "F.softplus({0}, beta=2.0)", "F.softplus({0}, beta=0.5)"],
    )
    gap = math.inf
    if template.startswith("F.elu("):
        gap = distance(b.tensor(x), 0.0)
    if "softplus" in template:  # softplus turns linear where beta·x passes the threshold 20
        beta = 2.0 if "2.0" in template else 0.5 if "0.5" in template else 1.0
        gap = distance(b.tensor(x) * beta, 20.0)
    return emitted(b, template, [x], gap)


def where_constant_mask(b: GraphBuilder) -> bool:
    x = b.pick()
    y = b.partner(x)
    shape = b.draw(partner_shapes(x.shape, grow=False))
    size = math.prod(shape)
    flags = b.draw(st.lists(st.booleans(), min_size=size, max_size=size))
    mask = bool_tensor_source(flags, shape)
    return emitted(b, f"m.where({mask}, {{0}}, {{1}})", [x, y])


def bool_tensor_source(flags: list[bool], shape: tuple[int, ...]) -> str:
    if not flags:
        return f"m.zeros({shape}, dtype=m.bool)"
    return f"m.tensor({torch.tensor(flags).reshape(shape).tolist()!r})"


def special_unary_math(b: GraphBuilder) -> bool:
    """exp2, expm1, log1p, log2, log10, rsqrt, reciprocal, square, erf, erfc, the
    trigonometric and hyperbolic functions and their inverses, logit, nan_to_num: each on its
    input moved into the function's smooth domain (|tanh x| · 0.9 < 1 for asin, acos, atanh
    and tan; x² + 1.5 > 1 for acosh; σ(x)/2 + ¼ in (¼, ¾) for logit)."""
    p = positive_source(0)
    unit = "(m.tanh({0}) * 0.9)"
    probability = "(m.sigmoid({0}) * 0.5 + 0.25)"  # not where 1 − σ cancels, as for large x
    options = ["m.exp2({0})", "{0}.exp2()", "m.expm1({0})", "{0}.expm1()", "m.log1p" + p]
    options += [p + ".log1p()", "m.log2" + p, p + ".log10()", "m.rsqrt" + p, p + ".reciprocal()"]
    options += ["m.reciprocal" + p, "m.square({0})", "{0}.square()", "m.erf({0})", "{0}.erfc()"]
    options += ["m.sinh({0})", "{0}.cosh()", "m.atan({0})", "{0}.asinh()", "m.tan" + unit]
    options += ["m.asin" + unit, unit + ".acos()", "m.atanh" + unit, unit + ".arcsin()"]
    options += ["m.acosh({0} * {0} + 1.5)", "m.nan_to_num({0})", "m.logit" + probability]
    options += [probability + ".logit(1e-6)"]
    return emitted(b, choose(b, options), [b.pick()])


def fused_binary_math(b: GraphBuilder) -> bool:
    """lerp (scalar and tensor weights, either side of ½), addcmul, addcdiv (denominator
    x² + 0.5), xlogy (y = x² + 0.5), float_power of a positive base, true_divide."""
    x = b.pick()
    y = b.partner(x)
    q = positive_source(1)
    options = ["m.lerp({0}, {1}, 0.3)", "{0}.lerp({1}, 0.8)", "m.lerp({0}, {1}, m.sigmoid({1}))"]
    options += ["m.addcmul({0}, {0}, {1})", "{0}.addcmul({1}, {1}, value=-0.5)"]
    options += ["m.addcdiv({0}, {0}, " + q + ")", "{1}.addcdiv({0}, " + q + ", value=2.0)"]
    options += ["m.xlogy({0}, " + q + ")", q + ".xlogy(" + q + ")", "m.xlogy(2.0, " + q + ")"]
    options += ["m.float_power(" + q + ", {0})", q + ".float_power(1.5)"]
    options += ["m.true_divide({0}, " + q + ")"]
    return emitted(b, choose(b, options), [x, y])


# ---- element-wise, with kinks --------------------------------------------------------------------


def kinked_unary(b: GraphBuilder) -> bool:
    """relu, abs, leaky_relu, ELU with alpha != 1, clamp: kinks at 0 or at the bounds."""
    x = b.pick()
    options = {
        "m.relu({0})": (0.0,),
        "{0}.relu()": (0.0,),
        "F.relu({0})": (0.0,),
        "m.abs({0})": (0.0,),
        "abs({0})": (0.0,),
        "{0}.abs()": (0.0,),
        "F.leaky_relu({0})": (0.0,),
        "F.leaky_relu({0}, 0.2)": (0.0,),
        "F.elu({0}, alpha=0.5)": (0.0,),
        "{0}.clamp(-0.5, 0.5)": (-0.5, 0.5),
        "m.clamp({0}, min=-0.3)": (-0.3,),
        "{0}.clamp(max=0.2)": (0.2,),
        "m.clip({0}, -1.0, 1.0)": (-1.0, 1.0),
        "{0}.clamp(0.5, -0.5)": (0.5, -0.5),
        "m.where({0} > 0, {0}, 0.0)": (0.0,),
    }
    template = choose(b, list(options))
    return emitted(b, template, [x], distance(b.tensor(x), *options[template]))


def selection(b: GraphBuilder) -> bool:
    """maximum, minimum, max/min of two tensors, where(x > y), clamp with tensor bounds."""
    x = b.pick()
    template = choose(
        b,
        ["m.maximum({0}, {1})", "m.minimum({0}, {1})", "{0}.maximum({1})", "m.max({0}, {1})"]
        + ["m.min({0}, {1})", "m.where({0} > {1}, {0}, {1})", "m.clamp({0}, min={1})"]
        + ["{0}.clamp(max={1})"],
    )
    y = b.partner(x, to_shape="clamp" in template)
    tx, ty = b.tensor(x), b.tensor(y)
    gap = math.inf if tx.numel() * ty.numel() == 0 else distance(tx - ty, 0.0)
    return emitted(b, template, [x, y], gap)


def nearest_integer_gap(t: torch.Tensor, offset: float = 0.0) -> float:
    """How close the elements of ``t`` come to an integer plus ``offset``: the jumps of floor,
    ceil, trunc and frac (offset 0) and of round (offset ½)."""
    t = t.detach() - offset
    if t.numel() == 0:
        return math.inf
    return float((t - t.round()).abs().min())


def rounding_and_remainders(b: GraphBuilder) -> bool:
    """floor, ceil, round, trunc, frac and sign (zero gradient, or one for frac: jumps at the
    integers, at the halves for round, at 0 for sign), remainder and fmod (jumps where the
    quotient is an integer), the one-sided clamps, atan2 (a jump across its branch cut, a
    ≈ 0 with b < 0) and hypot (a kink at the origin)."""
    x = b.pick()
    t = b.tensor(x)
    unary = {
        "m.floor({0})": nearest_integer_gap(t),
        "{0}.ceil()": nearest_integer_gap(t),
        "m.trunc({0})": nearest_integer_gap(t),
        "{0}.frac()": nearest_integer_gap(t),
        "m.round({0})": nearest_integer_gap(t, 0.5),
        "{0}.round(decimals=1)": nearest_integer_gap(t * 10, 0.5) / 10,
        "m.sign({0}) * {0}": distance(t, 0.0),
        "m.remainder({0}, 0.7)": nearest_integer_gap(t / 0.7) * 0.7,
        "{0} % -1.5": nearest_integer_gap(t / 1.5) * 1.5,
        "m.fmod({0}, 0.7)": nearest_integer_gap(t / 0.7) * 0.7,
        "m.clamp_min({0}, 0.1)": distance(t, 0.1),
        "{0}.clamp_max(-0.2)": distance(t, -0.2),
    }
    if b.draw(st.booleans()):
        template = choose(b, list(unary))
        if _at_a_jump(template, unary[template]):
            return False
        return emitted(b, template, [x], unary[template])
    y = b.partner(x)
    tx, ty = b.tensor(x), b.tensor(y)
    if tx.numel() * ty.numel() == 0:
        return emitted(b, "m.hypot({0}, {1})", [x, y])
    tx, ty = torch.broadcast_tensors(tx.detach(), ty.detach())
    divisor = ty * ty + 0.5
    binary = {
        "m.remainder({0}, {1} * {1} + 0.5)": nearest_integer_gap(tx / divisor) * 0.5,
        "{0}.fmod({1} * {1} + 0.5)": nearest_integer_gap(tx / divisor) * 0.5,
        "m.hypot({0}, {1})": float(torch.hypot(tx, ty).min()),
        "m.atan2({0}, {1})": float(torch.where(ty > 0, torch.hypot(tx, ty), tx.abs()).min()),
        "m.clamp_min({0}, {1})": distance(tx - ty, 0.0),
    }
    template = choose(b, list(binary))
    if _at_a_jump(template, binary[template]):
        return False
    return emitted(b, template, [x, y], binary[template])


# Rounding noise of 1e-16 in an input as close as this to a jump (floor at an integer, remainder
# where the quotient is one, atan2 on its cut) can land the two libraries on opposite sides of
# it: their values then differ by the jump itself, which no tolerance covers. (Found on
# remainder(kl_div(p, p), ...), where the divergence of a distribution from itself is ±1e-17.)
JUMP_MARGIN = 1e-9
_CONTINUOUS = ("sign", "clamp", "hypot")


def _at_a_jump(template: str, gap: float) -> bool:
    return gap < JUMP_MARGIN and not any(name in template for name in _CONTINUOUS)


# ---- reductions ----------------------------------------------------------------------------------


def sum_mean(b: GraphBuilder) -> bool:
    x = b.pick()
    name = choose(b, ["sum", "mean"])
    if b.draw(st.integers(0, 3)) == 0:
        template = choose(b, ["{0}.NAME()", "m.NAME({0})"])
    else:
        args = repr(draw_dims(b, x.ndim, empty=True)) + keepdim(b)
        template = choose(b, ["{0}.NAME(ARGS)", "m.NAME({0}, dim=ARGS)"]).replace("ARGS", args)
    return emitted(b, template.replace("NAME", name), [x])


def variance(b: GraphBuilder) -> bool:
    """var and std with random dims, keepdim and correction (Bessel's, none, or 2)."""
    x = b.pick()
    name = choose(b, ["var", "std"])
    correction = choose(b, ["", ", correction=0", ", correction=1", ", correction=2"])
    if b.draw(st.integers(0, 3)) == 0:
        template = "{0}.NAME(" + correction.removeprefix(", ") + ")"
        variances = b.tensor(x).detach().reshape(-1).var(correction=0).reshape(1)
    else:
        dims = draw_dims(b, x.ndim)
        template = "{0}.NAME(" + repr(dims) + keepdim(b) + correction + ")"
        variances = b.tensor(x).detach().var(dim=dims, correction=0)
    if name == "std" and variances.numel() and float(variances.min()) < 1e-4:
        return False  # √ has an infinite slope at 0: both libraries give inf or nan gradients
    return emitted(b, template.replace("NAME", name), [x])


def log_sum_exp(b: GraphBuilder) -> bool:
    x = b.pick()
    args = repr(draw_dims(b, x.ndim)) + keepdim(b)
    template = choose(b, ["{0}.logsumexp(ARGS)", "m.logsumexp({0}, ARGS)"])
    return emitted(b, template.replace("ARGS", args), [x])


def softmax_family(b: GraphBuilder) -> bool:
    x = b.pick()
    dim = draw_dim(b, x.ndim)
    template = choose(
        b,
        ["{0}.softmax(D)", "m.softmax({0}, D)", "F.softmax({0}, dim=D)", "{0}.log_softmax(D)"]
        + ["m.log_softmax({0}, D)", "F.log_softmax({0}, dim=D)"],
    )
    return emitted(b, template.replace("D", str(dim)), [x])


def extremes(b: GraphBuilder) -> bool:
    """max and min over all elements (ties share the gradient) or along a dim (values)."""
    x = b.pick(lambda v: v.numel > 0)
    if x is None:
        return False
    name = choose(b, ["max", "min"])
    if b.draw(st.booleans()):
        template = choose(b, ["{0}.NAME()", "m.NAME({0})"])
        return emitted(b, template.replace("NAME", name), [x], tie_gap(b.tensor(x), None))
    dim = draw_dim(b, x.ndim)
    template = choose(
        b,
        ["{0}.NAME(dim=D).values", "{0}.NAME(D, keepdim=True)[0]", "m.NAME({0}, dim=D).values"]
        + ["m.NAME({0}, D, True).values"],
    )
    template = template.replace("NAME", name).replace("D", str(dim))
    return emitted(b, template, [x], tie_gap(b.tensor(x), dim))


# ---- matrix products -----------------------------------------------------------------------------


def matmul(b: GraphBuilder) -> bool:
    """1-D·1-D, 1-D·2-D, 2-D·1-D, 2-D·2-D and batched products with broadcast batch axes, with
    the operand on either side, and products of a tensor with itself."""
    x = b.pick(lambda v: 1 <= v.ndim <= 4)
    if x is None:
        return False
    form = b.draw(st.integers(0, 5))
    if form == 0:  # the same tensor on both sides
        options = ["{0} @ {0}", "m.dot({0}, {0})"] if x.ndim == 1 else ["{0} @ {0}.mT"]
        options += ["{0}.mT @ {0}", "m.matmul({0}, {0}.transpose(-1, -2))"] if x.ndim > 1 else []
        return emitted(b, choose(b, options), [x])
    inner = x.shape[-1]
    cols = b.draw(st.integers(0, 3))
    if form == 1:  # matrix · vector or vector · vector
        y = b.operand_like(x, (inner,))
        options = ["{0} @ {1}", "m.matmul({0}, {1})", "{0}.matmul({1})"]
        options += ["m.dot({0}, {1})"] if x.ndim == 1 else []
    elif form == 2:  # times a matrix
        y = b.operand_like(x, (inner, cols))
        options = ["{0} @ {1}", "m.matmul({0}, {1})"] + (["m.mm({0}, {1})"] if x.ndim == 2 else [])
    elif form == 3:  # batched, batch axes broadcast
        batch = b.draw(partner_shapes(x.shape[:-2])) if x.ndim > 2 else (b.draw(st.integers(1, 2)),)
        y = b.operand_like(x, (*batch, inner, cols))
        options = ["{0} @ {1}", "m.matmul({0}, {1})"]
    else:  # the new operand on the left: vector · matrix, or matrix (batch) · matrix
        rows = x.shape[-2] if x.ndim > 1 else x.shape[0]
        left = (rows,) if form == 4 else (*b.draw(partner_shapes(x.shape[:-2])), cols, rows)
        y = b.operand_like(x, left)
        options = ["{1} @ {0}", "m.matmul({1}, {0})", "{1}.matmul({0})"]
    return emitted(b, choose(b, options), [x, y])


def triangles(b: GraphBuilder) -> bool:
    """tril and triu (diagonals -2 to 2) of matrices and stacks, diag of a vector or a matrix."""
    x = b.pick(lambda v: v.ndim >= 1)
    if x is None:
        return False
    k = b.draw(st.integers(-2, 2))
    options = []
    if x.ndim >= 2:
        options += [f"m.tril({{0}}, {k})", f"{{0}}.triu({k})", f"{{0}}.tril(diagonal={k})"]
    if x.ndim <= 2:
        options += [f"m.diag({{0}}, {k})", "{0}.diag()"]
    return emitted(b, choose(b, options), [x])


def scaled_products(b: GraphBuilder) -> bool:
    """outer, bmm, addmm and baddbmm: β and α varied (β = 0 too), the input broadcast."""
    x = b.pick(lambda v: 1 <= v.ndim <= 3)
    if x is None:
        return False
    cols = b.draw(st.integers(0, 3))
    if x.ndim == 1:
        y = b.operand_like(x, (cols,))
        return emitted(b, choose(b, ["m.outer({0}, {1})", "{0}.outer({1})"]), [x, y])
    y = b.operand_like(x, (*x.shape[:-2], x.shape[-1], cols))
    result = (*x.shape[:-1], cols)
    if b.draw(st.integers(0, 3)) == 0:
        options = ["m.bmm({0}, {1})", "{0}.bmm({1})"] if x.ndim == 3 else ["m.mm({0}, {1})"]
        return emitted(b, choose(b, options), [x, y])
    c = b.operand_like(x, b.draw(partner_shapes(result, grow=False)))
    name = "baddbmm" if x.ndim == 3 else "addmm"
    scales = choose(b, ["", ", beta=0.5", ", alpha=-2.0", ", beta=0, alpha=1.5", ", beta=2"])
    template = choose(b, [f"m.{name}({{2}}, {{0}}, {{1}}{scales})", f"{{2}}.{name}({{0}}, {{1}})"])
    return emitted(b, template, [x, y, c])


def einsum(b: GraphBuilder) -> bool:
    """A random equation: the value's axes labelled (an axis may repeat an earlier label of
    its size: a diagonal), a second operand sharing some labels (a shared label of size 1
    broadcasts) and adding new ones, and an output that keeps any labels in any order,
    or the implicit one; ellipsis forms too."""
    x = b.pick(lambda v: v.ndim <= 4)
    if x is None:
        return False
    sizes: dict[str, int] = {}
    term = ""
    for n in x.shape:
        same = [c for c, size in sizes.items() if size == n]
        if same and rarely(b.draw, 3):
            term += b.draw(st.sampled_from(same))
        else:
            term += "abcd"[len(sizes)]
            sizes["abcd"[len(sizes)]] = n
    terms, operands = [term], [x]
    if b.draw(st.booleans()):
        labels = b.draw(st.lists(st.sampled_from("abcdxy"), max_size=3, unique=True))
        shape = []
        for c in labels:
            if c not in sizes:
                sizes[c] = b.draw(st.integers(1, 3))
            shape.append(1 if rarely(b.draw, 4) else sizes[c])
        terms.append("".join(labels))
        operands.append(b.operand_like(x, tuple(shape)))
    used = sorted({c for t in terms for c in t})
    kept = b.draw(st.lists(st.sampled_from(used), unique=True)) if used else []
    equation = ",".join(terms) + ("" if rarely(b.draw, 4) else "->" + "".join(kept))
    options = [f"m.einsum({equation!r}, {', '.join(f'{{{i}}}' for i in range(len(terms)))})"]
    if len(terms) == 2:
        options.append(f"m.einsum({equation!r}, [{{0}}, {{1}}])")
    if x.ndim >= 2:
        options += ["m.einsum('...ij->...ji', {0})", "m.einsum('i...j->j', {0})"]
    template = choose(b, options)
    return emitted(b, template, operands if "{1}" in template else [x])


INFINITE_ORDS = {math.inf: "float('inf')", -math.inf: "-float('inf')"}


def norms(b: GraphBuilder) -> bool:
    """Vector p-norms (p = 2, 1, 3, 1.5, 0.5, -1, ±inf, 0) over all elements or one dim,
    matrix norms ('fro', 'nuc', ±1, ±2, ±inf) over two dims, torch.norm and Tensor.norm.
    Kinked where an element is 0 (|x| has a kink there; the 2-norm only at the zero vector),
    where the largest (smallest) elements tie, and where singular values meet or reach 0."""
    x = b.pick(lambda v: v.numel > 0)
    if x is None:
        return False
    t = b.tensor(x).detach()
    keep = keepdim(b)
    if x.ndim < 2 or b.draw(st.booleans()):
        p = b.draw(st.sampled_from([2, 1, 3, 1.5, 0.5, -1, math.inf, -math.inf, 0]))
        ord_source = INFINITE_ORDS.get(p, repr(p))
        dim = draw_dim(b, x.ndim) if x.ndim and b.draw(st.booleans()) else None
        options = [f"m.linalg.vector_norm({{0}}, {ord_source}, {dim}{keep})"]
        options += [f"m.norm({{0}}, {ord_source}, {dim}{keep})", f"{{0}}.norm({ord_source}, {dim})"]
        if p == 2:
            options += ["m.linalg.norm({0})", "{0}.norm()", f"m.linalg.norm({{0}}, dim={dim})"]
        gap = distance(t, 0.0)
        if abs(p) == math.inf:
            gap = min(gap, tie_gap(t.abs(), dim))
        if p == 0:
            # A count of the non-zero elements, a jump at 0: an element within rounding noise
            # of 0 may be exactly 0 in one library and 1e-17 in the other (kl_div(p, p), found
            # by CI), so such inputs are redrawn. No gradient: nothing for finite differences.
            if gap < JUMP_MARGIN:
                return False
            gap = 0.0
        return emitted(b, choose(b, options), [x], gap)
    rows, cols = b.draw(st.permutations(range(x.ndim)))[:2]
    p = b.draw(st.sampled_from(["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf]))
    ord_source = INFINITE_ORDS.get(p, repr(p))
    options = [f"m.linalg.matrix_norm({{0}}, {ord_source}, ({rows}, {cols}){keep})"]
    options += [f"m.linalg.norm({{0}}, {ord_source}, ({rows}, {cols}){keep})"]
    if p in ("fro", "nuc"):
        options += [f"m.norm({{0}}, {p!r}, ({rows}, {cols}){keep})"]
    gap = distance(t, 0.0)
    if p in ("nuc", 2, -2):
        sigma = torch.linalg.svdvals(t.movedim((rows, cols), (-2, -1)))
        gap = min(gap, distance(sigma, 0.0), tie_gap(sigma, -1))
    elif p != "fro":
        sums = t.abs().sum(rows if abs(p) == 1 else cols, keepdim=True)
        gap = min(gap, tie_gap(sums, cols if abs(p) == 1 else rows))
    return emitted(b, choose(b, options), [x], gap)


def copies(b: GraphBuilder) -> bool:
    """clone, contiguous, casts to float64 (no-ops), dropout outside training, detach."""
    options = ["{0}.clone()", "m.clone({0})", "{0}.contiguous()", "{0}.double()"]
    options += ["{0}.to(m.float64)", "F.dropout({0}, p=0.5, training=False)", "{0}.detach()"]
    template = choose(b, options)
    # A detached path changes the function but carries no gradient: no finite differences.
    gap = 0.0 if "detach" in template else math.inf
    return emitted(b, template, [b.pick()], gap)


SMOOTH_MATH: list[Op] = [
    binary_arithmetic,
    scalar_arithmetic,
    division,
    power,
    unary_math,
    smooth_activation,
    where_constant_mask,
    special_unary_math,
    fused_binary_math,
    sum_mean,
    variance,
    log_sum_exp,
    softmax_family,
    matmul,
    triangles,
    scaled_products,
    einsum,
    copies,
]
KINKED_MATH: list[Op] = [kinked_unary, selection, extremes, norms, rounding_and_remainders]
