"""Regression tests for the failures the gradient fuzzer (tests/test_gradient_fuzz.py) found.

Each test is one minimal program, written once as ``program(m)`` and run with ``m = chainrule``
and ``m = torch`` on the same float64 inputs; values and gradients must agree with PyTorch's.
The write-up of each finding (the cause, where it sits) is in the fuzzer's report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

Program = Callable[[Any], dict[str, Any]]


def as_array(value: Any) -> np.ndarray | None:
    """A tensor (or its grad) as a NumPy array of its own; None stays None."""
    return None if value is None else value.detach().numpy().copy()


def run(program: Program, m: Any) -> dict[str, np.ndarray | None]:
    """The program's named tensors, as arrays: ``name`` is the value, ``name.grad`` its grad."""
    results = {}
    for name, tensor in program(m).items():
        results[name] = as_array(tensor)
        if tensor.requires_grad and (tensor.is_leaf or tensor.retains_grad):
            results[f"{name}.grad"] = as_array(tensor.grad)
    return results


def assert_matches_torch(program: Program) -> None:
    expected = run(program, torch)
    actual = run(program, cr)
    assert actual.keys() == expected.keys()
    for name, want in expected.items():
        got = actual[name]
        assert (got is None) == (want is None), f"{name}: {got} where PyTorch gives {want}"
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=name)


def f64(m: Any, values: Any, requires_grad: bool = False) -> Any:
    return m.tensor(values, dtype=m.float64, requires_grad=requires_grad)


# ---- the engine: a kept gradient must not change the gradients still pending ---------------------


def test_leaf_gradient_kept_without_copy_is_not_changed_by_later_contributions() -> None:
    """v1 reaches the output along four paths; the first contribution kept as v1.grad was the
    very array still pending for v0 (Mul's backward), and adding the later ones into it in
    place changed v0's gradient."""

    def program(m: Any) -> dict[str, Any]:
        v0 = f64(m, [-2.2], requires_grad=True)
        v1 = f64(m, [0.98], requires_grad=True)
        v3 = m.relu(v1)
        v4 = v0 * v1
        v5 = v3 + v1
        v9 = v4 + v1
        out = (v9 - v5) + v3 * 0.5
        out.sum().backward()
        return {"v0": v0, "v1": v1}  # v0.grad [0.98], v1.grad [-2.7]

    assert_matches_torch(program)


def test_broadcast_leaf_gradient_is_not_changed_by_later_contributions() -> None:
    def program(m: Any) -> dict[str, Any]:
        v0 = f64(m, [0.2, 0.3, 0.0], requires_grad=True)
        v2 = f64(m, [0.28], requires_grad=True)
        v4 = v2.sum(dim=-1, keepdim=True)
        ((v0 - v2) - (v4 + v2)).sum().backward()
        return {"v0": v0, "v2": v2}  # v2.grad [-9.]

    assert_matches_torch(program)


# ---- NumPy interoperability ----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy")
def test_numpy_array_with_copy_true_does_not_share_memory() -> None:
    """NumPy 2 trusts ``__array__(copy=True)`` to return a copy; ignoring ``copy`` hands out
    the tensor's own memory, and writing to the 'copy' changes the tensor."""
    for m in (torch, cr):
        t = f64(m, [1.0, 2.0])
        snapshot = np.array(t, copy=True)
        snapshot[0] = 99.0
        assert t[0].item() == 1.0, f"{m.__name__}: np.array(t, copy=True) shares memory"


# ---- operations ----------------------------------------------------------------------------------


def test_linear_with_zero_output_features_backward() -> None:
    """A (0, in) weight: the gradient (0,) for a 1-D input is reshaped with -1 next to a 0."""

    def program(m: Any) -> dict[str, Any]:
        x = f64(m, [0.5, 1.0], requires_grad=True)
        weight = m.zeros((0, 2), dtype=m.float64, requires_grad=True)
        bias = m.zeros((0,), dtype=m.float64, requires_grad=True)
        y = m.nn.functional.linear(x, weight, bias)
        (y.sum() + x.sum()).backward()
        return {"x": x, "weight": weight, "bias": bias}

    assert_matches_torch(program)


def test_cross_entropy_differentiates_probability_targets() -> None:
    """PyTorch's cross_entropy with class probabilities is differentiable in the target."""

    def program(m: Any) -> dict[str, Any]:
        logits = f64(m, [[0.3, -0.2, 0.5], [1.0, 0.1, -0.4]], requires_grad=True)
        scores = f64(m, [[0.7, 0.2, -0.5], [0.1, 0.4, 0.3]], requires_grad=True)
        loss = m.nn.functional.cross_entropy(logits, scores.softmax(1))
        loss.backward()
        return {"logits": logits, "scores": scores, "loss": loss}

    assert_matches_torch(program)


def test_cross_entropy_requires_grad_when_only_the_target_does() -> None:
    def program(m: Any) -> dict[str, Any]:
        logits = f64(m, [[0.3, -0.2, 0.5]])
        scores = f64(m, [[0.7, 0.2, -0.5]], requires_grad=True)
        loss = m.nn.functional.cross_entropy(logits, scores.softmax(1), reduction="sum")
        assert loss.requires_grad, m.__name__
        loss.backward()
        return {"scores": scores}

    assert_matches_torch(program)


