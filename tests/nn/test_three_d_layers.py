"""The 3-d layers (Conv3d, ConvTranspose3d, MaxPool3d, AvgPool3d, AdaptiveAvgPool3d,
BatchNorm3d) against PyTorch: reprs, parameter shapes and initial bounds, outputs and
gradients with the same weights, and errors. The functions themselves are compared case by
case in tests/op_cases_three_d.py."""

from __future__ import annotations

import math
import re
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def assert_close(actual: Any, expected: Any, what: str) -> None:
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, PyTorch gives {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, PyTorch gives {e.dtype}"
    np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12, err_msg=what)


# (layer, constructor arguments, keyword arguments, input shape)
LAYERS = {
    "Conv3d": ("Conv3d", (2, 4, 3), {}, (2, 2, 4, 5, 4)),
    "Conv3d-all-options": (
        "Conv3d",
        (4, 6, (2, 3, 2)),
        {"stride": (1, 2, 1), "padding": (1, 0, 2), "dilation": (2, 1, 1), "groups": 2},
        (2, 4, 4, 6, 3),
    ),
    # An even kernel: "same" puts the odd element of the padding after, as PyTorch does.
    "Conv3d-same-even-unbatched": ("Conv3d", (2, 3, (2, 3, 4)), {"padding": "same"}, (2, 4, 4, 5)),
    "Conv3d-valid-nobias": (
        "Conv3d",
        (3, 2, 2),
        {"padding": "valid", "bias": False},
        (1, 3, 3, 3, 4),
    ),
    "Conv3d-reflect": (
        "Conv3d",
        (2, 2, 3),
        {"padding": 1, "padding_mode": "reflect"},
        (1, 2, 3, 4, 3),
    ),
    "Conv3d-circular-same": (
        "Conv3d",
        (2, 2, (3, 2, 3)),
        {"padding": "same", "padding_mode": "circular"},
        (2, 2, 3, 4, 5),
    ),
    "ConvTranspose3d": (
        "ConvTranspose3d",
        (4, 2, (2, 3, 2)),
        {
            "stride": 2,
            "padding": 1,
            "output_padding": (1, 0, 1),
            "groups": 2,
            "dilation": (1, 1, 2),
        },
        (2, 4, 2, 3, 2),
    ),
    "ConvTranspose3d-unbatched-nobias": (
        "ConvTranspose3d",
        (2, 3, 2),
        {"bias": False},
        (2, 2, 3, 2),
    ),
    "MaxPool3d": ("MaxPool3d", (2,), {}, (2, 2, 4, 4, 5)),
    "MaxPool3d-options": (
        "MaxPool3d",
        ((3, 2, 2), (2, 1, 2)),
        {"padding": 1, "dilation": (1, 2, 1), "ceil_mode": True},
        (2, 5, 5, 4),
    ),
    "AvgPool3d": ("AvgPool3d", (2,), {}, (2, 2, 4, 4, 5)),
    "AvgPool3d-options": (
        "AvgPool3d",
        ((3, 2, 2), 2, 1),
        {"ceil_mode": True, "count_include_pad": False},
        (1, 2, 5, 4, 5),
    ),
    "AvgPool3d-divisor-unbatched": ("AvgPool3d", (2, 1), {"divisor_override": 3}, (2, 3, 3, 4)),
    "AdaptiveAvgPool3d": ("AdaptiveAvgPool3d", ((2, None, 3),), {}, (2, 2, 5, 4, 7)),
    "AdaptiveAvgPool3d-global-unbatched": ("AdaptiveAvgPool3d", (1,), {}, (2, 3, 4, 5)),
    "BatchNorm3d": ("BatchNorm3d", (3,), {"momentum": 0.3}, (2, 3, 2, 3, 2)),
    "BatchNorm3d-noaffine-notrack": (
        "BatchNorm3d",
        (3,),
        {"affine": False, "track_running_stats": False},
        (2, 3, 2, 3, 2),
    ),
}


