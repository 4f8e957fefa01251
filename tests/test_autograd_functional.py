"""chainrule.autograd.functional against torch.autograd.functional, in float64.

Each function below is written once and runs on either library's tensors (it uses only
methods and operators the two share), so both compute the same thing from the same values.
Results must match PyTorch's in structure (tensor, tuple, tuple of tuples), shape and value.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autograd import functional as cf

tf = torch.autograd.functional
RNG = np.random.default_rng(15)
X_DATA = RNG.standard_normal((5, 3))
Y_DATA = RNG.standard_normal((5, 1))


def elementwise(x: Any) -> Any:
    return x.sin() * x**2


def matmul_tanh(a: Any, b: Any) -> Any:
    return (a @ b).tanh()


def two_outputs(x: Any, y: Any) -> Any:
    return x * y.exp(), (x**2).sum() + (y**3).sum()


def exp_and_sum(x: Any) -> Any:
    return x.exp(), x.sum()


def mlp_loss(w1: Any, b1: Any, w2: Any) -> Any:
    lib = torch if isinstance(w1, torch.Tensor) else cr
    x = lib.tensor(X_DATA, dtype=lib.float64)
    y = lib.tensor(Y_DATA, dtype=lib.float64)
    return (((x @ w1 + b1).tanh() @ w2 - y) ** 2).mean()


def cubic_sum(x: Any) -> Any:
    return (x**3 * x.cos()).sum()


SHAPES = {
    "elementwise": (elementwise, [(2, 3)]),
    "matmul_tanh": (matmul_tanh, [(2, 3), (3, 4)]),
    "two_outputs": (two_outputs, [(3,), (3,)]),
    "exp_and_sum": (exp_and_sum, [(2, 2)]),
    "mlp_loss": (mlp_loss, [(3, 4), (4,), (4, 1)]),
}
SCALAR = {
    "mlp_loss": (mlp_loss, [(3, 4), (4,), (4, 1)]),
    "cubic_sum": (cubic_sum, [(2, 3)]),
}


def arrays_for(shapes: list, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def both(arrays: list, single: bool, requires_grad: bool = False) -> tuple:
    """The same values as chainrule and as torch tensors: one tensor, or a tuple."""
    ours = tuple(cr.tensor(a, dtype=cr.float64, requires_grad=requires_grad) for a in arrays)
    theirs = tuple(
        torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad) for a in arrays
    )
    return (ours[0], theirs[0]) if single else (ours, theirs)


def assert_same(ours: Any, theirs: Any, path: str = "result") -> None:
    """Same nesting of tuples, same shapes, same values."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple), f"{path}: expected a tuple, got {type(ours).__name__}"
        assert len(ours) == len(theirs), f"{path}: length {len(ours)} != {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{path}[{i}]")
        return
    assert isinstance(ours, cr.Tensor), f"{path}: expected a Tensor, got {type(ours).__name__}"
    assert tuple(ours.shape) == tuple(theirs.shape), f"{path}: {ours.shape} != {theirs.shape}"
    np.testing.assert_allclose(
        ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=path
    )


def like_outputs(fn: Any, arrays: list, seed: int) -> list:
    """Random arrays shaped like fn's outputs (a list, one per output)."""
    outs = fn(*[torch.tensor(a) for a in arrays])
    outs = outs if isinstance(outs, tuple) else (outs,)
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(o.shape)) for o in outs]


# ---- values and structure against PyTorch ------------------------------------------------------


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("name", list(SHAPES))
def test_jacobian_matches_torch(name: str, strategy: str) -> None:
    fn, shapes = SHAPES[name]
    arrays = arrays_for(shapes)
    for single in [True, False] if len(arrays) == 1 else [False]:
        ours, theirs = both(arrays, single)
        expected = tf.jacobian(fn, theirs, strategy="reverse-mode")
        assert_same(cf.jacobian(fn, ours, strategy=strategy), expected)


def test_jacobian_vectorize_runs_the_same_loop() -> None:
    ours, theirs = both(arrays_for([(2, 3), (3, 4)]), single=False)
    assert_same(
        cf.jacobian(matmul_tanh, ours, vectorize=True),
        tf.jacobian(matmul_tanh, theirs, vectorize=True),
    )