def test_clamp_with_tensor_bounds_at_a_tie_passes_the_whole_gradient_to_the_input() -> None:
    """clamp(x, min=lo, max=hi) with tensor bounds: where x equals a bound PyTorch treats x as
    inside [lo, hi] (gradient 1 to x, 0 to the bound); maximum/minimum split ties ½ and ½."""

    def program(m: Any) -> dict[str, Any]:
        x = f64(m, [-1.61, 0.5, 0.0], requires_grad=True)
        lo = f64(m, [-1.61, 0.2, 0.0], requires_grad=True)
        hi = f64(m, [0.3, 0.5, 0.0], requires_grad=True)
        (x.clamp(max=hi) + m.clamp(x, min=lo) + m.clamp(x, lo, hi)).sum().backward()
        return {"x": x, "lo": lo, "hi": hi}

    assert_matches_torch(program)


def test_flatten_that_merges_nothing_returns_the_input_itself() -> None:
    """PyTorch's flatten returns its input when no dimensions are merged, so ``y`` *is* the
    leaf ``x``: retain_grad on it is a no-op and ``y.grad`` is the leaf's total gradient."""

    def program(m: Any) -> dict[str, Any]:
        x = f64(m, [[0.5], [2.0]], requires_grad=True)
        y = x.flatten(1)
        y.retain_grad()
        (y.sum() + (x * 3).sum()).backward()
        return {"x": x, "y": y}

    assert_matches_torch(program)


# ---- size-0 axes ---------------------------------------------------------------------------------


def test_batch_times_a_matrix_with_zero_columns_backward() -> None:
    """(1, 2, 3) @ (3, 0): the weight-gradient shortcut reshapes with -1 next to a 0."""

    def program(m: Any) -> dict[str, Any]:
        batch = f64(m, [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]], requires_grad=True)
        weight = m.zeros((3, 0), dtype=m.float64, requires_grad=True)
        (batch @ weight).sum().backward()
        return {"batch": batch, "weight": weight}

    assert_matches_torch(program)


def test_embedding_of_a_zero_width_table_backward() -> None:
    def program(m: Any) -> dict[str, Any]:
        table = m.zeros((2, 0), dtype=m.float64, requires_grad=True)
        rows = m.nn.functional.embedding(m.tensor([1, 0]), table)
        rows.sum().backward()
        return {"table": table, "rows": rows}

    assert_matches_torch(program)


def test_chunk_of_an_empty_axis_gives_the_requested_pieces() -> None:
    for m in (torch, cr):
        x = m.zeros((1, 0, 1), dtype=m.float64, requires_grad=True)
        assert len(x.chunk(3, 1)) == 3, m.__name__


def test_softmax_family_over_an_empty_axis() -> None:
    def program(m: Any) -> dict[str, Any]:
        x = m.zeros((4, 0), dtype=m.float64, requires_grad=True)
        soft, log_soft = x.softmax(-1), m.log_softmax(x, 1)
        (soft.sum() + log_soft.sum()).backward()
        return {"x": x, "soft": soft, "log_soft": log_soft}

    assert_matches_torch(program)


def test_logsumexp_over_an_empty_axis_is_minus_infinity() -> None:
    def program(m: Any) -> dict[str, Any]:
        x = m.zeros((4, 0), dtype=m.float64, requires_grad=True)
        y = x.logsumexp(1)
        y.backward(f64(m, [1.0, 2.0, 3.0, 4.0]))
        return {"x": x, "y": y}

    assert_matches_torch(program)


def test_layer_norm_over_an_empty_shape() -> None:
    def program(m: Any) -> dict[str, Any]:
        x = m.zeros((2, 0), dtype=m.float64, requires_grad=True)
        weight = m.zeros((0,), dtype=m.float64, requires_grad=True)
        y = m.nn.functional.layer_norm(x, (0,), weight)
        y.sum().backward()
        return {"x": x, "weight": weight, "y": y}

    assert_matches_torch(program)


def test_batch_norm_of_an_empty_batch_in_training() -> None:
    def program(m: Any) -> dict[str, Any]:
        x = m.zeros((0, 2), dtype=m.float64, requires_grad=True)
        y = m.nn.functional.batch_norm(x, None, None, training=True)
        y.sum().backward()
        return {"x": x, "y": y}

    assert_matches_torch(program)


# ---- in-place updates in a recorded graph -------------------------------------------------------
#
# Each program takes ``fresh``, applied to the tensor just before it is changed in place: the
# identity for the program as written, ``clone`` for the same computation without any aliasing.
# Where PyTorch runs the program, chainrule must give its values and gradients. Where PyTorch
# refuses it (a value saved for backward was overwritten), chainrule may refuse it too, with the
# same error, or run it if it kept its own copy of what its backward needs; then its gradients
# must be those of the program as written, which PyTorch computes with ``fresh = clone``.

INPLACE_ERROR = "modified by an inplace operation"
InplaceProgram = Callable[[Any, Callable[[Any], Any]], dict[str, Any]]


