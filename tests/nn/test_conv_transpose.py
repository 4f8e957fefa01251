"""ConvTranspose1d, ConvTranspose2d and F.conv_transpose1d/2d against PyTorch (same weights:
values and gradients) and finite differences; Conv1d/Conv2d padding modes against PyTorch."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

TOLERANCE = {"float32": (2e-5, 2e-6), "float64": (1e-12, 1e-13)}


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().numpy())


def assert_close(actual: Any, expected: Any, dtype: str, what: str) -> None:
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, PyTorch gives {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, PyTorch gives {e.dtype}"
    rtol, atol = TOLERANCE[dtype]
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol * max(1.0, np.abs(e).max()), err_msg=what)


def seeded(*key: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def twins(kind: str, args: tuple, options: dict, dtype: str) -> tuple[Any, Any]:
    """The same layer in both libraries, with PyTorch's initial weights loaded into ours."""
    torch.manual_seed(zlib.crc32(repr((kind, args, options)).encode()))
    reference = getattr(torch.nn, kind)(*args, dtype=getattr(torch, dtype), **options)
    layer = getattr(cr.nn, kind)(*args, dtype=dtype, **options)
    layer.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    return layer, reference


def compare(layer: Any, reference: Any, x: np.ndarray, dtype: str, **call: Any) -> None:
    """Forward values, input gradient and every parameter gradient, for a random upstream."""
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = layer(xc, **call), reference(xt, **call)
    assert_close(out, expected, dtype, "forward")
    upstream = seeded("upstream", out.shape).standard_normal(out.shape).astype(dtype)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    assert_close(xc.grad, xt.grad, dtype, "input gradient")
    for (name, p), (_, q) in zip(layer.named_parameters(), reference.named_parameters()):
        assert_close(p.grad, q.grad, dtype, f"{name} gradient")


# ---- transposed layers against PyTorch ---------------------------------------------------------