def layer_pair(name: str) -> tuple[Any, Any]:
    kind, args, kwargs, _ = LAYERS[name]
    torch.manual_seed(zlib.crc32(name.encode()))
    reference = getattr(torch.nn, kind)(*args, **kwargs).double()
    layer = getattr(cr.nn, kind)(*args, **kwargs).double()
    layer.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    return layer, reference


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on its own speed
@pytest.mark.parametrize("name", list(LAYERS))
def test_forward_backward_and_repr_match_torch(name: str) -> None:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    layer, reference = layer_pair(name)
    assert repr(layer) == repr(reference)
    x = rng.standard_normal(LAYERS[name][-1])
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = layer(xc), reference(xt)
    assert_close(out, expected, "forward")
    upstream = rng.standard_normal(tuple(expected.shape))
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    assert_close(xc.grad, xt.grad, "input gradient")
    for param, ref in zip(layer.parameters(), reference.parameters(), strict=True):
        assert_close(param.grad, ref.grad, "parameter gradient")
    for buffer, ref in zip(layer.buffers(), reference.buffers(), strict=True):
        np.testing.assert_allclose(to_numpy(buffer), ref.numpy(), rtol=1e-12, err_msg="buffer")


def test_max_pool3d_layer_returns_torchs_indices() -> None:
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 5, 3))
    options = {"kernel_size": (2, 3, 2), "stride": 2, "padding": 1, "return_indices": True}
    out, indices = cr.nn.MaxPool3d(**options)(cr.tensor(x))
    expected, expected_indices = torch.nn.MaxPool3d(**options)(torch.tensor(x))
    assert_close(out, expected, "values")
    np.testing.assert_array_equal(to_numpy(indices), expected_indices.numpy())
    assert to_numpy(indices).dtype == np.int64


def test_batch_norm3d_eval_uses_the_running_statistics() -> None:
    layer, reference = layer_pair("BatchNorm3d")
    x = np.random.default_rng(1).standard_normal((2, 3, 2, 3, 2))
    for _ in range(2):
        layer(cr.tensor(x))
        reference(torch.tensor(x))
    layer.eval()
    reference.eval()
    assert_close(layer(cr.tensor(x + 1)), reference(torch.tensor(x + 1)), "eval output")


@pytest.mark.parametrize(
    ("kind", "args", "fan_in"),
    [
        ("Conv3d", (6, 40, 3), 6 * 27),
        ("Conv3d", (8, 40, (3, 1, 5), 1, 0, 1, 4), 2 * 15),
        ("ConvTranspose3d", (8, 40, (2, 3, 2)), 40 * 12),
        ("ConvTranspose3d", (8, 40, 2, 1, 0, 0, 4), 10 * 8),
    ],
)
def test_parameter_shapes_and_init_bounds_match_torch(kind: str, args: tuple, fan_in: int) -> None:
    layer, reference = getattr(cr.nn, kind)(*args), getattr(torch.nn, kind)(*args)
    assert layer.weight.shape == tuple(reference.weight.shape)
    assert layer.bias.shape == tuple(reference.bias.shape)
    assert list(layer.state_dict()) == list(reference.state_dict())
    bound = 1 / math.sqrt(fan_in)
    weight, bias = to_numpy(layer.weight), to_numpy(layer.bias)
    assert weight.dtype == np.float32 and bias.dtype == np.float32
    assert np.abs(weight).max() <= bound and np.abs(bias).max() <= bound
    assert np.abs(weight).max() > 0.95 * bound
    for name in ("kernel_size", "stride", "padding", "dilation", "groups"):
        assert getattr(layer, name) == getattr(reference, name), name


def test_batch_norm3d_parameters_and_buffers_match_torch() -> None:
    layer, reference = cr.nn.BatchNorm3d(4), torch.nn.BatchNorm3d(4)
    assert list(layer.state_dict()) == list(reference.state_dict())
    np.testing.assert_array_equal(to_numpy(layer.weight), np.ones(4, np.float32))
    np.testing.assert_array_equal(to_numpy(layer.bias), np.zeros(4, np.float32))


def test_conv_transpose3d_output_size_picks_output_padding() -> None:
    torch.manual_seed(0)
    reference = torch.nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1).double()
    layer = cr.nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1).double()
    layer.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 4, 2))
    size = [6, 7, 4]
    out = layer(cr.tensor(x), output_size=size)
    assert_close(out, reference(torch.tensor(x), output_size=size), "output_size")
    with pytest.raises(ValueError, match="ConvTranspose3d: requested an output size"):
        layer(cr.tensor(x), output_size=[8, 7, 4])


# ---- errors ------------------------------------------------------------------------------------