def outcome(program: Program, m: Any) -> dict[str, np.ndarray | None] | str:
    """The program's results, or the message of the RuntimeError it raised."""
    try:
        return run(program, m)
    except RuntimeError as error:
        return str(error)


def assert_close_results(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for name, want in expected.items():
        got = actual[name]
        assert (got is None) == (want is None), f"{name}: {got} where PyTorch gives {want}"
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=name)


def assert_inplace_semantics_match_torch(program: InplaceProgram) -> str:
    """Check ``program`` by the rule above; returns how chainrule and PyTorch ended, so that a
    test can pin it: "same" (both ran alike), "refused" (both refused), or "exact" (PyTorch
    refused, chainrule ran and its gradients are the program's own)."""
    as_written = lambda m: program(m, lambda t: t)  # noqa: E731
    expected = outcome(as_written, torch)
    actual = outcome(as_written, cr)
    if not isinstance(expected, str):
        assert not isinstance(actual, str), f"PyTorch runs it; chainrule raises {actual!r}"
        assert_close_results(actual, expected)
        return "same"
    assert INPLACE_ERROR in expected, expected
    if isinstance(actual, str):
        assert INPLACE_ERROR in actual, actual
        return "refused"
    assert_close_results(actual, run(lambda m: program(m, lambda t: t.clone()), torch))
    return "exact"


def test_inplace_product_of_a_tensor_with_itself() -> None:
    """``v1.mul_(v1)``: PyTorch's Mul saved v1 (both factors) and then overwrote it, and
    refuses; chainrule computes the product on a copy of the old values: d(v²)/dv = 2v."""
    for m in (torch, cr):
        v0 = f64(m, [0.5, 2.0], requires_grad=True)
        v1 = v0.clone()
        v1.mul_(v1)
        if m is torch:
            with pytest.raises(RuntimeError, match=INPLACE_ERROR):
                v1.sum().backward()
        else:
            v1.sum().backward()
            np.testing.assert_allclose(as_array(v0.grad), [1.0, 4.0], rtol=1e-12)
            np.testing.assert_allclose(as_array(v1), [0.25, 4.0], rtol=1e-12)


def test_inplace_updates_of_a_0d_tensor_backward() -> None:
    """copy_ then add_ on a 0-d tensor: the two 0-d gradients summed for v1 are a NumPy
    scalar, which SetItem's backward cannot assign into."""

    def program(m: Any) -> dict[str, Any]:
        v0 = f64(m, 0.5, requires_grad=True)
        v1 = v0.clone()
        v1.copy_(v1)
        v1.add_(v1)
        v1.sum().backward()
        return {"v0": v0, "v1": v1}

    assert_matches_torch(program)


# Operations whose backward PyTorch computes from the saved output. chainrule's operation keeps
# a copy of its output when the output itself is changed in place, so it runs these exactly.
SAVE_OUTPUT = {
    "exp": lambda m, x: x.exp(),
    "tanh": lambda m, x: m.tanh(x),
    "sigmoid": lambda m, x: x.sigmoid(),
    "relu": lambda m, x: m.relu(x),
    "sqrt": lambda m, x: m.sqrt(x),
    "softmax": lambda m, x: x.softmax(0),
    "log_softmax": lambda m, x: x.log_softmax(0),
    "logsumexp": lambda m, x: x.logsumexp(0),
    "std": lambda m, x: x.std(correction=0),
}


@pytest.mark.parametrize("shape", ["0-d", "1-d"])
@pytest.mark.parametrize("op", list(SAVE_OUTPUT))
def test_output_changed_in_place_after_use(op: str, shape: str) -> None:
    def program(m: Any, fresh: Callable) -> dict[str, Any]:
        v0 = f64(m, 0.25 if shape == "0-d" else [0.25, 0.5], requires_grad=True)
        v1 = fresh(SAVE_OUTPUT[op](m, v0))
        v1.add_(1.0)
        v1.sum().backward()
        return {"v0": v0}

    assert assert_inplace_semantics_match_torch(program) == "exact"


@pytest.mark.parametrize("op", ["relu_", "exp_", "sigmoid_"])
def test_inplace_activation_changed_again(op: str) -> None:
    """relu_, exp_ and sigmoid_ save their result in PyTorch, so a second in-place change is
    refused there; chainrule keeps its own copy."""

    def program(m: Any, fresh: Callable) -> dict[str, Any]:
        v0 = f64(m, [1.48, -1.0, -0.3], requires_grad=True)
        v1 = v0.clone()
        getattr(v1, op)()
        v1 = fresh(v1)
        v1.mul_(2.0)
        v1.sum().backward()
        return {"v0": v0}

    assert assert_inplace_semantics_match_torch(program) == "exact"


def test_quotient_and_power_may_be_changed_in_place() -> None:
    """PyTorch's division and power save their inputs, not their output: changing a / b or
    a ** 3 in place afterwards is allowed."""

    def program(m: Any, fresh: Callable) -> dict[str, Any]:
        a = f64(m, [0.3, -0.4], requires_grad=True)
        b = f64(m, [2.0, 4.0], requires_grad=True)
        quotient, cube = fresh(a / b), fresh(a**3)
        quotient.add_(1.0)
        cube.sub_(1.5)
        (quotient.sum() + cube.sum()).backward()
        return {"a": a, "b": b, "quotient": quotient, "cube": cube}

    assert assert_inplace_semantics_match_torch(program) == "same"