# (layer, (in, out, kernel), options, input shape)
TRANSPOSED = {
    "2d_plain": ("ConvTranspose2d", (3, 4, 3), {}, (2, 3, 5, 4)),
    "2d_stride2_pad1": ("ConvTranspose2d", (4, 2, 4), {"stride": 2, "padding": 1}, (2, 4, 5, 5)),
    "2d_output_padding": (
        "ConvTranspose2d",
        (2, 3, 3),
        {"stride": 2, "padding": 1, "output_padding": 1},
        (2, 2, 4, 3),
    ),
    "2d_tuples": (
        "ConvTranspose2d",
        (2, 3, (3, 2)),
        {"stride": (2, 3), "padding": (1, 0), "output_padding": (0, 2)},
        (2, 2, 4, 3),
    ),
    "2d_dilation": ("ConvTranspose2d", (2, 2, 3), {"dilation": 2, "padding": 1}, (2, 2, 4, 4)),
    "2d_output_padding_below_dilation": (
        "ConvTranspose2d",
        (2, 3, 3),
        {"dilation": 3, "output_padding": 2},
        (1, 2, 3, 3),
    ),
    "2d_groups": ("ConvTranspose2d", (4, 6, 3), {"groups": 2, "stride": 2}, (2, 4, 3, 4)),
    "2d_depthwise": ("ConvTranspose2d", (3, 3, 2), {"groups": 3, "bias": False}, (2, 3, 4, 4)),
    "2d_unbatched": ("ConvTranspose2d", (3, 2, 3), {"stride": 2}, (3, 4, 5)),
    "2d_1x1": ("ConvTranspose2d", (5, 2, 1), {}, (2, 5, 3, 3)),
    "1d_plain": ("ConvTranspose1d", (3, 4, 3), {}, (2, 3, 6)),
    "1d_stride_pad": ("ConvTranspose1d", (2, 3, 4), {"stride": 3, "padding": 2}, (2, 2, 5)),
    "1d_groups_dilation": (
        "ConvTranspose1d",
        (4, 2, 3),
        {"groups": 2, "dilation": 2, "output_padding": 1, "stride": 2},
        (3, 4, 5),
    ),
    "1d_unbatched_no_bias": ("ConvTranspose1d", (2, 3, 2), {"bias": False}, (2, 7)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(TRANSPOSED))
def test_transposed_layers_match_torch(name: str, dtype: str) -> None:
    kind, args, options, shape = TRANSPOSED[name]
    layer, reference = twins(kind, args, options, dtype)
    compare(layer, reference, seeded(name, dtype).standard_normal(shape).astype(dtype), dtype)


@pytest.mark.parametrize(
    ("kind", "args", "options", "shape", "output_size"),
    [
        ("ConvTranspose2d", (2, 3, 3), {"stride": 2, "padding": 1}, (2, 2, 4, 4), (8, 8)),
        ("ConvTranspose2d", (2, 3, 3), {"stride": 3}, (2, 2, 3, 4), [2, 3, 9, 13]),
        ("ConvTranspose2d", (2, 3, 3), {"stride": 2}, (2, 3, 3), (3, 8, 7)),
        ("ConvTranspose1d", (2, 3, 3), {"stride": 2, "output_padding": 1}, (2, 2, 5), (11,)),
    ],
)
def test_output_size_picks_the_output_padding(
    kind: str, args: tuple, options: dict, shape: tuple, output_size: Any
) -> None:
    layer, reference = twins(kind, args, options, "float64")
    x = seeded(kind, output_size).standard_normal(shape)
    compare(layer, reference, x, "float64", output_size=output_size)


def test_output_size_out_of_range_is_refused_like_torch() -> None:
    layer, reference = twins("ConvTranspose2d", (2, 3, 3), {"stride": 2}, "float32")
    x = np.zeros((1, 2, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="requested an output size"):
        reference(torch.tensor(x), output_size=(12, 9))
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested an output size of \[12, 9\]"):
        layer(cr.tensor(x), output_size=(12, 9))
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        layer(cr.tensor(x), output_size=(9, 9, 9))


def test_default_initialisation_has_torch_shapes_and_bounds() -> None:
    layer = cr.nn.ConvTranspose2d(6, 8, (3, 2), groups=2)
    reference = torch.nn.ConvTranspose2d(6, 8, (3, 2), groups=2)
    assert layer.weight.shape == tuple(reference.weight.shape) == (6, 4, 3, 2)
    assert layer.bias.shape == tuple(reference.bias.shape) == (8,)
    # kaiming_uniform_(a=√5) and the bias both give ±1/√fan_in, fan_in = (out/groups)·kH·kW.
    bound = 1 / np.sqrt(4 * 3 * 2)
    for p in (layer.weight, layer.bias):
        values = to_numpy(p)
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.7 * bound  # spread over the range, not squeezed
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert repr(layer) == repr(reference)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2, "dilation": 2},
        {"bias": False, "stride": (1, 2)},
    ],
)
def test_repr_matches_torch(options: dict) -> None:
    args = (4, 6, 3)
    assert repr(cr.nn.ConvTranspose2d(*args, **options)) == repr(
        torch.nn.ConvTranspose2d(*args, **options)
    )
    assert repr(cr.nn.ConvTranspose1d(*args, **options if "stride" not in options else {})) == (
        repr(torch.nn.ConvTranspose1d(*args, **options if "stride" not in options else {}))
    )


def test_functional_takes_torch_arguments_in_torch_order() -> None:
    rng = seeded("functional")
    x, w, b = (
        rng.standard_normal((2, 4, 5, 4)),
        rng.standard_normal((4, 3, 3, 2)),
        rng.standard_normal(6),
    )
    args = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    targs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    # positional: stride, padding, output_padding, groups, dilation
    out = F.conv_transpose2d(*args, (2, 1), (1, 0), (1, 0), 2, (1, 2))
    expected = torch.nn.functional.conv_transpose2d(*targs, (2, 1), (1, 0), (1, 0), 2, (1, 2))
    assert_close(out, expected, "float64", "forward")
    upstream = rng.standard_normal(out.shape)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    for i, (a, t) in enumerate(zip(args, targs)):
        assert_close(a.grad, t.grad, "float64", f"gradient of argument {i}")