def test_layers_name_themselves_and_the_expected_shapes() -> None:
    conv = cr.nn.Conv3d(3, 4, 3)
    with pytest.raises(ValueError, match=re.escape("Conv3d(3, 4, kernel_size=(3, 3, 3)")) as e:
        conv(cr.randn(2, 5, 4, 4, 4))
    assert "(N, 3, D, H, W)" in str(e.value) and "(2, 5, 4, 4, 4)" in str(e.value)
    with pytest.raises(ValueError, match=r"MaxPool3d.*\(N, C, D, H, W\)"):
        cr.nn.MaxPool3d(2)(cr.randn(2, 4, 4))
    with pytest.raises(ValueError, match=r"AvgPool3d.*\(C, D, H, W\)"):
        cr.nn.AvgPool3d(2)(cr.randn(2, 4, 4))
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool3d"):
        cr.nn.AdaptiveAvgPool3d(2)(cr.randn(2, 4, 4))
    with pytest.raises(
        ValueError, match=r"BatchNorm3d\(3\): expected input of shape \(N, 3, D, H, W\)"
    ):
        cr.nn.BatchNorm3d(3)(cr.randn(3, 4, 4, 4))
    # PyTorch's BatchNorm3d takes no unbatched input either.
    with pytest.raises(ValueError, match="expected 5D input"):
        torch.nn.BatchNorm3d(3)(torch.randn(3, 4, 4, 4))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kernel_size": (3, 3)}, "kernel_size"),
        ({"padding": "full"}, "padding must be"),
        ({"padding": "same", "stride": 2}, "strided"),
        ({"groups": 3}, "divisible by groups"),
        ({"padding_mode": "wrap"}, "padding_mode"),
    ],
)
def test_bad_conv3d_arguments_are_value_errors(kwargs: dict, message: str) -> None:
    options = {"kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=f"Conv3d: .*{message}"):
        cr.nn.Conv3d(4, 4, **options)
    with pytest.raises((ValueError, RuntimeError)):  # PyTorch refuses each one too
        torch.nn.Conv3d(4, 4, **options)(torch.randn(1, 4, 5, 5, 5))


def test_functions_name_themselves_in_errors() -> None:
    x = cr.randn(1, 2, 4, 4, 4)
    with pytest.raises(ValueError, match=r"conv3d: weight must have shape"):
        F.conv3d(x, cr.randn(3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"conv3d: weight of shape .* groups=1"):
        F.conv3d(x, cr.randn(3, 3, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv3d: expected input of shape \(N, C, D, H, W\)"):
        F.conv3d(cr.randn(4, 4, 4), cr.randn(3, 2, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv3d: .* \(4, 4, 4\) is smaller than .* \(3, 3, 5\)"):
        F.conv3d(x, cr.randn(3, 2, 3, 3, 3), dilation=(1, 1, 2))
    with pytest.raises(TypeError, match="conv_transpose3d: padding must be"):
        F.conv_transpose3d(x, cr.randn(2, 3, 2, 2, 2), padding="same")
    with pytest.raises(ValueError, match="conv_transpose3d: output_padding"):
        F.conv_transpose3d(x, cr.randn(2, 3, 2, 2, 2), output_padding=1)
    with pytest.raises(ValueError, match="max_pool3d: padding must be at most half"):
        F.max_pool3d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"max_pool3d: kernel_size must be an int or a tuple of 3"):
        F.max_pool3d(x, (2, 2))
    with pytest.raises(ValueError, match="avg_pool3d: divisor_override must be a positive int"):
        F.avg_pool3d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="avg_pool3d: padding must be at most half"):
        F.avg_pool3d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool3d: output_size must be .* 3 ints"):
        F.adaptive_avg_pool3d(x, (2, 2))


def test_no_3d_layer_borrows_a_2d_onnx_converter() -> None:
    # The exporter looks converters up along a layer's bases; a 2-d one would export wrongly.
    pytest.importorskip("onnx")
    # Importing these modules registers their converters.
    import chainrule.onnx.conv
    import chainrule.onnx.layers  # noqa: F401
    from chainrule.onnx.registry import converter_for

    for kind, args in [
        ("Conv3d", (1, 1, 1)),
        ("ConvTranspose3d", (1, 1, 1)),
        ("MaxPool3d", (2,)),
        ("AvgPool3d", (2,)),
        ("AdaptiveAvgPool3d", (1,)),
        ("BatchNorm3d", (2,)),
    ]:
        assert converter_for(getattr(cr.nn, kind)(*args)) is None, kind