# Operations whose backward PyTorch computes from the saved input. chainrule's keep what they
# need in another form (x − mean, the quotient for the denominator's gradient...).
SAVE_INPUT = {
    "var": lambda m, x: x.var(0),
    "std": lambda m, x: x.std(0),
    "mse_loss": lambda m, x: m.nn.functional.mse_loss(x, x.detach() * 0.5),
    "huber_loss": lambda m, x: m.nn.functional.huber_loss(x, x.detach() * 0.5),
    "bce_with_logits": lambda m, x: m.nn.functional.binary_cross_entropy_with_logits(
        x, x.detach().sigmoid()
    ),
    "layer_norm": lambda m, x: m.nn.functional.layer_norm(x, (3,)),
    "elu": lambda m, x: m.nn.functional.elu(x),
    "softplus": lambda m, x: m.nn.functional.softplus(x),
    "leaky_relu": lambda m, x: m.nn.functional.leaky_relu(x, 0.2),
    "avg_pool1d": lambda m, x: m.nn.functional.avg_pool1d(x.reshape(1, 1, 3), 2, stride=1),
    "numerator": lambda m, x: x / f64(m, [2.0, 4.0, 8.0], requires_grad=True),
}


@pytest.mark.parametrize("op", list(SAVE_INPUT))
def test_input_changed_in_place_after_use(op: str) -> None:
    def program(m: Any, fresh: Callable) -> dict[str, Any]:
        v0 = f64(m, [0.3, -0.8, 1.2], requires_grad=True)
        x = v0 * 1.0
        y = SAVE_INPUT[op](m, x)
        x = fresh(x)
        x.add_(0.5)
        y.sum().backward()
        return {"v0": v0}

    assert assert_inplace_semantics_match_torch(program) == "exact"


def test_convolution_input_changed_in_place_after_use() -> None:
    def program(m: Any, fresh: Callable) -> dict[str, Any]:
        v0 = f64(m, [[[1.0, 2.0, 3.0]]], requires_grad=True)
        x = v0 * 1.0
        weight = f64(m, [[[0.5, -1.0]]], requires_grad=True)
        y = m.nn.functional.conv1d(x, weight)
        x = fresh(x)
        x.fill_(0.25)
        y.sum().backward()
        return {"weight": weight}

    assert assert_inplace_semantics_match_torch(program) == "exact"


def test_max_pool_output_may_be_changed_in_place() -> None:
    """PyTorch's max_pool backward needs the indices, not the output: changing the output in
    place is allowed."""

    def program(m: Any, fresh: Callable) -> dict[str, Any]:
        v0 = f64(m, [[[1.0, 2.0, 3.0, 0.5]]], requires_grad=True)
        y = fresh(m.nn.functional.max_pool1d(v0, 2))
        y.neg_()
        y.sum().backward()
        return {"v0": v0, "y": y}

    assert assert_inplace_semantics_match_torch(program) == "same"


def test_vector_times_batch_keeps_its_own_copy_of_the_batch() -> None:
    """PyTorch's vector @ (batch of matrices) saves a copy of the batch, so a later in-place
    change of the batch is allowed and the gradient uses the values at the product."""

    def program(m: Any, fresh: Callable) -> dict[str, Any]:
        v = f64(m, [1.0, 2.0, -1.0], requires_grad=True)
        batch = m.arange(12.0, dtype=m.float64).reshape(2, 3, 2)
        y = v @ batch
        batch = fresh(batch)
        batch.mul_(2.0)
        y.sum().backward()
        return {"v": v, "y": y}

    assert assert_inplace_semantics_match_torch(program) == "same"


def test_masked_fill_of_an_output_that_a_product_already_used() -> None:
    """masked_fill_ writes the memory while it computes: softmax must keep its own copy of its
    output before that, or its backward reads the filled values (found by a long fuzz run)."""

    def program(m: Any, fresh: Callable) -> dict[str, Any]:
        v0 = f64(m, [0.0, 0.0], requires_grad=True)
        v6 = v0.softmax(0)
        v13 = f64(m, [[[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.01]]], requires_grad=True)
        v14 = v6 @ v13
        v6 = fresh(v6)
        v6.masked_fill_(v6 > 0.2, -1.0)
        v14.sum().backward()
        return {"v0": v0, "v13": v13}

    assert assert_inplace_semantics_match_torch(program) == "exact"


def test_gradient_through_a_saturated_sigmoid_is_not_finite_where_torch_s_is_not() -> None:
    """∂/∂y of binary_cross_entropy(x, y) at x = σ(37.6) = 1 is −∞, times σ'(37.6): PyTorch's
    σ(1 − σ) rounds σ' to 0 (nan), chainrule's σ/(1 + eᶻ) keeps 4.5e-17 (−∞). Both not finite."""
    grads = []
    for m in (torch, cr):
        v0 = f64(m, 1.97, requires_grad=True)
        v6 = 2 * ((v0 * v0 + 0.5) ** v0 + 0.5)
        m.nn.functional.binary_cross_entropy(v6.sigmoid(), v6.sigmoid()).backward()
        grads.append(float(as_array(v0.grad)))
    assert not np.isfinite(grads[0]) and not np.isfinite(grads[1])


