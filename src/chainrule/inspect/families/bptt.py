"""Backpropagation through time, equation by equation, for one traced recurrent layer and
direction (:mod:`chainrule.inspect.families.recurrent` records it).

Every right-hand side is computed in float64 NumPy from the recorded forward values and the
neighbouring steps' δ, for all steps at once, and compared with autodiff: the δ equations with
autodiff on the unrolled steps, the weight gradients (sums over steps) with the fused layer's
own backward. The numbers printed are one step's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy

from chainrule.inspect.equations import Equation, LayerExplanation, check, sub

if TYPE_CHECKING:
    from chainrule.inspect.families.recurrent import RecurrentRecord
    from chainrule.inspect.tracer import Trace


def _sigmoid_slope(s: numpy.ndarray) -> numpy.ndarray:
    return s * (1 - s)


def numpy_forward(record: RecurrentRecord) -> numpy.ndarray:
    """h of every step recomputed in NumPy (float64) from x, the initial state and the weights,
    step by step in processing order (a cell's steps from the states each call was given)."""
    x, w_ih, w_hh = record.a_in, record.w_ih, record.w_hh
    b_ih = 0.0 if record.b_ih is None else record.b_ih
    b_hh = 0.0 if record.b_hh is None else record.b_hh
    size = w_hh.shape[1]
    h, c = record.h0, record.c0
    out = numpy.empty(record.z.shape)
    for t in record.order:
        if record.h_given is not None:
            h = record.h_given[t]
            c = None if record.c_given is None else record.c_given[t]
        xw, hw = x[t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if record.cell == "lstm":
            z = xw + hw
            sig = 1 / (1 + numpy.exp(-z))
            i, f, o = sig[:, :size], sig[:, size : 2 * size], sig[:, 3 * size :]
            c = f * c + i * numpy.tanh(z[:, 2 * size : 3 * size])
            h = o * numpy.tanh(c)
        elif record.cell == "gru":
            rz = 1 / (1 + numpy.exp(-(xw[:, : 2 * size] + hw[:, : 2 * size])))
            r, update = rz[:, :size], rz[:, size:]
            n = numpy.tanh(xw[:, 2 * size :] + r * hw[:, 2 * size :])
            h = (1 - update) * n + update * h
        else:
            pre = xw + hw
            h = numpy.tanh(pre) if record.cell == "rnn_tanh" else numpy.maximum(pre, 0)
        out[t] = h
    return out


def _product_sum(*pairs: numpy.ndarray) -> numpy.ndarray:
    """a₁ ⊙ b₁ + a₂ ⊙ b₂ + … for operands given as a₁, b₁, a₂, b₂, …"""
    return sum(pairs[k] * pairs[k + 1] for k in range(0, len(pairs), 2))


def _at_last(record: RecurrentRecord, values: numpy.ndarray | None) -> numpy.ndarray:
    """(T, B, H) zeros with ``values`` at the last processed step (what reached h_n, c_n)."""
    placed = numpy.zeros(record.z.shape)
    if values is not None:
        placed[record.order[-1]] = values
    return placed


def _gate_slopes(record: RecurrentRecord) -> dict[str, numpy.ndarray]:
    """The local factors of each gate pre-activation's gradient, per step (T, B, H)."""
    g = record.gates
    if record.cell == "lstm":
        tanh_c = numpy.tanh(record.c)
        return {
            "i": g["g"] * _sigmoid_slope(g["i"]),
            "f": record.c_before * _sigmoid_slope(g["f"]),
            "g": g["i"] * (1 - g["g"] ** 2),
            "o": tanh_c * _sigmoid_slope(g["o"]),
            "c": g["o"] * (1 - tanh_c**2),
        }
    if record.cell == "gru":
        return {
            "n": (1 - g["z"]) * (1 - g["n"] ** 2),
            "z": (record.h_before - g["n"]) * _sigmoid_slope(g["z"]),
            "r": record.hidden_n * _sigmoid_slope(g["r"]),
        }
    if record.cell == "rnn_tanh":
        return {"h": 1 - record.z**2}
    return {"h": (record.z > 0).astype(numpy.float64)}


def explain(trace: Trace, record: RecurrentRecord, step: int | None = None) -> LayerExplanation:
    """Backpropagation through time for one recurrent layer and direction: the forward step,
    the δh (and δc) recursion, the gate gradients and the weight gradients as sums over steps.
    Every step is checked; the numbers shown are step ``step``'s (default: the step processed
    second to last, where both the output's and the next step's gradients arrive)."""
    order = record.order
    if step is None:
        step = order[-2] if len(order) > 1 else order[0]
    if not isinstance(step, int) or not 0 <= step < record.steps:
        raise IndexError(f"explain: step must be 0..{record.steps - 1} for {record.name!r}")
    t = sub("t")
    shown = (step, f"t = {step}")
    equations = [_forward_equation(record, step, shown)]
    equations += _delta_equations(record, step, shown)
    equations += _gate_equations(record, step, shown)
    equations += _weight_equations(record, step)
    name = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN (tanh)", "rnn_relu": "RNN (ReLU)"}
    heading = f"Layer {record.number} of {len(trace.layers)}: {record.name!r} {record.module}"
    direction = "reverse (from the last position to the first)" if record.reverse else "forward"
    convention = (
        f"{name[record.cell]}, layer {record.layer}, direction {direction}, T = {record.steps} "
        f"steps, a batch of {record.z.shape[1]}, {record.z.shape[2]} hidden units. Samples are "
        f"rows: x{t} is {record.a_in.shape[1]}×{record.a_in.shape[2]}, h{t} and δh{t} = ∂C/∂h{t} "
        f"are {record.z.shape[1]}×{record.z.shape[2]}. δh{t} is the whole gradient at step t: "
        f"from the output y{t} = h{t} (the layer above, or the loss) and from step t+1, the "
        "step processed next. The steps' δ come from autodiff on the layer unrolled step by "
        "step in float64; the weight gradients from the fused layer's backward."
    )
    if record.h_given is not None:
        convention += (
            " This is a cell called once per step: its calls, in order, are the steps, and "
            "each started from the state it was given."
        )
    return LayerExplanation(record, heading, convention, equations)


def _forward_equation(record: RecurrentRecord, step: int, shown: tuple) -> Equation:
    t, p = sub("t"), sub("t−1")
    forms = {
        "rnn_tanh": f"h{t} = tanh(x{t} W_ihᵀ + b_ih + h{p} W_hhᵀ + b_hh)",
        "rnn_relu": f"h{t} = ReLU(x{t} W_ihᵀ + b_ih + h{p} W_hhᵀ + b_hh)",
        "lstm": f"c{t} = f{t} ⊙ c{p} + i{t} ⊙ g{t},  h{t} = o{t} ⊙ tanh(c{t})",
        "gru": f"h{t} = (1 − z{t}) ⊙ n{t} + z{t} ⊙ h{p}",
    }
    equation = Equation("F", forms[record.cell], f"at t = {step}: " + forms[record.cell])
    equation.terms += [(f"x{t}", record.a_in[step]), (f"h{p}", record.h_before[step])]
    equation.terms += [(f"{name}{t}", values[step]) for name, values in record.gates.items()]
    if record.fused_h is not None:
        target, what = record.fused_h, "the fused layer's output"
    else:
        target, what = record.z, "the unrolled rerun (a lower layer's h is not an output)"
    equation.note = f"h recomputed step by step in NumPy, against {what}."
    computed = numpy_forward(record)
    equation.check = check(lambda v: v, (computed,), numpy.asarray(target))
    equation.shown = shown
    return equation


def _delta_equations(record: RecurrentRecord, step: int, shown: tuple) -> list[Equation]:
    t, n = sub("t"), sub("t+1")
    slopes = _gate_slopes(record)
    if record.cell == "gru":
        general = f"δh{t} = ∂C/∂y{t} + δh{n} ⊙ z{n} + δ(hW){n} W_hh"
    else:
        general = f"δh{t} = ∂C/∂y{t} + δz{n} W_hh"
    equation = Equation("BPTT1", general, f"at t = {step}: {general}")
    equations = [equation]
    if record.grad_from_above is None:
        equation.note = (
            "Not checked: each call of a cell returns h_t to the program, which may use it "
            "anywhere (the next call, the loss); δh_t is the whole gradient autodiff gave it."
        )
        equation.terms.append((f"δh{t} from autodiff", record.delta[step]))
    else:
        recurrent = record.following(record.delta_rec) @ record.w_hh
        operands = [record.grad_from_above, 1.0, _at_last(record, record.grad_h_n), 1.0]
        operands += [recurrent, 1.0]
        if record.cell == "gru":
            operands += [record.following(record.delta), record.following(record.gates["z"])]
        equation.terms += [
            (f"∂C/∂y{t}", record.grad_from_above[step]),
            (f"δ(hW){n} (zero after the last step)", record.following(record.delta_rec)[step]),
            ("W_hh", record.w_hh),
        ]
        equation.note = (
            "At the last step processed, the gradient that reached the final state h_n takes "
            "the place of the next step's."
        )
        equation.check = check(_product_sum, tuple(operands), record.delta)
        equation.shown = shown
    if record.cell == "lstm":
        cell = Equation(
            "BPTT2",
            f"δc{t} = δh{t} ⊙ o{t} ⊙ (1 − tanh² c{t}) + δc{n} ⊙ f{n}",
            f"at t = {step}",
            [(f"δh{t}", record.delta[step]), (f"o{t} ⊙ (1 − tanh² c{t})", slopes["c"][step])],
        )
        if record.h_given is not None:
            cell.note = "Not checked for a cell: c_t goes back to the program after each call."
            cell.terms.append((f"δc{t} from autodiff", record.delta_c[step]))
        else:
            operands = (
                record.delta,
                slopes["c"],
                record.following(record.delta_c),
                record.following(record.gates["f"]),
                _at_last(record, record.grad_c_n),
                1.0,
            )
            cell.check = check(_product_sum, operands, record.delta_c)
            cell.shown = shown
        equations.append(cell)
    return equations


def _gate_equations(record: RecurrentRecord, step: int, shown: tuple) -> list[Equation]:
    t = sub("t")
    slopes = _gate_slopes(record)
    if record.cell.startswith("rnn"):
        derivative = "1 − h²" if record.cell == "rnn_tanh" else "1 where h > 0, else 0"
        equation = Equation("BPTT3", f"δz{t} = δh{t} ⊙ σ'(z{t})", f"σ'(z) = {derivative}")
        equation.terms += [(f"δh{t}", record.delta[step]), (f"σ'(z{t})", slopes["h"][step])]
        equation.check = check(_product_sum, (record.delta, slopes["h"]), record.delta_in)
        equation.shown = shown
        return [equation]
    if record.cell == "lstm":
        dc, dh = record.delta_c, record.delta
        general = (
            f"δz{t} = [δc ⊙ g ⊙ σ'(i), δc ⊙ c{sub('t−1')} ⊙ σ'(f), δc ⊙ i ⊙ tanh'(g), "
            f"δh ⊙ tanh c ⊙ σ'(o)]{t}"
        )
        equation = Equation("BPTT3", general, "the four gates side by side, PyTorch's order")
        equation.terms += [(f"δc{t}", dc[step]), (f"δh{t}", dh[step])]

        def gates_lstm(dc: Any, si: Any, sf: Any, sg: Any, dh: Any, so: Any) -> Any:
            return numpy.concatenate([dc * si, dc * sf, dc * sg, dh * so], axis=-1)

        operands = (dc, slopes["i"], slopes["f"], slopes["g"], dh, slopes["o"])
        equation.check = check(gates_lstm, operands, record.delta_in)
        equation.shown = shown
        return [equation]
    dh, r = record.delta, record.gates["r"]

    def gru_gates(dh: Any, sn: Any, sz: Any, sr: Any, through_n: Any) -> Any:
        """[δr, δz, δn ⊙ through_n]: through_n is 1 on the input side, r on the recurrent."""
        dn = dh * sn
        return numpy.concatenate([dn * sr, dh * sz, dn * through_n], axis=-1)

    operands = (dh, slopes["n"], slopes["z"], slopes["r"])
    first = Equation(
        "BPTT3",
        f"δn{t} = δh{t} ⊙ (1 − z{t}) ⊙ tanh'(n{t});  ∂C/∂(x W_ihᵀ + b_ih){t} = "
        f"[δn ⊙ (h W_hnᵀ + b_hn) ⊙ σ'(r), δh ⊙ (h{sub('t−1')} − n) ⊙ σ'(z), δn]{t}",
        "the gates r, z, n side by side",
        [(f"δh{t}", dh[step]), (f"z{t}", record.gates["z"][step])],
    )
    first.check = check(gru_gates, (*operands, 1.0), record.delta_in)
    first.shown = shown
    second = Equation(
        "BPTT4",
        f"∂C/∂(h W_hhᵀ + b_hh){t} = [δr, δz, δn ⊙ r]{t}",
        "the same, but the new gate's part passes through r",
        [(f"r{t}", r[step])],
    )
    second.check = check(gru_gates, (*operands, r), record.delta_rec)
    second.shown = shown
    return [first, second]


def _weight_equations(record: RecurrentRecord, step: int) -> list[Equation]:
    t = sub("t")
    contributions = record.weight_contributions()
    w_in = Equation(
        "W1",
        f"∂C/∂W_ih = Σ_t δ(xW){t}ᵀ x{t}",
        "summed over every step and sample",
        [(f"this step's share δ(xW){t}ᵀ x{t}", contributions["W_ih"][step])],
    )
    w_in.check = check(
        lambda d, x: numpy.einsum("tbg,tbi->gi", d, x),
        (record.delta_in, record.a_in),
        record.grad_w_ih,
    )
    w_rec = Equation(
        "W2",
        f"∂C/∂W_hh = Σ_t δ(hW){t}ᵀ h{sub('t−1')}",
        "summed over every step and sample: each step adds its share",
        [(f"this step's share δ(hW){t}ᵀ h{sub('t−1')}", contributions["W_hh"][step])],
    )
    w_rec.check = check(
        lambda d, h: numpy.einsum("tbg,tbh->gh", d, h),
        (record.delta_rec, record.h_before),
        record.grad_w_hh,
    )
    equations = [w_in, w_rec]
    bias = Equation("W3", "∂C/∂b_ih = Σ_t δ(xW)_t,  ∂C/∂b_hh = Σ_t δ(hW)_t", "[b_ih; b_hh]")
    if record.grad_bias is None:
        bias.note = "The layer has no biases."
    else:
        bias.check = check(
            lambda a, b: numpy.concatenate([a.sum(axis=(0, 1)), b.sum(axis=(0, 1))]),
            (record.delta_in, record.delta_rec),
            record.grad_bias,
        )
    equations.append(bias)
    for equation in equations[:2]:
        equation.note = (
            "Right-hand side from the unrolled steps' δ; autodiff here is the fused layer's "
            "own backward, an independent computation."
        )
    return equations
