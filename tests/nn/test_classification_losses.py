"""Classification losses over C classes (cross_entropy, nll_loss and their modules) against
PyTorch and finite differences, and the arguments PyTorch refuses.

Each cross-entropy / NLL case is a dict of keyword arguments plus the shapes of the input and
the kind of target; the same case runs in both libraries, forward and backward, for every
reduction and float dtype, and through gradcheck in float64.
"""

from __future__ import annotations

import re
import warnings
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

REDUCTIONS = ["mean", "sum", "none"]
FLOATS = ["float32", "float64"]
TOLERANCE = {"float32": (2e-5, 1e-6), "float64": (1e-10, 1e-12)}


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def assert_close(actual: Any, expected: Any, dtype: str, what: str) -> None:
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, PyTorch gives {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, PyTorch gives {e.dtype}"
    rtol, atol = TOLERANCE[dtype]
    finite = np.abs(e[np.isfinite(e)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol * scale, err_msg=what)


def compare(
    cr_fn: Any, th_fn: Any, arrays: list[np.ndarray], grad_of: list[int], reduction: str, what: str
) -> None:
    """Run both libraries on the same arrays; compare the loss and the gradients of the inputs
    at positions ``grad_of`` (random upstream gradient for reduction='none')."""
    dtype = next(a.dtype.name for a in arrays if a.dtype.kind == "f")
    xs = [cr.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    ts = [torch.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    out, expected = cr_fn(*xs), th_fn(*ts)
    assert_close(out, expected, dtype, f"{what}: forward")
    assert out.requires_grad
    if reduction == "none":
        upstream = rng_for(what, "upstream").standard_normal(out.shape).astype(dtype)
        out.backward(cr.tensor(upstream))
        expected.backward(torch.tensor(upstream))
    else:
        out.backward()
        expected.backward()
    for i in grad_of:
        assert xs[i].grad is not None, f"{what}: no gradient for input {i}"
        assert_close(xs[i].grad, ts[i].grad, dtype, f"{what}: gradient of input {i}")


# ---- cross_entropy and nll_loss ------------------------------------------------------------------

C = 4
# name -> (input shape, target kind, keyword arguments); "index" targets are class indices,
# "ignored" marks some of them with the ignore_index, "probs" are rows of probabilities.
CE_CASES: dict[str, tuple[tuple, str, dict]] = {
    "plain": ((5, C), "index", {}),
    "weight": ((5, C), "index", {"weight": True}),
    "ignore": ((6, C), "ignored", {}),
    "ignore_weight": ((6, C), "ignored", {"weight": True}),
    "ignore_a_real_class": ((6, C), "index", {"ignore_index": 1}),
    "smoothing": ((5, C), "index", {"label_smoothing": 0.2}),
    "smoothing_weight": ((5, C), "index", {"label_smoothing": 0.15, "weight": True}),
    "smoothing_weight_ignore": ((6, C), "ignored", {"label_smoothing": 0.3, "weight": True}),
    "unbatched": ((C,), "index", {}),
    "unbatched_weight_smoothing": ((C,), "index", {"weight": True, "label_smoothing": 0.1}),
    "spatial": ((2, C, 3, 2), "index", {}),
    "spatial_weight_ignore": ((2, C, 3, 2), "ignored", {"weight": True}),
    "spatial_smoothing": ((2, C, 2, 3), "ignored", {"label_smoothing": 0.25, "weight": True}),
    "probs": ((5, C), "probs", {}),
    "probs_smoothing": ((5, C), "probs", {"label_smoothing": 0.2}),
    "probs_weight": ((5, C), "probs", {"weight": True}),
    "probs_smoothing_weight": ((5, C), "probs", {"label_smoothing": 0.1, "weight": True}),
    "probs_unbatched": ((C,), "probs", {"weight": True}),
    "probs_spatial": ((2, C, 3, 2), "probs", {"label_smoothing": 0.05}),
}
NLL_CASES = {
    name: case
    for name, case in CE_CASES.items()
    if case[1] != "probs" and "label_smoothing" not in case[2]
}


def make_case(name: str, case: tuple, dtype: str, seed: Any = "") -> tuple[list, dict]:
    """The arrays (input, target) and the keyword arguments of a case (weight as an array)."""
    shape, kind, kwargs = case
    rng = rng_for(name, dtype, seed)
    x = rng.standard_normal(shape).astype(dtype)
    batch_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    if kind == "probs":
        logits = rng.standard_normal(shape)
        axis = 0 if len(shape) == 1 else 1
        p = np.exp(logits) / np.exp(logits).sum(axis=axis, keepdims=True)
        target = p.astype(dtype)
    else:
        target = rng.integers(0, C, batch_shape).astype(np.int64)
        if kind == "ignored":
            flat = target.reshape(-1)
            flat[rng.permutation(flat.size)[: max(1, flat.size // 3)]] = -100
    kwargs = dict(kwargs)
    if kwargs.pop("weight", False):
        kwargs["weight"] = rng.uniform(0.2, 2.0, C).astype(dtype)
    return [x, target], kwargs


def bound(fn: Any, kwargs: dict, reduction: str, module: Any) -> Any:
    """fn(input, target) with the case's options; the weight as module's tensor."""
    options = dict(kwargs, reduction=reduction)
    if "weight" in options:
        options["weight"] = module.tensor(options["weight"])
    return lambda x, t: fn(x, t, **options)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(CE_CASES))
def test_cross_entropy_matches_torch(name: str, reduction: str, dtype: str) -> None:
    arrays, kwargs = make_case(name, CE_CASES[name], dtype)
    compare(
        bound(F.cross_entropy, kwargs, reduction, cr),
        bound(torch.nn.functional.cross_entropy, kwargs, reduction, torch),
        arrays,
        [0],
        reduction,
        f"cross_entropy/{name}/{reduction}/{dtype}",
    )


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(NLL_CASES))
def test_nll_loss_matches_torch(name: str, reduction: str, dtype: str) -> None:
    arrays, kwargs = make_case(name, NLL_CASES[name], dtype)
    arrays[0] = np.log(np.abs(arrays[0]) / 4 + 0.05).astype(dtype)  # log-probability-like
    compare(
        bound(F.nll_loss, kwargs, reduction, cr),
        bound(torch.nn.functional.nll_loss, kwargs, reduction, torch),
        arrays,
        [0],
        reduction,
        f"nll_loss/{name}/{reduction}/{dtype}",
    )


def test_cross_entropy_after_log_softmax_is_nll() -> None:
    arrays, kwargs = make_case("weight", CE_CASES["ignore_weight"], "float64")
    x, t = cr.tensor(arrays[0]), cr.tensor(arrays[1])
    w = cr.tensor(kwargs["weight"])
    np.testing.assert_allclose(
        F.cross_entropy(x, t, w).item(), F.nll_loss(cr.log_softmax(x, 1), t, w).item(), rtol=1e-12
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(CE_CASES))
def test_cross_entropy_gradcheck(name: str, reduction: str) -> None:
    arrays, kwargs = make_case(name, CE_CASES[name], "float64", "gradcheck")
    x = cr.tensor(arrays[0], requires_grad=True)
    fn = bound(F.cross_entropy, kwargs, reduction, cr)
    assert cr.gradcheck(lambda x: fn(x, cr.tensor(arrays[1])), [x]) is True


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(NLL_CASES))
def test_nll_loss_gradcheck(name: str, reduction: str) -> None:
    arrays, kwargs = make_case(name, NLL_CASES[name], "float64", "gradcheck")
    x = cr.tensor(arrays[0], requires_grad=True)
    fn = bound(F.nll_loss, kwargs, reduction, cr)
    assert cr.gradcheck(lambda x: fn(x, cr.tensor(arrays[1])), [x]) is True


@pytest.mark.parametrize("weight", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    ("fn", "smoothing"), [("cross_entropy", 0.0), ("cross_entropy", 0.1), ("nll_loss", 0.0)]
)
def test_all_targets_ignored_gives_nan_and_zero_gradient_like_torch(
    fn: str, weight: bool, smoothing: float
) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, C))
    target = np.full(3, 2)
    options: dict[str, Any] = {"ignore_index": 2}
    if smoothing:
        options["label_smoothing"] = smoothing
    if weight:
        options["weight"] = rng.uniform(0.5, 1.5, C)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = getattr(F, fn)(
        xc,
        cr.tensor(target),
        **{k: cr.tensor(v) if k == "weight" else v for k, v in options.items()},
    )
    expected = getattr(torch.nn.functional, fn)(
        xt,
        torch.tensor(target),
        **{k: torch.tensor(v) if k == "weight" else v for k, v in options.items()},
    )
    assert np.isnan(to_numpy(expected)) and np.isnan(to_numpy(out))
    out.backward()
    expected.backward()
    np.testing.assert_array_equal(to_numpy(xc.grad), to_numpy(xt.grad))
    np.testing.assert_array_equal(to_numpy(xc.grad), np.zeros_like(x))
    # Summed or per sample, nothing is undefined: 0 and zeros.
    for reduction in ("sum", "none"):
        value = F.cross_entropy(
            cr.tensor(x), cr.tensor(target), ignore_index=2, reduction=reduction
        )
        np.testing.assert_array_equal(to_numpy(value), np.zeros(() if reduction == "sum" else 3))


def test_empty_batch_matches_torch() -> None:
    for target in (np.zeros(0, dtype=np.int64), np.zeros((0, C))):
        x = np.zeros((0, C))
        xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out = F.cross_entropy(xc, cr.tensor(target))
        expected = torch.nn.functional.cross_entropy(xt, torch.tensor(target))
        np.testing.assert_array_equal(to_numpy(out), to_numpy(expected))  # nan, as a mean of none
        out.backward()
        expected.backward()
        assert xc.grad.shape == (0, C)
        for reduction in ("sum", "none"):
            value = F.cross_entropy(cr.tensor(x), cr.tensor(target), reduction=reduction)
            expected = torch.nn.functional.cross_entropy(
                torch.tensor(x), torch.tensor(target), reduction=reduction
            )
            np.testing.assert_array_equal(to_numpy(value), to_numpy(expected))


def test_cross_entropy_of_a_confident_correct_prediction_is_small_and_stable() -> None:
    x = cr.tensor([[1000.0, 0.0, -1000.0], [0.0, 800.0, 0.0]], requires_grad=True)
    loss = F.cross_entropy(x, cr.tensor([0, 1]))
    assert loss.item() == 0.0
    loss.backward()
    assert np.all(np.isfinite(to_numpy(x.grad)))
    wrong = F.cross_entropy(cr.tensor([[1000.0, 0.0]]), cr.tensor([1]))
    assert wrong.item() == pytest.approx(1000.0)


# ---- errors --------------------------------------------------------------------------------------


def test_class_index_out_of_range_names_the_class_and_the_number_of_classes() -> None:
    x = cr.randn(3, 3)
    with pytest.raises(ValueError, match=r"class 5 .*3 classes"):
        F.cross_entropy(x, cr.tensor([0, 5, 1]))
    with pytest.raises(ValueError, match=r"class -1 .*3 classes"):
        F.nll_loss(x, cr.tensor([0, -1, 1]))
    with pytest.raises(ValueError, match=r"class 3 .*3 classes"):
        F.cross_entropy(cr.randn(3), cr.tensor(3))
    with pytest.raises(ValueError, match="class 7"):
        F.cross_entropy(cr.randn(1, 3, 2), cr.tensor([[0, 7]]))


@pytest.mark.parametrize(
    "call",
    [
        lambda r: F.mse_loss(cr.randn(2), cr.randn(2), reduction=r),
        lambda r: F.l1_loss(cr.randn(2), cr.randn(2), reduction=r),
        lambda r: F.cross_entropy(cr.randn(2, 3), cr.tensor([0, 1]), reduction=r),
        lambda r: F.nll_loss(cr.randn(2, 3), cr.tensor([0, 1]), reduction=r),
        lambda r: cr.nn.MSELoss(reduction=r),
        lambda r: cr.nn.L1Loss(reduction=r),
        lambda r: cr.nn.CrossEntropyLoss(reduction=r),
        lambda r: cr.nn.NLLLoss(reduction=r),
    ],
)
def test_bad_reduction_is_a_value_error(call: Any) -> None:
    with pytest.raises(ValueError, match=re.escape("reduction must be one of mean, sum, none")):
        call("average")


def test_wrong_target_shapes_and_options_are_errors() -> None:
    x = cr.randn(4, 3)
    with pytest.raises(ValueError, match=re.escape("(4,)")):
        F.cross_entropy(x, cr.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=re.escape("(4,)")):
        F.nll_loss(x, cr.tensor([[0], [1], [2], [0]]))
    with pytest.raises(ValueError, match=re.escape("(2, 3, 5)")):
        F.cross_entropy(cr.randn(2, 4, 3, 5), cr.zeros(2, 5, 3, dtype=cr.int64))
    with pytest.raises(ValueError, match=re.escape("shape () or (1,), got (2,)")):
        F.cross_entropy(cr.randn(3), cr.tensor([1, 2]))
    with pytest.raises(ValueError, match="probability targets"):
        F.cross_entropy(x, cr.rand(4, 2))
    with pytest.raises(ValueError, match=re.escape("weight must have shape (3,)")):
        F.cross_entropy(x, cr.tensor([0, 1, 2, 0]), weight=cr.ones(4))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, cr.tensor([0, 1, 2, 0]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="integers"):
        F.cross_entropy(x, cr.tensor([True, False, True, True]))
    with pytest.raises(ValueError, match=re.escape("(N, C)")):
        F.cross_entropy(cr.tensor(1.0), cr.tensor(0))


# ---- modules -------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_loss_modules_give_the_same_as_the_functions(reduction: str) -> None:
    rng = np.random.default_rng(9)
    x, y = cr.tensor(rng.standard_normal((4, 3))), cr.tensor(rng.standard_normal((4, 3)))
    target = cr.tensor(np.array([0, 2, -1, 1]))
    weight = cr.tensor(rng.uniform(0.5, 2, 3))
    pairs = [
        (cr.nn.MSELoss(reduction=reduction)(x, y), F.mse_loss(x, y, reduction=reduction)),
        (cr.nn.L1Loss(reduction=reduction)(x, y), F.l1_loss(x, y, reduction=reduction)),
        (
            # PyTorch's positions: weight, size_average, ignore_index, reduce, reduction, ...
            cr.nn.CrossEntropyLoss(weight, None, -1, None, reduction, 0.1)(x, target),
            F.cross_entropy(x, target, weight, None, -1, None, reduction, 0.1),
        ),
        (
            cr.nn.NLLLoss(weight, None, -1, None, reduction)(x, target),
            F.nll_loss(x, target, weight=weight, ignore_index=-1, reduction=reduction),
        ),
        (cr.nn.CrossEntropyLoss()(x, target.abs()), F.cross_entropy(x, target.abs())),
    ]
    for module_out, function_out in pairs:
        np.testing.assert_array_equal(to_numpy(module_out), to_numpy(function_out))

    # ... and the same as PyTorch's modules.
    th_loss = torch.nn.CrossEntropyLoss(
        torch.tensor(to_numpy(weight)), None, -1, None, reduction, 0.1
    )
    expected = th_loss(torch.tensor(to_numpy(x)), torch.tensor(to_numpy(target)))
    assert_close(pairs[2][0], expected, "float64", "CrossEntropyLoss module")


def test_loss_module_state_matches_torch() -> None:
    weight = np.array([1.0, 2.0, 0.5])
    for name in ("CrossEntropyLoss", "NLLLoss"):
        ours = getattr(cr.nn, name)(cr.tensor(weight))
        theirs = getattr(torch.nn, name)(torch.tensor(weight))
        assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
        assert list(getattr(cr.nn, name)().state_dict()) == []
        assert list(ours.parameters()) == []
    assert repr(cr.nn.MSELoss()) == repr(torch.nn.MSELoss())


def test_unbatched_input_accepts_a_target_of_shape_one_like_torch() -> None:
    x = np.random.default_rng(6).standard_normal(C)
    for target in (np.array(2), np.array([2])):
        for reduction in REDUCTIONS:
            out = F.cross_entropy(cr.tensor(x), cr.tensor(target), reduction=reduction)
            expected = torch.nn.functional.cross_entropy(
                torch.tensor(x), torch.tensor(target), reduction=reduction
            )
            assert_close(out, expected, "float64", f"target {target.shape}, {reduction}")


def test_zero_total_weight_gives_nan_loss_and_gradient_like_torch() -> None:
    """Kept samples whose classes all weigh 0: the weighted mean is 0/0 in both libraries."""
    x = np.random.default_rng(8).standard_normal((3, C))
    target, weight = np.array([0, 1, 0]), np.array([0.0, 0.0, 1.0, 1.0])
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's 0/0
        out = F.cross_entropy(xc, cr.tensor(target), cr.tensor(weight))
        out.backward()
    expected = torch.nn.functional.cross_entropy(xt, torch.tensor(target), torch.tensor(weight))
    expected.backward()
    assert np.isnan(out.item()) and np.isnan(expected.item())
    np.testing.assert_array_equal(to_numpy(xc.grad), to_numpy(xt.grad))  # nan where torch has


# ---- what PyTorch refuses ------------------------------------------------------------------------


def test_nll_loss_refuses_float_targets_as_torch_does() -> None:
    """nll_loss takes class indices only: float probabilities of the input's shape, or float
    class numbers, raise in PyTorch instead of giving a number."""
    log_p = np.log(np.full((3, C), 1 / C))
    probabilities, class_numbers = np.full((3, C), 1 / C), np.array([0.0, 1.0, 2.0])
    for target in (probabilities, class_numbers, class_numbers.astype(np.float32)):
        with pytest.raises(RuntimeError) as theirs:
            torch.nn.functional.nll_loss(torch.tensor(log_p), torch.tensor(target))
        with pytest.raises(RuntimeError, match=re.escape(str(theirs.value))):
            F.nll_loss(cr.tensor(log_p), cr.tensor(target))
        with pytest.raises(RuntimeError, match=re.escape(str(theirs.value))):
            cr.nn.NLLLoss()(cr.tensor(log_p), cr.tensor(target))
    # cross_entropy reads a float target of the input's shape as class probabilities.
    logits, target = np.random.default_rng(5).standard_normal((3, C)), np.full((3, C), 1 / C)
    assert_close(
        F.cross_entropy(cr.tensor(logits), cr.tensor(target)),
        torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(target)),
        "float64",
        "cross_entropy with probabilities",
    )
    with pytest.raises(ValueError, match="probability targets must have the input's shape"):
        F.cross_entropy(cr.tensor(logits), cr.tensor([0.0, 1.0, 2.0]))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss", "kl_div"])
def test_arguments_that_are_not_tensors_are_named(name: str) -> None:
    fn, x = getattr(F, name), cr.randn(3, C)
    for bad in ("two", object(), None):
        with pytest.raises(TypeError, match=re.escape(f"{name}(): argument 'target' (position 2)")):
            fn(x, bad)
    with pytest.raises(TypeError, match=re.escape(f"{name}(): argument 'input' (position 1)")):
        fn("logits", cr.tensor([0, 1, 2]))