ADVANCED_INDICES = {
    "integers on the last axis": lambda m, v: v[..., [0, 0]],
    "integers on a middle axis": lambda m, v: v[:, [2, 0]],
    "integers on two axes": lambda m, v: v[[1, 0], :, [1, 1]],
    "a mask": lambda m, v: v[v > 3],
    "a slice (a view)": lambda m, v: v[:, 1:],
}


@pytest.mark.parametrize("index", list(ADVANCED_INDICES))
def test_indexing_gives_torchs_strides(index: str) -> None:
    """An index with integer arrays copies, and PyTorch lays the copy out row-major; NumPy
    may not (x[..., [0, 0]] came out with strides (3, 1, 6)), and then a reshape of it copied
    where PyTorch's is a view."""
    results = []
    for m in (cr, torch):
        got = ADVANCED_INDICES[index](m, m.tensor(np.arange(12.0).reshape(2, 3, 2)))
        results.append((got.tolist(), got.stride(), got.is_contiguous()))
    assert results[0] == results[1]


def test_a_view_of_a_split_piece_of_an_indexed_copy_refuses_in_place_changes() -> None:
    """Found by the fuzzer (seed 1211): the piece of split() of x[..., [0, 0]], reshaped and
    sliced, is a view of a piece, which PyTorch does not let change in place in a graph;
    chainrule's reshape had copied (NumPy's column-major copy) and so let relu_ run."""
    for m in (cr, torch):
        v0 = f64(m, [[[0.0], [0.0]]], requires_grad=True)
        (piece,) = v0[..., [0, 0]].split(1, 0)
        with pytest.raises(RuntimeError, match="returns multiple views"):
            piece.reshape(4)[1:].relu_()


TENSORDOT_SHAPES = [
    ((1,), (1, 1), 1),
    ((2, 1), (1, 3), 1),
    ((2, 1, 1), (1, 1, 3), 2),
    ((3,), (3, 1), 1),
    ((1, 3), (3, 2), 1),
    # fuzz seed 1217: a contracted pair of size 1 beside one of size 2
    ((2, 1), (2, 1, 1), 2),
    ((1, 2), (1, 2, 3), 2),
    ((2, 3), (2, 3), 2),
    ((2, 1, 3), (1, 3, 2), 2),
    ((4, 2), (2,), 1),
    ((2, 3), (4,), 0),
]


@pytest.mark.parametrize(("shape_a", "shape_b", "dims"), TENSORDOT_SHAPES)
@pytest.mark.parametrize("changed", ["a", "b"])
def test_tensordot_operand_changed_in_place_after_use(shape_a, shape_b, dims, changed) -> None:
    """Found by the fuzzer (seeds 1211, 1214 and 1217): PyTorch's tensordot sums an operand
    over each contracted dimension where the other has size 1 (a new tensor), so changing that
    operand in place afterwards leaves backward running (on the old values); where nothing is
    summed, the product keeps a view and backward refuses."""

    def program(m: Any) -> dict[str, Any]:
        a = f64(m, np.full(shape_a, 2.0), requires_grad=changed == "b")
        b = f64(m, np.full(shape_b, 3.0), requires_grad=changed == "a")
        out = m.tensordot(a, b, dims)
        (a if changed == "a" else b).add_(1.0)
        out.sum().backward()
        return {"a": a, "b": b}

    expected, actual = outcome(program, torch), outcome(program, cr)
    if isinstance(expected, str):
        assert INPLACE_ERROR in expected and isinstance(actual, str), actual
        assert INPLACE_ERROR in actual, actual
    else:
        assert not isinstance(actual, str), f"PyTorch runs it; chainrule raises {actual!r}"
        assert_close_results(actual, expected)


@pytest.mark.parametrize(
    ("shape_a", "shape_b", "dims"),
    [((3, 4), (1, 5), ([0], [0])), ((2, 1, 3), (4, 3), ([1, 2], [0, 1])), ((2, 1), (3,), 1)],
)
def test_tensordot_broadcasts_a_contracted_pair_of_size_one(shape_a, shape_b, dims) -> None:
    """A contracted pair with size 1 on one side broadcasts in PyTorch (the other side is
    summed over it); chainrule refused the sizes as unequal."""
    rng = np.random.default_rng(17)
    values_a, values_b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    results = []
    for m in (cr, torch):
        a = f64(m, values_a, requires_grad=True)
        b = f64(m, values_b, requires_grad=True)
        out = m.tensordot(a, b, dims)
        (out * out).sum().backward()
        results.append((out.detach().numpy(), a.grad.numpy(), b.grad.numpy()))
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape", [(2, 0), (0, 3), (0,), (3, 0, 2)])
def test_an_empty_tensor_changes_in_place(shape) -> None:
    """NumPy gives the axes of an empty (2, 0) array stride 0, which the check for expanded
    tensors took for one element in several places: add_ on it raised."""
    for m in (cr, torch):
        x = m.zeros(*shape, requires_grad=True) * 1.0
        x.add_(1.0).relu_()
        x.sum().backward()
        assert tuple(x.shape) == shape