def test_transposed_convolution_is_the_convolutions_input_gradient() -> None:
    """<conv(z, W), x> = <z, conv_transpose(x, W)> for every z and x: the two are adjoint."""
    rng = seeded("adjoint")
    w = cr.tensor(rng.standard_normal((3, 2, 3, 3)))
    z = cr.tensor(rng.standard_normal((2, 2, 9, 8)))
    conv = F.conv2d(z, w, stride=2, padding=1)
    x = cr.tensor(rng.standard_normal(conv.shape))
    transposed = F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=(0, 1))
    assert transposed.shape == z.shape
    np.testing.assert_allclose(float((conv * x).sum()), float((z * transposed).sum()), rtol=1e-10)


GRADCHECK = {
    "2d": (F.conv_transpose2d, (2, 2, 3, 3), (2, 3, 2, 2), {"stride": 2, "padding": 1}),
    "2d_groups": (F.conv_transpose2d, (1, 4, 3, 2), (4, 1, 3, 2), {"groups": 2, "dilation": 2}),
    "2d_output_padding": (
        F.conv_transpose2d,
        (1, 2, 3, 3),
        (2, 2, 3, 3),
        {"stride": 2, "output_padding": 1},
    ),
    "1d": (F.conv_transpose1d, (2, 3, 4), (3, 2, 3), {"stride": 3, "padding": 1}),
    "1d_unbatched": (F.conv_transpose1d, (2, 5), (2, 2, 2), {}),
}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck(name: str, bias: bool) -> None:
    fn, x_shape, w_shape, options = GRADCHECK[name]
    rng = seeded(name, bias)
    inputs = [
        cr.tensor(rng.standard_normal(x_shape), requires_grad=True),
        cr.tensor(rng.standard_normal(w_shape), requires_grad=True),
    ]
    if bias:
        groups = options.get("groups", 1)
        inputs.append(cr.tensor(rng.standard_normal(w_shape[1] * groups), requires_grad=True))
    assert cr.gradcheck(lambda *a: fn(*a, **options), inputs) is True


def test_only_the_arguments_that_require_grad_get_one() -> None:
    rng = seeded("needs")
    x = cr.tensor(rng.standard_normal((2, 3, 4, 4)))
    w = cr.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    F.conv_transpose2d(x, w, stride=2).sum().backward()
    assert x.grad is None and w.grad is not None
    with cr.no_grad():
        out = F.conv_transpose2d(x, w, stride=2)
    assert out.grad_fn is None and not out.requires_grad


