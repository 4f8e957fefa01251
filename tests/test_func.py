"""chainrule.func (grad, vjp, jvp, jacrev, jacfwd, hessian, functional_call) against torch.func,
in float64. Each function is written once and runs on either library's tensors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.func as tfunc

import chainrule as cr
import chainrule.func as cfunc

RNG = np.random.default_rng(150)
X_DATA = RNG.standard_normal((6, 3))
Y_DATA = RNG.standard_normal((6, 2))


def ours(array: Any, requires_grad: bool = False) -> cr.Tensor:
    return cr.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def theirs(array: Any, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def random(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def assert_same(a: Any, b: Any, path: str = "result") -> None:
    """Same nesting of tuples, lists and dicts, same shapes, same values."""
    if isinstance(b, (tuple, list)):
        assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(b, dict):
        assert isinstance(a, dict) and list(a) == list(b), f"{path}: keys differ"
        for key in b:
            assert_same(a[key], b[key], f"{path}[{key!r}]")
    else:
        assert isinstance(a, cr.Tensor), f"{path}: expected a Tensor, got {type(a).__name__}"
        assert tuple(a.shape) == tuple(b.shape), f"{path}: {a.shape} != {b.shape}"
        np.testing.assert_allclose(
            a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=path
        )


def wavy(x: Any) -> Any:
    return (x.sin() * x**2).sum()


def weighted(x: Any, w: Any) -> Any:
    return ((x @ w).tanh() ** 2).sum()


def pair(x: Any, w: Any) -> Any:
    return (x @ w).exp(), (x**2).sum()


# ---- grad --------------------------------------------------------------------------------------


def test_grad_matches_torch() -> None:
    x = random(2, 3)
    assert_same(cfunc.grad(wavy)(ours(x)), tfunc.grad(wavy)(theirs(x)))


@pytest.mark.parametrize("argnums", [0, 1, -1, (0, 1), (1, 0)])
def test_grad_argnums(argnums: Any) -> None:
    x, w = random(4, 3, seed=1), random(3, 2, seed=2)
    assert_same(
        cfunc.grad(weighted, argnums)(ours(x), ours(w)),
        tfunc.grad(weighted, argnums)(theirs(x), theirs(w)),
    )


def test_grad_and_value_with_aux() -> None:
    def f(x: Any) -> Any:
        y = x.exp()
        return (y * x).sum(), {"mean": y.mean()}

    x = random(3, seed=3)
    result = cfunc.grad_and_value(f, has_aux=True)(ours(x))
    assert_same(result, tfunc.grad_and_value(f, has_aux=True)(theirs(x)))
    assert not result[1][0].requires_grad and not result[1][1]["mean"].requires_grad
    assert_same(cfunc.grad(f, has_aux=True)(ours(x)), tfunc.grad(f, has_aux=True)(theirs(x)))


def test_grad_of_a_dict_argument() -> None:
    def f(p: Any) -> Any:
        return (p["a"] * p["b"].cos()).sum() + (p["a"] ** 3).sum()

    a, b = random(3, seed=4), random(3, seed=5)
    assert_same(
        cfunc.grad(f)({"a": ours(a), "b": ours(b)}),
        tfunc.grad(f)({"a": theirs(a), "b": theirs(b)}),
    )


def test_unused_argument_gets_zeros() -> None:
    x, w = random(2, seed=6), random(2, seed=7)
    assert_same(
        cfunc.grad(lambda x, w: (x**2).sum(), (0, 1))(ours(x), ours(w)),
        tfunc.grad(lambda x, w: (x**2).sum(), (0, 1))(theirs(x), theirs(w)),
    )


# ---- composition -------------------------------------------------------------------------------


def test_grad_of_grad_is_the_second_and_third_derivative() -> None:
    def f(x: Any) -> Any:
        return x.sin() * x**3

    x = 0.9
    for times in (2, 3):
        ours_fn, theirs_fn = f, f
        for _ in range(times):
            ours_fn, theirs_fn = cfunc.grad(ours_fn), tfunc.grad(theirs_fn)
        result = ours_fn(ours(x))
        assert not result.requires_grad
        assert_same(result, theirs_fn(theirs(x)))


def test_nested_grad_is_not_confused_by_a_closure() -> None:
    # d/dx [x · ∂/∂y (x·y)|_{y=x}] = d/dx x² = 2x: the inner derivative must not see x
    def outer(x: Any, lib: Any) -> Any:
        return x * lib.grad(lambda y: x * y)(x)

    x = 1.7
    assert_same(
        cfunc.grad(lambda t: outer(t, cfunc))(ours(x)),
        tfunc.grad(lambda t: outer(t, tfunc))(theirs(x)),
    )
    assert float(cfunc.grad(lambda t: outer(t, cfunc))(ours(x))) == pytest.approx(2 * x)


def test_outer_autograd_differentiates_through_grad() -> None:
    x, w = random(4, 3, seed=8), random(3, 2, seed=9)
    w_ours, w_theirs = ours(w, True), theirs(w, True)
    g_ours = cfunc.grad(lambda x: weighted(x, w_ours))(ours(x))
    g_theirs = tfunc.grad(lambda x: weighted(x, w_theirs))(theirs(x))
    assert g_ours.requires_grad
    (g_ours**2).sum().backward()
    (g_theirs**2).sum().backward()
    assert_same(w_ours.grad, w_theirs.grad)


def test_transforms_work_under_no_grad() -> None:
    x = random(3, seed=10)
    with cr.no_grad():
        result = cfunc.grad(wavy)(ours(x, True))
    assert not result.requires_grad
    assert_same(result, tfunc.grad(wavy)(theirs(x)))


# ---- vjp and jvp -------------------------------------------------------------------------------


def test_vjp_matches_torch_and_can_be_called_twice() -> None:
    x, w = random(4, 3, seed=11), random(3, 2, seed=12)
    out_ours, fn_ours = cfunc.vjp(pair, ours(x), ours(w))
    out_theirs, fn_theirs = tfunc.vjp(pair, theirs(x), theirs(w))
    assert_same(out_ours, out_theirs)
    for seed in (13, 14):
        v = (random(4, 2, seed=seed), random(seed=seed + 100))
        assert_same(fn_ours((ours(v[0]), ours(v[1]))), fn_theirs((theirs(v[0]), theirs(v[1]))))


def test_vjp_with_aux_and_its_errors() -> None:
    x = random(3, seed=15)
    out, fn, aux = cfunc.vjp(lambda t: (t.exp(), t.sum()), ours(x), has_aux=True)
    assert_same((out, aux), (theirs(x).exp(), theirs(x).sum()))
    with pytest.raises(RuntimeError, match=r"cotangent 0 has shape \(2,\)"):
        fn(cr.ones(2, dtype=cr.float64))
    with pytest.raises(RuntimeError, match="structure"):
        fn((cr.ones(3, dtype=cr.float64),))


def test_jvp_matches_torch() -> None:
    x, w = random(4, 3, seed=16), random(3, 2, seed=17)
    tx, tw = random(4, 3, seed=18), random(3, 2, seed=19)
    assert_same(
        cfunc.jvp(pair, (ours(x), ours(w)), (ours(tx), ours(tw))),
        tfunc.jvp(pair, (theirs(x), theirs(w)), (theirs(tx), theirs(tw))),
    )
    with pytest.raises(RuntimeError, match=r"tangent 1 has shape \(2, 3\)"):
        cfunc.jvp(pair, (ours(x), ours(w)), (ours(tx), ours(tw.T)))


# ---- jacobians and hessians --------------------------------------------------------------------


@pytest.mark.parametrize("argnums", [0, (0, 1)])
def test_jacrev_and_jacfwd_match_torch(argnums: Any) -> None:
    x, w = random(2, 3, seed=20), random(3, 2, seed=21)
    expected = tfunc.jacrev(pair, argnums)(theirs(x), theirs(w))
    assert_same(cfunc.jacrev(pair, argnums)(ours(x), ours(w)), expected)
    assert_same(cfunc.jacfwd(pair, argnums)(ours(x), ours(w)), expected)


def test_jacrev_elementwise_and_aux() -> None:
    def f(x: Any) -> Any:
        return x.tanh() * x, x.sum()

    x = random(2, 3, seed=22)
    assert_same(cfunc.jacrev(f, has_aux=True)(ours(x)), tfunc.jacrev(f, has_aux=True)(theirs(x)))


@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_hessian_matches_torch(argnums: Any) -> None:
    x, w = random(3, 3, seed=23), random(3, 2, seed=24)
    result = cfunc.hessian(weighted, argnums)(ours(x), ours(w))
    assert_same(result, tfunc.hessian(weighted, argnums)(theirs(x), theirs(w)))


# ---- functional_call: a per-model Hessian ----------------------------------------------------


class TinyMLP(cr.nn.Module):
    """x → tanh(x W1 + b1) W2: written with matmul, as torch's twin below."""

    def __init__(self) -> None:
        super().__init__()
        self.w1 = cr.nn.Parameter(cr.tensor(random(3, 4, seed=25)))
        self.b1 = cr.nn.Parameter(cr.tensor(random(4, seed=26)))
        self.w2 = cr.nn.Parameter(cr.tensor(random(4, 2, seed=27)))

    def forward(self, x: Any) -> Any:
        return (x @ self.w1 + self.b1).tanh() @ self.w2


class TorchTinyMLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w1 = torch.nn.Parameter(theirs(random(3, 4, seed=25)))
        self.b1 = torch.nn.Parameter(theirs(random(4, seed=26)))
        self.w2 = torch.nn.Parameter(theirs(random(4, 2, seed=27)))

    def forward(self, x: Any) -> Any:
        return (x @ self.w1 + self.b1).tanh() @ self.w2


def test_hessian_of_an_mlp_loss_through_functional_call() -> None:
    # A hand-written MLP: nn.Linear's create_graph backward is another helper's work in progress.
    model, twin = TinyMLP(), TorchTinyMLP()
    x_ours, y_ours = ours(X_DATA), ours(Y_DATA)
    x_theirs, y_theirs = theirs(X_DATA), theirs(Y_DATA)
    params = {name: p.detach() * 1.5 for name, p in model.named_parameters()}
    params_theirs = {name: p.detach() * 1.5 for name, p in twin.named_parameters()}

    def loss_ours(p: Any) -> Any:
        return ((cfunc.functional_call(model, p, (x_ours,)) - y_ours) ** 2).mean()

    def loss_theirs(p: Any) -> Any:
        return ((tfunc.functional_call(twin, p, (x_theirs,)) - y_theirs) ** 2).mean()

    assert_same(cfunc.hessian(loss_ours)(params), tfunc.hessian(loss_theirs)(params_theirs))
    assert_same(cfunc.grad(loss_ours)(params), tfunc.grad(loss_theirs)(params_theirs))
    # the module's own parameters are back, unchanged
    assert isinstance(model.w1, cr.nn.Parameter) and model._parameters["w1"] is model.w1
    np.testing.assert_array_equal(model.w1.detach().numpy(), random(3, 4, seed=25))