def test_a_0d_integer_tensor_indexes_as_an_int_giving_a_view() -> None:
    """x[m.tensor(-1)] is a view in PyTorch, so a later change of x shows through it; NumPy
    would read a 0-d integer array as an advanced index and copy (found by a long fuzz run)."""

    def program(m: Any) -> dict[str, Any]:
        v0 = f64(m, [0.5, -1.0, 2.0], requires_grad=True)
        v3 = v0 * 1.0
        v4 = v3[m.tensor(-1)]
        v3[1:].mul_(3.0)
        (v4 * v4).backward()
        return {"v0": v0, "v4": v4}

    assert_matches_torch(program)


def test_copy_from_itself_changes_nothing_even_where_an_expand_repeats_elements() -> None:
    for m in (torch, cr):
        row = f64(m, [1.0, 2.0, 3.0], requires_grad=True) * 1.0
        repeated = row.expand(3, 3)[1:]
        repeated.copy_(repeated)  # PyTorch returns at once: nothing is written
        np.testing.assert_array_equal(as_array(row), [1.0, 2.0, 3.0])


def test_pad_of_zero_width_is_a_tensor_of_its_own() -> None:
    """F.pad(x, (0, 0), mode='reflect') returned x's own array: an in-place change of the result
    changed x as well (found by a long fuzz run)."""

    def program(m: Any) -> dict[str, Any]:
        v0 = f64(m, [[[0.5, -1.0, 2.0]]], requires_grad=True)
        v2 = f64(m, [[[0.0, 0.0, 0.01]]])
        v4 = m.nn.functional.pad(v2, (0, 0), mode="reflect")
        v4.add_(v4)
        (v4 * v0).sum().backward()
        return {"v0": v0, "v2": v2, "v4": v4}

    assert_matches_torch(program)


def test_copy_from_itself_is_a_new_version_in_a_graph() -> None:
    """In PyTorch, v.copy_(v) writes nothing but gives v a new history, to which retain_grad
    moves: v's .grad is then that of the unused new version, None (found by a long run)."""

    def program(m: Any) -> dict[str, Any]:
        v0 = f64(m, [0.5, 2.0], requires_grad=True)
        v2 = v0 * 3.0
        v2.retain_grad()
        v3 = v2 * 2.0  # keeps nothing of v2, so the new version breaks nothing
        v2.copy_(v2)
        v3.sum().backward()
        return {"v0": v0, "v2": v2}

    assert_matches_torch(program)


def test_copy_from_itself_of_a_view_of_a_leaf_is_refused_as_in_torch() -> None:
    for m in (torch, cr):
        leaf = f64(m, 0.5, requires_grad=True)
        view = leaf.unsqueeze(0)[0]
        with pytest.raises(RuntimeError, match="view of a leaf Variable"):
            view.copy_(view)


@pytest.mark.filterwarnings("ignore:Use of masked_fill_ on expanded tensors is deprecated")
@pytest.mark.parametrize("change", ["fill_(0.25)", "zero_()", "masked_fill_(m.tensor(True), 1.5)"])
def test_one_value_into_an_expanded_tensor_outside_a_graph(change: str) -> None:
    """PyTorch's fill_, zero_ and masked_fill_ write one value where expand repeats an element
    (the other in-place operations refuse there)."""
    results = []
    for m in (torch, cr):
        base = f64(m, 0.0)
        repeated = base.expand(3)[1:]
        eval(f"repeated.{change}", {"m": m, "repeated": repeated})
        results.append(float(as_array(base)))
    assert results[0] == results[1]


def test_cross_entropy_per_sample_is_a_tensor_of_its_own() -> None:
    """reduction='none' returned a view of a hidden row; a retained grad after an in-place
    change then differed from PyTorch's (found by a long run)."""

    def program(m: Any) -> dict[str, Any]:
        v0 = f64(m, [[0.2, -0.4], [1.0, 0.3]], requires_grad=True)
        v1 = m.nn.functional.cross_entropy(v0, m.tensor([0, 1]), reduction="none")
        v1.retain_grad()
        v1.mul_(2.0)
        v2 = v1[1:]
        v2.add_(v2)
        v1.sum().backward()
        return {"v0": v0, "v1": v1}

    assert_matches_torch(program)


@pytest.mark.filterwarnings("ignore:Use of (index_put_|masked_fill_) on expanded tensors")
@pytest.mark.parametrize(
    "index", ["m.tensor([False, False])", "m.tensor([True, False])", "[1, 0]", "(0, m.tensor([1]))"]
)
def test_advanced_index_assignment_into_an_expanded_tensor_outside_a_graph(index: str) -> None:
    """``x[tensor] = v`` is PyTorch's index_put_, which writes into memory an expand repeats
    (found by a long run: a mask selecting nothing was refused)."""
    results = []
    for m in (torch, cr):
        base = f64(m, [0.5])
        repeated = base.expand(2, 3)
        exec(f"repeated[{index}] = 1.5", {"m": m, "repeated": repeated})
        results.append(as_array(base))
    np.testing.assert_array_equal(results[1], results[0])


