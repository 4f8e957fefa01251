"""In-place operations inside a graph, against PyTorch: gradients through the new history,
consumers that saw the old version, views and their bases, hooks, and the errors PyTorch
raises (a leaf, a view of a leaf, an expanded tensor, a saved tensor changed in place)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

RNG = np.random.default_rng(7)
X = RNG.standard_normal((3, 4))
W = RNG.standard_normal((3, 4))
Y = RNG.standard_normal(4)


def leaves(m: Any) -> dict[str, Any]:
    """The same float64 leaves in either library."""
    return {
        name: m.tensor(value.copy(), dtype=m.float64, requires_grad=True)
        for name, value in {"x": X, "w": W, "y": Y}.items()
    }


def run(program: Callable[[Any, dict], Any], m: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """The program's scalar result and the gradient of every leaf (None where it has none)."""
    p = leaves(m)
    out = program(m, p)
    out.backward()
    grads = {k: None if v.grad is None else v.grad.detach().numpy().copy() for k, v in p.items()}
    return out.detach().numpy(), grads


def assert_same_as_torch(program: Callable[[Any, dict], Any]) -> None:
    ours, our_grads = run(program, cr)
    theirs, their_grads = run(program, torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    for name, expected in their_grads.items():
        if expected is None:
            assert our_grads[name] is None, name
        else:
            np.testing.assert_allclose(our_grads[name], expected, rtol=1e-12, atol=1e-12)


def relu_on_non_leaf(m, p):
    h = p["x"] * 2 - 0.5
    h.relu_()
    return (h * h).sum()


def mul_by_tensor_that_requires_grad(m, p):
    h = p["x"] + 1
    h.mul_(p["w"])  # ∂C/∂w needs the values h had before the write
    return (h * h).sum()


def add_with_alpha_and_sub(m, p):
    h = p["x"] * 1.5
    h.add_(p["w"], alpha=0.5)
    h.sub_(p["y"], alpha=2.0)
    return (h**2).mean()


def augmented_assignments(m, p):
    h = p["x"] * 1.0
    h += p["w"]
    h *= p["y"]
    h -= 3.0
    h /= p["w"] * p["w"] + 1
    return h.sum()


def division_and_clamp(m, p):
    h = p["x"] * p["w"]
    h.div_(p["w"] * p["w"] + 2)
    h.clamp_(-0.3, 0.4)
    return h.sum()


UNARY = ["neg_", "abs_", "exp_", "log_", "sqrt_", "sin_", "cos_", "sigmoid_", "tanh_", "relu_"]


def unary_in_place(name: str) -> Callable:
    def program(m, p):
        h = p["x"] * p["x"] + 0.5  # positive, for log and sqrt
        if name in ("abs_", "relu_", "neg_"):
            h = h - 1.0
        getattr(h, name)()
        return (h * p["w"]).sum()

    program.__name__ = name
    return program


def pow_with_tensor_exponent(m, p):
    h = p["x"] * p["x"] + 1
    h.pow_(p["w"] * 0.1 + 1)
    return h.sum()


def mask_assignment(m, p):
    h = p["x"] * p["w"]
    h[h > 0.2] = 0
    return (h * p["x"]).sum()


def index_assignment_of_a_tensor(m, p):
    buffer = m.zeros(3, 4, dtype=m.float64)  # a constant that becomes part of the graph
    buffer[0] = p["y"] * 2
    buffer[1:, 1] = p["y"][:2].exp()
    return (buffer * p["w"]).sum()


def integer_index_assignment(m, p):
    h = p["x"] * 1.0
    h[m.tensor([0, 2]), m.tensor([1, 3])] = p["y"][:2]
    return (h**3).sum()


def masked_fill_and_copy(m, p):
    h = p["x"] * 3
    h.masked_fill_(p["w"] > 0, 0.25)
    g = p["x"] * 0
    g.copy_(p["y"])  # broadcast: ∂C/∂y sums over the rows
    return (h * g).sum()


def fill_and_zero(m, p):
    h = p["x"] * 2
    h[0].fill_(1.5)
    k = p["w"] * 3
    k.zero_()
    return (h * h).sum() + (k + p["w"]).sum()


def consumer_before_the_change(m, p):
    h = p["x"] * 2
    before = (h * 3).exp()  # used h's old values, saved none of them
    h.add_(p["y"])
    return (before * p["w"]).sum() + (h * h).sum()


def changed_twice_and_used_between(m, p):
    h = p["x"] + 0
    a = h * 2
    h.mul_(3)
    b = h + p["w"]
    h.add_(p["y"])
    return a.sum() + b.sum() + (h * h).sum()


def view_changed_in_place(m, p):
    h = p["x"] * 1.0
    h[0:2].mul_(p["w"][0:2])
    h.view(-1)[3:7].add_(2.0)
    return (h * h).sum()


def base_changed_after_views_were_taken(m, p):
    h = p["x"] * 1.0
    v = h[1:]  # a view, used after its base changes: it must see the base's new history
    t = h.t()
    h.mul_(p["w"])
    return (v * v).sum() + (t * 3).sum()


def view_of_view_changed(m, p):
    h = p["x"] + 0
    v = h.reshape(2, 6)[:, 1:4]
    v.add_(p["w"][:2, :3])
    s = h[2]  # a sibling view taken before the write, used after it
    v.mul_(2)
    return (h * p["w"]).sum() + s.sum()


def constant_base_filled_through_a_view(m, p):
    buffer = m.zeros(2, 4, dtype=m.float64)
    buffer[1].copy_(p["y"])
    buffer[0, 1:3].add_(p["x"][0, :2])
    return (buffer.exp() * 2).sum()


PROGRAMS = [
    relu_on_non_leaf,
    mul_by_tensor_that_requires_grad,
    add_with_alpha_and_sub,
    augmented_assignments,
    division_and_clamp,
    *[unary_in_place(name) for name in UNARY],
    pow_with_tensor_exponent,
    mask_assignment,
    index_assignment_of_a_tensor,
    integer_index_assignment,
    masked_fill_and_copy,
    fill_and_zero,
    consumer_before_the_change,
    changed_twice_and_used_between,
    view_changed_in_place,
    base_changed_after_views_were_taken,
    view_of_view_changed,
    constant_base_filled_through_a_view,
]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda f: f.__name__)
def test_gradients_through_in_place_changes_match_torch(program: Callable) -> None:
    assert_same_as_torch(program)