def test_functional_call_errors() -> None:
    model = TinyMLP()
    x = ours(X_DATA)
    with pytest.raises(ValueError, match="'w3'"):
        cfunc.functional_call(model, {"w3": cr.ones(2)}, (x,))
    with pytest.raises(ValueError, match=r"'w1' has shape \(3, 4\)"):
        cfunc.functional_call(model, {"w1": cr.ones(4, 3)}, (x,))
    with pytest.raises(ValueError, match="'b1', 'w2'"):
        cfunc.functional_call(model, {"w1": cr.ones(3, 4)}, (x,), strict=True)
    assert model._parameters["w1"] is model.w1 and isinstance(model.w1, cr.nn.Parameter)


# ---- errors ----------------------------------------------------------------------------------


def test_errors_name_the_problem() -> None:
    x = ours(random(3, seed=28))
    with pytest.raises(RuntimeError, match="0-dim"):
        cfunc.grad(lambda t: t * 2)(x)
    with pytest.raises(RuntimeError, match=r"\(output, aux\)"):
        cfunc.grad(lambda t: t.sum(), has_aux=True)(x)
    with pytest.raises(ValueError, match="argnums=2"):
        cfunc.grad(weighted, 2)(x, x)
    with pytest.raises(ValueError, match="repeat"):
        cfunc.grad(weighted, (0, 0))(x, x)
    with pytest.raises(TypeError, match="only Tensors"):
        cfunc.grad(lambda t: t[0].sum())([x, 3.0])