def test_slice_assignment_into_an_expanded_tensor_is_refused_as_in_torch() -> None:
    for m in (torch, cr):
        repeated = f64(m, [0.5]).expand(3)
        with pytest.raises(RuntimeError, match="more than one element"):
            repeated[0:2] = 1.5


def test_a_slice_of_an_expanded_view_holding_each_element_once_may_be_assigned() -> None:
    """Outside a graph PyTorch checks the region written, not the whole tensor: the last
    element of an expand()ed row is one memory location (found by a long run)."""
    results = []
    for m in (torch, cr):
        base = f64(m, 0.25)
        row = base.expand(1, 3)[0]
        row[-1:] = 0.5
        results.append(as_array(row))
    np.testing.assert_array_equal(results[1], results[0])


@pytest.mark.filterwarnings("ignore:Use of index_put_ on expanded tensors is deprecated")
@pytest.mark.parametrize("write", ["row[-1:] = 0.5", "row[[0]] = 0.5", "row.fill_(0.25)"])
def test_a_write_into_an_expanded_view_in_a_graph_is_refused(write: str) -> None:
    """A deliberate difference (found by long runs): PyTorch lets the write through and refuses
    only a backward through it (a slice holding each element once even passes, with the other
    positions of that memory losing their gradient); chainrule refuses at the write."""
    row = f64(cr, 0.25, requires_grad=True).clone().expand(1, 3)[0]
    with pytest.raises(RuntimeError, match="more than one element of the written-to"):
        exec(write, {"row": row})
    if write.startswith("row[-1:]"):
        return  # PyTorch's backward passes here: position 2's memory is positions 0 and 1's too
    for m in (torch, cr):  # where the write's result reaches the loss, PyTorch refuses too
        row = f64(m, 0.25, requires_grad=True).clone().expand(1, 3)[0]
        with pytest.raises(RuntimeError, match="more than one element of the written-to"):
            exec(write, {"row": row})
            (row * f64(m, [1.0, 2.0, 3.0])).sum().backward()


def test_copy_from_itself_of_an_expanded_view_in_a_graph_is_refused_in_backward() -> None:
    """As PyTorch: the copy is allowed, the gradient through it refused (found by a long run)."""
    for m in (torch, cr):
        v4 = f64(m, 0.25, requires_grad=True).clone()
        v7 = v4.expand(1, 3)[0]
        with pytest.raises(RuntimeError, match="more than one element of the written-to"):
            v7.copy_(v7)
            v7.sum().backward()


@pytest.mark.parametrize("ord_", [2, -2])
def test_the_spectral_norm_of_a_zero_matrix_has_torchs_subgradient(ord_: int) -> None:
    """Found by the fuzzer (seed 1206): at a zero matrix σ = 0, and the ∞-norm of σ gave the
    gradient sign(0) = 0; PyTorch takes amax (amin) of σ, whose gradient reaches u₁v₁ᵀ."""
    for shape, dims in (((1, 3, 3), (0, 1)), ((2, 2), (-2, -1)), ((3, 2), (-2, -1))):
        grads = []
        for m in (cr, torch):
            a = m.zeros(shape, dtype=m.float64, requires_grad=True)
            m.linalg.matrix_norm(a, ord_, dims).sum().backward()
            grads.append(np.asarray(a.grad.numpy()))
        np.testing.assert_array_equal(grads[0], grads[1])
        assert np.abs(grads[0]).sum() > 0


def test_the_derivative_of_a_product_with_its_own_detached_copy_is_torchs() -> None:
    """Found by the fuzzer (seed 1209, second order): x.detach() shared x's array object, so a
    backward recording a graph took the array saved for the detached factor to be x's, and
    d²(x · x.detach())/dx² came out nonzero. d/dx = x.detach(), a constant: the second
    derivative is 0, as in PyTorch."""
    for start in ([0.0], [1.5, -2.0]):
        firsts = []
        for m in (cr, torch):
            x = f64(m, start, requires_grad=True)
            (first,) = m.autograd.grad((x * x.detach()).sum(), x, create_graph=True)
            firsts.append(first)
        ours, theirs = firsts
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
        # x.detach() is a constant: the derivative depends on x through nothing
        assert ours.requires_grad is theirs.requires_grad is False
    # the detached tensor still shares x's memory and its versions
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    x.detach().add_(1)
    assert x.tolist() == [2.0, 3.0]
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# Two tensors that hold one array object, made in ways other than detach().
SHARED_ARRAY = {
    "from_numpy twice": lambda m, a: (m.from_numpy(a).requires_grad_(), m.from_numpy(a)),
    "x.data": lambda m, a: (lambda x: (x, x.data))(m.from_numpy(a).requires_grad_()),
    "Parameter(t) beside t": lambda m, a: (lambda t: (m.nn.Parameter(t), t))(m.from_numpy(a)),
}