def test_in_place_result_is_the_same_tensor_with_a_new_history() -> None:
    x = cr.tensor([1.0, -2.0], requires_grad=True)
    h = x * 1
    node = h.grad_fn
    same = h.relu_()
    assert same is h and h.grad_fn is not node and not h.is_leaf and h.requires_grad
    np.testing.assert_array_equal(h.detach().numpy(), [1.0, 0.0])


# ---- what PyTorch refuses ----------------------------------------------------------------------

MODIFIED = "modified by an inplace operation"


def saved_factor_changed(m):
    w = m.tensor([1.0, 2.0], requires_grad=True)
    c = m.tensor([3.0, 4.0])
    out = (w * c).sum()
    c.mul_(10)
    return out, w


def saved_tensor_changed_through_a_view(m):
    x = m.tensor([[0.5, 1.5], [2.0, 3.0]], requires_grad=True)
    c = m.ones(2, 2)
    out = (x * c).sum()
    c[0].fill_(5)
    return out, x


def saved_tensor_changed_through_detach(m):
    x = m.tensor([0.5, 1.5], requires_grad=True)
    c = m.tensor([2.0, 3.0])
    out = (x * c).sum()
    c.detach().zero_()
    return out, x


@pytest.mark.parametrize(
    "program",
    [
        saved_factor_changed,
        saved_tensor_changed_through_a_view,
        saved_tensor_changed_through_detach,
    ],
    ids=lambda f: f.__name__,
)
def test_backward_refuses_when_a_saved_value_changed_as_torch_does(program: Callable) -> None:
    out, _ = program(torch)
    with pytest.raises(RuntimeError, match=MODIFIED):
        out.backward()
    out, _ = program(cr)
    with pytest.raises(RuntimeError, match=MODIFIED) as error:
        out.backward()
    assert "backward of" in str(error.value) and "clone()" in str(error.value)


@pytest.mark.parametrize("name", ["exp", "sigmoid", "tanh", "relu", "sqrt"])
def test_an_operation_s_own_output_may_change_in_place_with_exact_gradients(name: str) -> None:
    """PyTorch refuses these (the operation saved its output); chainrule lets the operation
    keep a copy, and the gradient is the one of the program as written."""
    x0 = np.array([0.5, 1.5, 2.0])
    x = cr.tensor(x0, dtype=cr.float64, requires_grad=True)
    y = getattr(x, name)()
    y.mul_(3)
    y.add_(x)
    y.sum().backward()
    t = torch.tensor(x0, requires_grad=True)
    expected = (getattr(t, name)() * 3 + t).sum()  # the same program, out of place
    expected.backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_the_message_names_the_operation_the_shape_and_what_wrote_it() -> None:
    out, _ = saved_factor_changed(cr)
    with pytest.raises(RuntimeError, match=r"Mul.*float32 array of shape \(2,\).*by mul_"):
        out.backward()


