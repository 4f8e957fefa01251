"""What layers and their functions refuse, as PyTorch refuses it: a NumPy array, list or string
where a Tensor is required (TypeError naming the argument), and an input whose dtype differs
from the layer's parameters (RuntimeError, naming the layer). Each case runs in PyTorch too, so
that a case which PyTorch accepts cannot be refused here by mistake."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention
from chainrule.nn.input_checks import InputDtypeError

# name: (layer in library m, input shape)
LAYERS = {
    "Linear": (lambda m: m.Linear(2, 3), (4, 2)),
    "Linear_no_bias": (lambda m: m.Linear(2, 3, bias=False), (4, 2)),
    "Conv1d": (lambda m: m.Conv1d(2, 3, 1), (1, 2, 4)),
    "Conv2d": (lambda m: m.Conv2d(2, 3, 1), (1, 2, 4, 4)),
    "Conv2d_reflect": (
        lambda m: m.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
        (1, 2, 4, 4),
    ),
    "ConvTranspose1d": (lambda m: m.ConvTranspose1d(2, 3, 1), (1, 2, 4)),
    "ConvTranspose2d": (lambda m: m.ConvTranspose2d(2, 3, 1), (1, 2, 4, 4)),
    "BatchNorm1d": (lambda m: m.BatchNorm1d(2), (4, 2)),
    "BatchNorm2d_eval": (lambda m: m.BatchNorm2d(2).eval(), (4, 2, 3, 3)),
    "LayerNorm": (lambda m: m.LayerNorm(2), (4, 2)),
    "GroupNorm": (lambda m: m.GroupNorm(1, 2), (4, 2, 3)),
    "InstanceNorm1d_affine": (lambda m: m.InstanceNorm1d(2, affine=True), (4, 2, 3)),
}

NOT_TENSORS = {
    "ndarray": lambda shape: np.ones(shape),
    "list": lambda shape: np.ones(shape).tolist(),
    "str": lambda shape: "input",
}


@pytest.mark.parametrize("kind", list(NOT_TENSORS))
@pytest.mark.parametrize("name", list(LAYERS))
def test_non_tensor_inputs_are_type_errors_naming_the_argument(name: str, kind: str) -> None:
    build, shape = LAYERS[name]
    value = NOT_TENSORS[kind](shape)
    with pytest.raises((TypeError, AttributeError)):  # PyTorch refuses too, in its own words
        build(torch.nn)(value)
    layer = build(cr.nn)
    type_name = {"ndarray": "numpy.ndarray"}.get(kind, kind)
    message = f"argument 'input' (position 1) must be Tensor, not {type_name}"
    with pytest.raises(TypeError, match=rf"^{type(layer).__name__}\(.*{re.escape(message)}"):
        layer(value)


@pytest.mark.parametrize("dtype", ["float64", "int64"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_a_dtype_other_than_the_parameters_is_refused_naming_the_layer(
    name: str, dtype: str
) -> None:
    build, shape = LAYERS[name]
    with pytest.raises((RuntimeError, NotImplementedError)):
        build(torch.nn)(torch.ones(shape, dtype=getattr(torch, dtype)))
    layer = build(cr.nn)
    with pytest.raises(RuntimeError, match=rf"^{type(layer).__name__}\(") as caught:
        layer(cr.ones(*shape, dtype=dtype))
    assert isinstance(caught.value, ValueError)  # chainrule's bad-input errors are ValueErrors
    assert isinstance(caught.value, InputDtypeError)
    assert dtype in str(caught.value)


def test_messages_say_what_to_do() -> None:
    with pytest.raises(InputDtypeError) as caught:
        cr.nn.Linear(2, 3)(cr.ones(4, 2, dtype=cr.float64))
    assert str(caught.value) == (
        "Linear(in_features=2, out_features=3, bias=True): input is float64 but weight is "
        "float32; they must have the same dtype: convert the input with "
        ".to(chainrule.float32) or the layer with .to(chainrule.float64)"
    )
    with pytest.raises(TypeError) as caught:
        cr.nn.Linear(2, 3)(np.ones((4, 2)))
    assert str(caught.value) == (
        "Linear(in_features=2, out_features=3, bias=True): argument 'input' (position 1) must "
        "be Tensor, not numpy.ndarray; wrap it with chainrule.from_numpy(array)"
    )
    # After converting as suggested, the layer runs.
    assert cr.nn.Linear(2, 3).to(cr.float64)(cr.ones(4, 2, dtype=cr.float64)).dtype == cr.float64
    assert cr.nn.Linear(2, 3)(cr.from_numpy(np.ones((4, 2), dtype=np.float32))).shape == (4, 3)


def test_matching_dtypes_are_accepted_as_in_torch() -> None:
    for dtype in ("float32", "float64"):
        for name, (build, shape) in LAYERS.items():
            layer = build(cr.nn).to(getattr(cr, dtype))
            out = layer(cr.ones(*shape, dtype=dtype) + cr.randn(*shape, dtype=dtype))
            assert out.dtype == dtype, name
    # Without γ, β or running statistics there is nothing to mismatch: PyTorch accepts these.
    x = cr.randn(4, 2, 3, dtype=cr.float64)
    assert cr.nn.LayerNorm(3, elementwise_affine=False)(x).dtype == cr.float64
    assert cr.nn.GroupNorm(1, 2, affine=False)(x).dtype == cr.float64
    assert cr.nn.InstanceNorm1d(2)(x).dtype == cr.float64
    assert cr.nn.BatchNorm1d(2, affine=False, track_running_stats=False)(x).dtype == cr.float64


# name: (function of library lib, its tensor arguments' shapes)
FUNCTIONS = {
    "linear": (lambda lib, x: lib.nn.functional.linear(x, lib.ones(3, 2)), (4, 2)),
    "conv1d": (lambda lib, x: lib.nn.functional.conv1d(x, lib.ones(3, 2, 1)), (1, 2, 4)),
    "conv_transpose2d": (
        lambda lib, x: lib.nn.functional.conv_transpose2d(x, lib.ones(2, 3, 1, 1)),
        (1, 2, 3, 3),
    ),
    "max_pool2d": (lambda lib, x: lib.nn.functional.max_pool2d(x, 2), (1, 2, 4, 4)),
    "avg_pool1d": (lambda lib, x: lib.nn.functional.avg_pool1d(x, 2), (1, 2, 4)),
    "layer_norm": (lambda lib, x: lib.nn.functional.layer_norm(x, (2,)), (4, 2)),
    "pad": (lambda lib, x: lib.nn.functional.pad(x, (1, 1)), (4, 2)),
    "dropout": (lambda lib, x: lib.nn.functional.dropout(x, 0.5), (4, 2)),
    "alpha_dropout": (lambda lib, x: lib.nn.functional.alpha_dropout(x, 0.5, True), (4, 2)),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_functions_refuse_arrays_like_torch(name: str) -> None:
    fn, shape = FUNCTIONS[name]
    with pytest.raises(TypeError, match=rf"{name}\(\)"):  # conv's words differ: any TypeError
        fn(torch, np.ones(shape))
    with pytest.raises(TypeError, match=rf"^{name}: argument 'input' \(position 1\) must be"):
        fn(cr, np.ones(shape))


def test_functions_name_the_other_arguments() -> None:
    x = cr.ones(4, 2)
    with pytest.raises(TypeError, match=r"linear: argument 'weight' \(position 2\) must be Tens"):
        F.linear(x, np.ones((3, 2)))
    with pytest.raises(TypeError, match=r"linear: argument 'bias' \(position 3\).*numpy\.ndarray"):
        F.linear(x, cr.ones(3, 2), np.ones(3))
    with pytest.raises(TypeError, match=r"conv2d: argument 'weight' \(position 2\)"):
        F.conv2d(cr.ones(1, 2, 3, 3), np.ones((3, 2, 1, 1)))
    with pytest.raises(RuntimeError, match="conv2d: input is float64 but weight is float32"):
        F.conv2d(cr.ones(1, 2, 3, 3, dtype=cr.float64), cr.ones(3, 2, 1, 1))
    with pytest.raises(
        RuntimeError, match="conv_transpose1d: input is float32 but bias is float64"
    ):
        F.conv_transpose1d(cr.ones(1, 2, 3), cr.ones(2, 3, 1), cr.ones(3, dtype=cr.float64))
    with pytest.raises(RuntimeError, match="batch_norm: input is float64 but running_mean"):
        F.batch_norm(cr.ones(4, 2, dtype=cr.float64), cr.zeros(2), cr.ones(2))
    with pytest.raises(RuntimeError, match="group_norm: input is float64 but weight is float32"):
        F.group_norm(cr.ones(4, 2, dtype=cr.float64), 1, cr.ones(2))


def test_pooling_layers_refuse_arrays_and_integers() -> None:
    for kind in ("MaxPool2d", "AvgPool2d"):
        layer = getattr(cr.nn, kind)(2)
        with pytest.raises(TypeError, match=rf"{kind}\(.*argument 'input'.*numpy\.ndarray"):
            layer(np.ones((1, 2, 4, 4)))
        with pytest.raises(RuntimeError, match="expected a floating-point input, got int64"):
            layer(cr.ones(1, 2, 4, 4, dtype=cr.int64))
    with pytest.raises(NotImplementedError):  # PyTorch refuses integers here too
        torch.nn.AdaptiveAvgPool2d(2)(torch.ones(1, 2, 4, 4, dtype=torch.int64))
    with pytest.raises(RuntimeError, match=r"AdaptiveAvgPool2d\(.*floating-point input"):
        cr.nn.AdaptiveAvgPool2d(2)(cr.ones(1, 2, 4, 4, dtype=cr.int64))


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_embedding_takes_int64_and_int32_indices(dtype: str) -> None:
    weight = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    layer = cr.nn.Embedding.from_pretrained(cr.tensor(weight))
    reference = torch.nn.Embedding.from_pretrained(torch.tensor(weight))
    indices = np.array([[0, 4], [2, 2]], dtype=dtype)
    np.testing.assert_array_equal(
        layer(cr.tensor(indices)).numpy(), reference(torch.tensor(indices)).numpy()
    )


@pytest.mark.parametrize("dtype", ["float32", "bool", "uint8", "int16"])
def test_embedding_refuses_other_index_dtypes_like_torch(dtype: str) -> None:
    indices = np.array([0, 1, 1]).astype(dtype)
    with pytest.raises(RuntimeError, match="Long, Int"):
        torch.nn.Embedding(5, 2)(torch.tensor(indices))
    with pytest.raises(
        RuntimeError, match=rf"^Embedding\(5, 2\): expected integer indices .*{dtype}"
    ):
        cr.nn.Embedding(5, 2)(cr.tensor(indices))


def test_embedding_refuses_arrays_naming_the_argument() -> None:
    with pytest.raises(TypeError, match=r"must be Tensor, not numpy\.ndarray"):
        torch.nn.Embedding(5, 2)(np.ones(3, dtype=np.int64))
    with pytest.raises(TypeError, match=r"^Embedding\(5, 2\): argument 'input'.*numpy\.ndarray"):
        cr.nn.Embedding(5, 2)(np.ones(3, dtype=np.int64))


@pytest.mark.parametrize("kind", ["Dropout", "Dropout2d", "AlphaDropout"])
def test_dropout_layers_refuse_arrays(kind: str) -> None:
    layer = getattr(cr.nn, kind)(0.5)
    with pytest.raises(TypeError, match=r"must be Tensor, not numpy\.ndarray"):
        layer(np.ones((2, 3, 4, 4)))


def test_other_objects_get_a_one_line_message() -> None:
    for value in (None, 3.5, {"x": 1}, object()):
        with pytest.raises(TypeError) as caught:
            cr.nn.Conv1d(2, 3, 1)(value)
        assert "\n" not in str(caught.value)
        assert str(caught.value).startswith("Conv1d(2, 3, kernel_size=(1,), stride=(1,)): argument")


def test_functional_linear_refuses_mixed_dtypes_as_torch() -> None:
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.nn.functional.linear(torch.ones(2, 3, dtype=torch.float64), torch.ones(4, 3))
    with pytest.raises(RuntimeError, match="linear: input is float64 but weight is float32"):
        F.linear(cr.ones(2, 3, dtype=cr.float64), cr.ones(4, 3))
    with pytest.raises(RuntimeError, match="linear: input is float32 but bias is float64"):
        F.linear(cr.ones(2, 3), cr.ones(4, 3), cr.ones(4, dtype=cr.float64))