@pytest.mark.parametrize("made", list(SHARED_ARRAY))
@pytest.mark.parametrize("constant_first", [False, True])
def test_a_constant_sharing_the_array_of_a_tensor_that_requires_grad(made, constant_first):
    """x and a constant c that hold one array object: d/dx (x·c) = c, a constant, so its own
    derivative needs no graph (PyTorch refuses to differentiate it). chainrule took the saved
    array of c for x's and gave d²(x·c)/dx² = 1."""
    for m in (cr, torch):
        x, c = SHARED_ARRAY[made](m, np.array([2.0, -3.0]))
        product = c * x if constant_first else x * c
        (first,) = m.autograd.grad(product.sum(), x, create_graph=True)
        np.testing.assert_array_equal(first.detach().numpy(), [2.0, -3.0])
        assert first.requires_grad is False, m.__name__


SHARED_OPS = {
    "mul": lambda m, a, b: a * b,
    "div": lambda m, a, b: a / b,
    "pow": lambda m, a, b: a.abs() ** b,
    "atan2": lambda m, a, b: m.atan2(a, b),
    "addcmul": lambda m, a, b: m.addcmul(a, a, b),  # three inputs, two of them one tensor
    "stack": lambda m, a, b: m.stack([a, b, a]).prod(0),
}


@pytest.mark.parametrize("op", list(SHARED_OPS))
@pytest.mark.parametrize("order", ["xy", "yx"])
def test_second_derivatives_of_two_tensors_on_one_array_are_torchs(op, order) -> None:
    """x and y, both requiring grad, from_numpy of one array: every first and second
    derivative as PyTorch's (8 of these 12 cases were wrong when x's and y's saved arrays were
    told apart by identity alone)."""

    def program(m: Any) -> dict[str, Any]:
        shared = np.array([2.0, 3.0, -1.5])
        x, y = m.from_numpy(shared).requires_grad_(), m.from_numpy(shared).requires_grad_()
        a, b = (x, y) if order == "xy" else (y, x)
        gx, gy = m.autograd.grad(SHARED_OPS[op](m, a, b).sum(), (x, y), create_graph=True)
        hx, hy = m.autograd.grad((gx * gx).sum() + gy.sum(), (x, y))
        return {"gx": gx.detach(), "gy": gy.detach(), "hx": hx, "hy": hy}

    assert_matches_torch(program)


@pytest.mark.parametrize(
    ("query", "key", "value"),
    [
        ((1, 0, 1), (1, 1, 1), (1, 1, 1)),  # no queries
        ((1, 2, 3), (1, 0, 3), (1, 0, 2)),  # no keys
        ((0, 2, 3), (0, 4, 3), (0, 4, 2)),  # an empty batch
        ((1, 2, 3), (1, 4, 3), (1, 4, 0)),  # values of width 0
        ((1, 2, 0), (1, 4, 0), (1, 4, 2)),  # E = 0: PyTorch's scale is 1/√0 = inf
        ((2, 1, 2, 3), (1, 0, 3), (1, 0, 2)),  # no keys, broadcast batch
    ],
)
def test_attention_with_an_empty_side_is_torchs(query, key, value) -> None:
    """Found by the fuzzer (seed 1209): with no queries (or no keys, or values of width 0)
    PyTorch gives zeros plus (Σq + Σk + Σv)·0, which saves nothing, so an in-place change of
    the value afterwards does not stop backward (chainrule refused it); an inf among the
    inputs makes the output nan there."""

    def program(m: Any) -> dict[str, Any]:
        rng = np.random.default_rng(0)
        q, k, v = (f64(m, rng.random(shape), requires_grad=True) for shape in (query, key, value))
        if q.numel():
            with m.no_grad():
                q.view(-1)[0] = float("inf")
        out = m.nn.functional.scaled_dot_product_attention(q, k, v)
        if q.shape[-2] == 0:
            with m.no_grad():
                v.add_(v)  # saved by nothing: backward still runs
        out.sum().backward()
        return {"q": q, "k": k, "v": v, "out": out.detach()}

    expected, actual = run(program, torch), run(program, cr)
    assert actual.keys() == expected.keys()
    for name, want in expected.items():
        np.testing.assert_array_equal(actual[name], want, err_msg=name)


def test_clamp_passes_no_gradient_outside_its_bounds_even_nan() -> None:
    """clamp's backward multiplied the gradient by its mask: nan · 0 = nan and −2 · 0 = −0
    outside the bounds, where PyTorch gives 0; at second order (fuzz seed 1216: a norm at 0
    after hinge_embedding_loss) the derivative of the norm's derivative, nan, came through."""

    def program(m: Any) -> dict[str, Any]:
        x = f64(m, [-1.0, 2.0, -3.0, 5.0], requires_grad=True)
        y = x.clamp(min=0.0, max=4.0)
        y.backward(f64(m, [float("nan"), 1.0, -2.0, float("nan")]))
        return {"x": x}

    expected, actual = run(program, torch), run(program, cr)
    np.testing.assert_array_equal(actual["x.grad"], expected["x.grad"])
    assert not np.signbit(actual["x.grad"]).any()
    second = []
    for m in (cr, torch):
        v = f64(m, 0.0, requires_grad=True)
        loss = m.nn.functional.hinge_embedding_loss(v * 8 + 1.0, f64(m, -1.0), margin=0.5)
        (first,) = m.autograd.grad(m.linalg.vector_norm(loss, 2, None), v, create_graph=True)
        second.append(float(m.autograd.grad(first, v)[0]))
    assert second[0] == second[1] == 0.0