@pytest.mark.parametrize("layers", [1, 2])
def test_an_optimizer_step_between_forward_and_backward_is_refused_as_in_torch(
    layers: int,
) -> None:
    """One layer: its weight is not needed for its own gradient, so both libraries run the
    second backward; two: the second layer's weight carries δ back, and both refuse."""
    outcomes = []
    for m in (torch, cr):
        m.manual_seed(0)
        model = m.nn.Sequential(*[m.nn.Linear(3, 3) for _ in range(layers)])
        optimizer = m.optim.SGD(model.parameters(), lr=0.1)
        loss = model(m.ones(4, 3)).pow(2).sum()
        loss.backward(retain_graph=True)
        optimizer.step()
        try:
            loss.backward()
            outcomes.append("ran")
        except RuntimeError as error:
            assert "modified by an inplace" in str(error)
            if m is cr:
                assert "SGD.step" in str(error)
            outcomes.append("refused")
    assert outcomes == (["ran", "ran"] if layers == 1 else ["refused", "refused"])


def test_an_unsaved_input_may_change_in_place_as_in_torch() -> None:
    # mul by a constant keeps nothing of x; add keeps nothing at all.
    for m in (cr, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        h = x * 2
        out = (h * 3).sum() + (h + 1).sum()
        h.mul_(5)
        out.backward()
        np.testing.assert_allclose(x.grad.numpy(), [8.0, 8.0])


def test_leaf_that_requires_grad_is_refused_in_a_graph_and_allowed_under_no_grad() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    for change in (lambda: w.add_(1), lambda: w.relu_(), lambda: w.__setitem__(0, 3.0)):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            change()
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        w[0:1].mul_(2)
    with cr.no_grad():
        w.add_(1)
        w[0] = 7.0
    np.testing.assert_array_equal(w.detach().numpy(), [7.0, 3.0])
    assert w.is_leaf and w.requires_grad


def test_expanded_tensor_is_refused() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    e = (x * 1).expand(3, 2)
    with pytest.raises(RuntimeError, match="single memory location"):
        e.add_(1)


def test_view_made_under_no_grad_changed_in_a_graph_is_refused() -> None:
    h = cr.tensor([1.0, 2.0], requires_grad=True) * 1
    with cr.no_grad():
        v = h[0:1]
    with pytest.raises(RuntimeError, match="created in no_grad mode"):
        v.mul_(2)


def test_result_that_cannot_be_cast_back_is_refused() -> None:
    counts = cr.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        counts.add_(cr.tensor([0.5, 0.5], requires_grad=True))


# ---- hooks, retain_grad and versions ----------------------------------------------------------


def test_hooks_stay_with_their_version_and_retain_grad_follows_the_tensor() -> None:
    seen = {}
    for m in (cr, torch):
        x = m.tensor([1.0, -2.0, 3.0], requires_grad=True)
        h = x * 2
        h.retain_grad()
        h.register_hook(lambda g, m=m: seen.update({m.__name__: g.numpy().copy()}))
        h.mul_(x)
        (h * h).sum().backward()
        seen[m.__name__ + ".grad"] = h.grad.numpy().copy()
    np.testing.assert_allclose(seen["chainrule"], seen["torch"])
    np.testing.assert_allclose(seen["chainrule.grad"], seen["torch.grad"])


def test_version_counts_in_place_changes_of_the_memory() -> None:
    for m in (cr, torch):
        x = m.zeros(3)
        v = x[1:]
        assert x._version == 0
        x.add_(1)
        v.mul_(2)
        x[0] = 5.0
        assert x._version == v._version == 3
        assert (x + 1)._version == 0


def test_expanded_tensor_without_repeated_elements_may_change_as_in_torch() -> None:
    """expand of a size-1 axis to size 1, or one element of an expanded tensor, puts no element
    in two places: PyTorch writes it (and so the expanded source), and so does chainrule."""
    for m in (torch, cr):
        base = m.tensor(2.0)
        single = base.expand(1)
        single.add_(1.0)
        assert float(base) == 3.0, m.__name__
        row = m.tensor([[5.0, 6.0]])
        one = row.expand(3, 2)[1:2]
        one.mul_(2.0)
        np.testing.assert_array_equal(row.numpy(), [[10.0, 12.0]])
        with pytest.raises(RuntimeError, match="more than one element"):
            row.expand(3, 2).add_(1.0)  # under no graph as well


def test_expanded_parameter_view_sums_its_gradient() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    e = x.expand(3, 2)
    (e * cr.arange(6.0).reshape(3, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 9.0])


def test_pieces_of_split_and_chunk_are_refused_in_place_in_a_graph_as_in_torch() -> None:
    for m in (torch, cr):
        x = m.zeros(4, requires_grad=True) * 1
        first, _ = x.split(2)
        with pytest.raises(RuntimeError, match="returns multiple views"):
            first.add_(1)
        piece, _ = x.chunk(2)
        with pytest.raises(RuntimeError, match="returns multiple views"):
            piece[0:1].mul_(2)  # a view of a piece inherits the rule
        with m.no_grad():
            first.add_(1)  # outside a graph a piece may change, and so does its base
        np.testing.assert_array_equal(x.detach().numpy(), [1.0, 1.0, 0.0, 0.0])