@pytest.mark.parametrize("name", list(SHAPES))
def test_vjp_and_jvp_match_torch(name: str) -> None:
    fn, shapes = SHAPES[name]
    arrays = arrays_for(shapes, seed=1)
    single = len(arrays) == 1
    ours, theirs = both(arrays, single)
    cot = like_outputs(fn, arrays, seed=2)
    out_is_tuple = isinstance(fn(*((theirs,) if single else theirs)), tuple)
    v_ours, v_theirs = both(cot, single=not out_is_tuple)
    assert_same(cf.vjp(fn, ours, v_ours), tf.vjp(fn, theirs, v_theirs))
    tangents = arrays_for(shapes, seed=3)
    t_ours, t_theirs = both(tangents, single)
    assert_same(cf.jvp(fn, ours, t_ours), tf.jvp(fn, theirs, t_theirs))


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("name", list(SCALAR))
def test_hessian_matches_torch(name: str, strategy: str) -> None:
    fn, shapes = SCALAR[name]
    ours, theirs = both(arrays_for(shapes, seed=4), single=len(shapes) == 1)
    expected = tf.hessian(fn, theirs)
    assert_same(cf.hessian(fn, ours, outer_jacobian_strategy=strategy), expected)


@pytest.mark.parametrize("name", list(SCALAR))
def test_hvp_and_vhp_match_torch(name: str) -> None:
    fn, shapes = SCALAR[name]
    single = len(shapes) == 1
    ours, theirs = both(arrays_for(shapes, seed=5), single)
    v_ours, v_theirs = both(arrays_for(shapes, seed=6), single)
    assert_same(cf.hvp(fn, ours, v_ours), tf.hvp(fn, theirs, v_theirs))
    assert_same(cf.vhp(fn, ours, v_ours), tf.vhp(fn, theirs, v_theirs))


def test_v_may_be_none_for_one_element() -> None:
    ours, theirs = both([np.array([0.7])], single=True)
    assert_same(cf.vjp(lambda x: (x**3).sum(), ours), tf.vjp(lambda x: (x**3).sum(), theirs))
    assert_same(cf.jvp(lambda x: x.exp() * 2, ours), tf.jvp(lambda x: x.exp() * 2, theirs))
    assert_same(cf.hvp(lambda x: (x**4).sum(), ours), tf.hvp(lambda x: (x**4).sum(), theirs))


# ---- graphs: create_graph, and inputs left alone ---------------------------------------------


def test_results_carry_a_graph_only_with_create_graph() -> None:
    ours, theirs = both(arrays_for([(2, 3)]), single=True, requires_grad=True)
    assert not cf.jacobian(elementwise, ours).requires_grad
    jac = cf.jacobian(elementwise, ours, create_graph=True)
    assert jac.requires_grad
    weights = np.random.default_rng(7).standard_normal(tuple(jac.shape))
    (jac * cr.tensor(weights)).sum().backward()
    (tf.jacobian(elementwise, theirs, create_graph=True) * torch.tensor(weights)).sum().backward()
    assert_same(ours.grad, theirs.grad)


def test_hvp_with_create_graph_differentiates_again() -> None:
    ours, theirs = both(arrays_for([(2, 3)], seed=8), single=True, requires_grad=True)
    v_ours, v_theirs = both(arrays_for([(2, 3)], seed=9), single=True, requires_grad=True)
    _, ours_hv = cf.hvp(cubic_sum, ours, v_ours, create_graph=True)
    _, theirs_hv = tf.hvp(cubic_sum, theirs, v_theirs, create_graph=True)
    (ours_hv**2).sum().backward()
    (theirs_hv**2).sum().backward()
    assert_same((ours.grad, v_ours.grad), (theirs.grad, v_theirs.grad))


def test_inputs_keep_their_grad_untouched() -> None:
    x = cr.tensor(arrays_for([(3,)])[0], requires_grad=True)
    cf.hessian(cubic_sum, x)
    cf.vjp(elementwise, x, cr.ones(3, dtype=cr.float64))
    assert x.grad is None