def test_errors_name_the_function_and_follow_torch() -> None:
    x = cr.randn(1, 3, 4, 4)
    with pytest.raises(ValueError, match=r"conv_transpose2d: weight of shape \(2, 3, 3, 3\)"):
        F.conv_transpose2d(x, cr.randn(2, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv_transpose2d: bias must have shape \(2,\)"):
        F.conv_transpose2d(x, cr.randn(3, 2, 3, 3), cr.randn(3), groups=1)
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride"):
        F.conv_transpose2d(x, cr.randn(3, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(TypeError, match="padding must be an int or a tuple"):
        F.conv_transpose2d(x, cr.randn(3, 2, 3, 3), padding="same")
    with pytest.raises(ValueError, match="too small"):
        F.conv_transpose2d(cr.randn(1, 3, 1, 1), cr.randn(3, 2, 1, 1), padding=1)
    with pytest.raises(ValueError, match='ConvTranspose2d: only "zeros" padding mode'):
        cr.nn.ConvTranspose2d(2, 3, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="ConvTranspose1d: padding must be an int or a tuple"):
        cr.nn.ConvTranspose1d(2, 3, 3, padding="same")
    with pytest.raises(ValueError, match="divisible by groups"):
        cr.nn.ConvTranspose2d(3, 4, 3, groups=2)


# ---- padding modes of Conv1d and Conv2d ---------------------------------------------------------

PADDED = {
    "2d_reflect": ("Conv2d", (2, 3, 3), {"padding": 1, "padding_mode": "reflect"}, (2, 2, 5, 4)),
    "2d_replicate_tuple": (
        "Conv2d",
        (2, 3, (3, 2)),
        {"padding": (2, 1), "padding_mode": "replicate", "stride": 2},
        (2, 2, 6, 5),
    ),
    "2d_circular": ("Conv2d", (2, 2, 3), {"padding": 2, "padding_mode": "circular"}, (1, 2, 4, 4)),
    "2d_same_reflect_even": (
        "Conv2d",
        (2, 3, (4, 3)),
        {"padding": "same", "padding_mode": "reflect", "dilation": (1, 2)},
        (2, 2, 7, 8),
    ),
    "2d_valid_circular": (
        "Conv2d",
        (2, 3, 3),
        {"padding": "valid", "padding_mode": "circular"},
        (2, 2, 5, 5),
    ),
    "2d_unbatched_replicate": (
        "Conv2d",
        (3, 2, 3),
        {"padding": 1, "padding_mode": "replicate", "groups": 1},
        (3, 4, 5),
    ),
    "1d_reflect": ("Conv1d", (2, 3, 3), {"padding": 2, "padding_mode": "reflect"}, (2, 2, 6)),
    "1d_circular_groups": (
        "Conv1d",
        (4, 2, 3),
        {"padding": 1, "padding_mode": "circular", "groups": 2},
        (2, 4, 5),
    ),
    "1d_same_replicate": (
        "Conv1d",
        (2, 2, 4),
        {"padding": "same", "padding_mode": "replicate"},
        (2, 2, 6),
    ),
    "1d_unbatched_zeros": ("Conv1d", (2, 3, 3), {"padding": 1, "padding_mode": "zeros"}, (2, 6)),
}


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on its own speed
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(PADDED))
def test_padding_modes_match_torch(name: str, dtype: str) -> None:
    kind, args, options, shape = PADDED[name]
    layer, reference = twins(kind, args, options, dtype)
    compare(layer, reference, seeded(name, dtype).standard_normal(shape).astype(dtype), dtype)
    assert repr(layer) == repr(reference)


def test_padding_mode_gradcheck() -> None:
    layer = cr.nn.Conv2d(2, 2, 3, padding=(1, 2), padding_mode="circular", dtype=cr.float64)
    x = cr.tensor(seeded("circular").standard_normal((1, 2, 4, 3)), requires_grad=True)
    inputs = [x, layer.weight, layer.bias]

    def fn(x: cr.Tensor, weight: cr.Tensor, bias: cr.Tensor) -> cr.Tensor:
        padded = F.pad(x, (2, 2, 1, 1), mode="circular")
        return F.conv2d(padded, weight, bias)

    np.testing.assert_array_equal(to_numpy(layer(x)), to_numpy(fn(*inputs)))
    assert cr.gradcheck(fn, inputs) is True


def test_padding_mode_errors_are_torch_like() -> None:
    with pytest.raises(ValueError, match="Conv2d: padding_mode must be one of 'zeros', 'reflect'"):
        cr.nn.Conv2d(2, 3, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="Conv2d: padding='same' is not supported for strided"):
        cr.nn.Conv2d(2, 3, 3, stride=2, padding="same", padding_mode="reflect")
    layer = cr.nn.Conv2d(2, 3, 3, padding=3, padding_mode="reflect")
    with pytest.raises(ValueError, match="reflect needs widths smaller than"):
        layer(cr.randn(1, 2, 3, 3))
