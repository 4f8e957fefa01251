"""InstanceNorm1d/2d/3d and F.instance_norm against PyTorch (values, gradients, running
statistics, state_dict, repr) and finite differences."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

TOLERANCE = {"float32": (1e-4, 1e-5), "float64": (1e-10, 1e-12)}


def to_numpy(t: Any) -> np.ndarray:
    return t.detach().numpy()


def assert_close(actual: Any, expected: Any, dtype: str, what: str) -> None:
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, PyTorch gives {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, PyTorch gives {e.dtype}"
    rtol, atol = TOLERANCE[dtype]
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=what)


def seeded(*key: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def twins(kind: str, channels: int, options: dict, dtype: str) -> tuple[Any, Any]:
    reference = getattr(torch.nn, kind)(channels, dtype=getattr(torch, dtype), **options)
    layer = getattr(cr.nn, kind)(channels, dtype=dtype, **options)
    if options.get("affine"):  # move γ, β off 1 and 0 so that their gradients are tested
        rng = seeded(kind, "affine")
        with torch.no_grad():
            reference.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, channels)))
            if reference.bias is not None:
                reference.bias.copy_(torch.tensor(rng.standard_normal(channels)))
    layer.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    return layer, reference


def step(layer: Any, reference: Any, x: np.ndarray, dtype: str) -> None:
    """One forward and backward in both libraries: values and every gradient compared."""
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = layer(xc), reference(xt)
    assert_close(out, expected, dtype, "forward")
    upstream = seeded("upstream", x.shape).standard_normal(out.shape).astype(dtype)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    assert_close(xc.grad, xt.grad, dtype, "input gradient")
    for (name, p), (_, q) in zip(layer.named_parameters(), reference.named_parameters()):
        assert_close(p.grad, q.grad, dtype, f"{name} gradient")


CASES = {
    "1d": ("InstanceNorm1d", 3, {}, (4, 3, 7)),
    "1d_unbatched": ("InstanceNorm1d", 3, {}, (3, 6)),
    "1d_affine": ("InstanceNorm1d", 3, {"affine": True}, (2, 3, 5)),
    "1d_affine_no_bias": ("InstanceNorm1d", 2, {"affine": True, "bias": False}, (3, 2, 4)),
    "2d": ("InstanceNorm2d", 4, {}, (2, 4, 5, 3)),
    "2d_affine_eps": ("InstanceNorm2d", 2, {"affine": True, "eps": 1e-2}, (3, 2, 4, 4)),
    "2d_unbatched_affine": ("InstanceNorm2d", 3, {"affine": True}, (3, 4, 5)),
    "2d_tracked": ("InstanceNorm2d", 3, {"track_running_stats": True}, (2, 3, 4, 3)),
    "3d_affine_tracked": (
        "InstanceNorm3d",
        2,
        {"affine": True, "track_running_stats": True, "momentum": 0.3},
        (2, 2, 3, 2, 3),
    ),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
def test_training_steps_match_torch(name: str, dtype: str) -> None:
    """Three training steps then one in eval mode: values, gradients and running statistics."""
    kind, channels, options, shape = CASES[name]
    layer, reference = twins(kind, channels, options, dtype)
    rng = seeded(name, dtype)
    for _ in range(3):
        step(layer, reference, (rng.standard_normal(shape) * 2 + 1).astype(dtype), dtype)
    for key, value in reference.state_dict().items():
        assert_close(layer.state_dict()[key], value, dtype, key)
    layer.eval()
    reference.eval()
    step(layer, reference, rng.standard_normal(shape).astype(dtype), dtype)


def test_eval_with_running_stats_normalises_with_them() -> None:
    layer = cr.nn.InstanceNorm1d(2, track_running_stats=True, dtype=cr.float64).eval()
    layer.running_mean.array[...] = [1.0, -2.0]
    layer.running_var.array[...] = [4.0, 0.25]
    x = seeded("eval").standard_normal((3, 2, 5))
    expected = (x - np.array([1.0, -2.0])[:, None]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)[:, None]
    np.testing.assert_allclose(to_numpy(layer(cr.tensor(x))), expected, rtol=1e-12)


def test_without_tracking_eval_uses_the_inputs_statistics() -> None:
    layer = cr.nn.InstanceNorm2d(3).eval()
    out = to_numpy(layer(cr.randn(2, 3, 4, 4) * 5 + 2))
    np.testing.assert_allclose(out.mean(axis=(2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=(2, 3)), 1, atol=1e-3)
    assert layer.running_mean is None and list(layer.state_dict()) == []


@pytest.mark.parametrize(
    "options",
    [{}, {"affine": True}, {"track_running_stats": True}, {"affine": True, "bias": False}],
)
def test_repr_and_state_dict_keys_match_torch(options: dict) -> None:
    for kind in ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"):
        layer, reference = getattr(cr.nn, kind)(5, **options), getattr(torch.nn, kind)(5, **options)
        assert repr(layer) == repr(reference)
        assert list(layer.state_dict()) == list(reference.state_dict())
        assert [n for n, _ in layer.named_parameters()] == [
            n for n, _ in reference.named_parameters()
        ]


def test_functional_matches_torch() -> None:
    rng = seeded("functional")
    x, w, b = rng.standard_normal((3, 2, 6)), rng.standard_normal(2), rng.standard_normal(2)
    mean, var = rng.standard_normal(2), rng.uniform(0.5, 2, 2)
    args = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    targs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    stats = [cr.tensor(mean.copy()), cr.tensor(var.copy())]
    tstats = [torch.tensor(mean.copy()), torch.tensor(var.copy())]
    for use_input_stats in (True, False):
        out = F.instance_norm(
            args[0], *stats, args[1], args[2], use_input_stats=use_input_stats, momentum=0.2
        )
        expected = torch.nn.functional.instance_norm(
            targs[0], *tstats, targs[1], targs[2], use_input_stats=use_input_stats, momentum=0.2
        )
        assert_close(out, expected, "float64", f"forward, use_input_stats={use_input_stats}")
        upstream = rng.standard_normal(out.shape)
        out.backward(cr.tensor(upstream))
        expected.backward(torch.tensor(upstream))
        for i, (a, t) in enumerate(zip(args, targs)):
            assert_close(a.grad, t.grad, "float64", f"gradient {i}, {use_input_stats}")
        for s, t in zip(stats, tstats):
            assert_close(s, t, "float64", "running statistics")
    plain = F.instance_norm(cr.tensor(x))
    assert_close(plain, torch.nn.functional.instance_norm(torch.tensor(x)), "float64", "plain")


@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 2, 3, 2)])
def test_gradcheck(shape: tuple) -> None:
    rng = seeded("gradcheck", shape)
    channels = shape[1]
    inputs = [
        cr.tensor(rng.standard_normal(shape), requires_grad=True),
        cr.tensor(rng.uniform(0.5, 1.5, channels), requires_grad=True),
        cr.tensor(rng.standard_normal(channels), requires_grad=True),
    ]
    assert cr.gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), inputs) is True
    stats = cr.tensor(rng.standard_normal(channels)), cr.tensor(rng.uniform(0.5, 2, channels))
    assert cr.gradcheck(
        lambda x, w, b: F.instance_norm(x, *stats, w, b, use_input_stats=False), inputs
    )


def test_errors_follow_torch() -> None:
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        torch.nn.functional.instance_norm(torch.ones(4, 2, 1))
    with pytest.raises(ValueError, match="instance_norm: expected more than 1 spatial element"):
        F.instance_norm(cr.ones(4, 2, 1))
    with pytest.raises(ValueError, match="expected more than 1 spatial element"):
        cr.nn.InstanceNorm1d(2)(cr.ones(4, 2, 1))
    with pytest.raises(ValueError, match="running_mean and running_var are required"):
        F.instance_norm(cr.ones(4, 2, 5), use_input_stats=False)
    with pytest.raises(ValueError, match=r"InstanceNorm1d\(2\): expected 2-D or 3-D input"):
        cr.nn.InstanceNorm1d(2)(cr.ones(4, 2, 1, 3))
    with pytest.raises(ValueError, match=r"InstanceNorm2d\(3\): expected input with 3 channels"):
        cr.nn.InstanceNorm2d(3, affine=True)(cr.ones(4, 2, 5, 5))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.instance_norm(cr.ones(4, 3, 5), weight=cr.ones(2))
    # Without per-channel state the channel count is not needed: PyTorch normalises and warns.
    with pytest.warns(UserWarning, match="num_features is unused"):
        out = cr.nn.InstanceNorm1d(3)(cr.randn(4, 2, 5))
    assert out.shape == (4, 2, 5)


def test_dtype_rules_follow_torch() -> None:
    # γ and β must share the input's dtype; untracked or tracked statistics need not.
    layer = cr.nn.InstanceNorm1d(2, affine=True)
    with pytest.raises(RuntimeError, match=r"InstanceNorm1d\(2.*input is float64 but weight is"):
        layer(cr.randn(4, 2, 3, dtype=cr.float64))
    tracked = cr.nn.InstanceNorm1d(2, track_running_stats=True)
    assert tracked(cr.randn(4, 2, 3, dtype=cr.float64)).dtype == cr.float64
    with pytest.raises(RuntimeError, match="expected a floating-point input, got int64"):
        cr.nn.InstanceNorm1d(2)(cr.ones(4, 2, 3, dtype=cr.int64))


def test_a_weight_written_after_the_call_leaves_backward_alone_as_torch() -> None:
    grads = []
    for m in (torch, cr):
        x = m.tensor(np.arange(8.0).reshape(1, 2, 4), requires_grad=True)
        weight, bias = m.ones(2, dtype=m.float64), m.zeros(2, dtype=m.float64)
        out = m.nn.functional.instance_norm(x, weight=weight, bias=bias)
        weight.add_(weight)
        bias.add_(1.0)
        (out * m.tensor(np.linspace(0, 1, 8).reshape(1, 2, 4))).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)