# ---- independent inputs and strict mode ------------------------------------------------------


def uses_first_only(x: Any, y: Any) -> Any:
    return x**2


def test_unused_input_gives_zeros_like_torch() -> None:
    ours, theirs = both(arrays_for([(2,), (3,)]), single=False)
    assert_same(cf.jacobian(uses_first_only, ours), tf.jacobian(uses_first_only, theirs))
    v_ours, v_theirs = both(arrays_for([(2,)], seed=1), single=True)
    assert_same(cf.vjp(uses_first_only, ours, v_ours), tf.vjp(uses_first_only, theirs, v_theirs))


def test_linear_function_has_zero_hessian_like_torch() -> None:
    ours, theirs = both(arrays_for([(3,)]), single=True)
    assert_same(
        cf.hessian(lambda x: (2 * x).sum(), ours), tf.hessian(lambda x: (2 * x).sum(), theirs)
    )


def test_strict_raises_for_an_independent_input() -> None:
    ours, _ = both(arrays_for([(2,), (3,)]), single=False)
    with pytest.raises(RuntimeError, match="strict=True"):
        cf.jacobian(uses_first_only, ours, strict=True)
    with pytest.raises(RuntimeError, match="strict=True"):
        cf.vjp(uses_first_only, ours, cr.ones(2, dtype=cr.float64), strict=True)
    with pytest.raises(RuntimeError, match="strict=True"):
        cf.jvp(uses_first_only, ours, (cr.ones(2), cr.ones(3)), strict=True)


def test_strict_raises_for_a_constant_output_and_a_linear_hessian() -> None:
    x = cr.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="output 0"):
        cf.jacobian(lambda t: cr.ones(2), x, strict=True)
    with pytest.raises(RuntimeError, match="strict=True"):
        cf.hessian(lambda t: (3 * t).sum(), x, strict=True)
    with pytest.raises(RuntimeError, match="strict=True"):
        cf.vhp(lambda t: (3 * t).sum(), x, cr.ones(2), strict=True)


# ---- errors ----------------------------------------------------------------------------------


def test_bad_v_shapes_and_counts_are_named() -> None:
    x = cr.tensor(arrays_for([(2, 3)])[0])
    with pytest.raises(RuntimeError, match=r"shape \(3, 2\) but should have shape \(2, 3\)"):
        cf.vjp(elementwise, x, cr.ones(3, 2))
    with pytest.raises(RuntimeError, match=r"shape \(4,\)"):
        cf.jvp(elementwise, x, cr.ones(4))
    with pytest.raises(RuntimeError, match="entry 1 of v"):
        cf.jvp(matmul_tanh, (x, cr.ones(3, 4)), (cr.ones(2, 3), cr.ones(4, 3)))
    with pytest.raises(RuntimeError, match="2 tensors"):
        cf.vjp(elementwise, x, (cr.ones(2, 3), cr.ones(2, 3)))
    with pytest.raises(RuntimeError, match="v may be None only"):
        cf.vjp(elementwise, x)
    with pytest.raises(RuntimeError, match="v may be None only"):
        cf.hvp(cubic_sum, x)


def test_other_errors() -> None:
    x = cr.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="single-element"):
        cf.hessian(elementwise, x)
    with pytest.raises(RuntimeError, match="single Tensor"):
        cf.vhp(exp_and_sum, x, x)
    with pytest.raises(TypeError, match="entry 1 is a list"):
        cf.jacobian(matmul_tanh, (x, [1.0]))
    with pytest.raises(TypeError, match="outputs"):
        cf.jacobian(lambda t: 3.0, x)
    with pytest.raises(ValueError, match="strategy"):
        cf.jacobian(elementwise, x, strategy="sideways")
    with pytest.raises(RuntimeError, match="vectorize"):
        cf.jacobian(elementwise, x, strict=True, vectorize=True)


def test_reachable_as_an_attribute_after_import_chainrule() -> None:
    code = "import chainrule as cr; print(cr.autograd.functional.jacobian.__name__)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "jacobian"
