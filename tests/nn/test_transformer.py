"""nn.TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder
and Transformer against PyTorch (state_dict names, the same weights, values and the gradients
of inputs and every parameter under masks), finite differences, training steps, and errors."""

from __future__ import annotations

import warnings
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

TOLERANCE = {"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-11)}
D_MODEL, HEADS, FEEDFORWARD = 8, 2, 16


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().array)


def assert_close(actual: Any, expected: Any, dtype: str, what: str) -> None:
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, PyTorch gives {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, PyTorch gives {e.dtype}"
    rtol, atol = TOLERANCE[dtype]
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=what)


def load_same_weights(ours: Any, theirs: Any) -> None:
    ours_names = list(ours.state_dict())
    assert ours_names == list(theirs.state_dict()), "state_dict names differ from PyTorch's"
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def twins(array: np.ndarray, dtype: str, requires_grad: bool = True) -> tuple[Any, Any]:
    array = array.astype(dtype) if array.dtype != bool else array
    return (
        cr.tensor(array, requires_grad=requires_grad),
        torch.tensor(array, requires_grad=requires_grad),
    )


def compare(
    ours: Any, theirs: Any, ours_args: list, theirs_args: list, kwargs: tuple, dtype: str, what: str
) -> None:
    """Call both with the same arguments; compare the output, then the gradients of every
    input that requires grad and of every parameter for one random upstream gradient."""
    rng = rng_for(what, "upstream")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's nested-tensor and mask-type warnings
        ours_out = ours(*ours_args, **kwargs[0])
        theirs_out = theirs(*theirs_args, **kwargs[1])
    assert_close(ours_out, theirs_out, dtype, f"{what}: output")
    upstream = rng.standard_normal(tuple(theirs_out.shape)).astype(dtype)
    (ours_out * cr.tensor(upstream)).sum().backward()
    (theirs_out * torch.tensor(upstream)).sum().backward()
    for i, (a, b) in enumerate(zip(ours_args, theirs_args)):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            assert_close(a.grad, b.grad, dtype, f"{what}: gradient of argument {i}")
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(ours_params[name].grad, p.grad, dtype, f"{what}: gradient of {name}")


def sequence(rng: np.random.Generator, length: int, batch: int | None, batch_first: bool) -> Any:
    if batch is None:
        return rng.standard_normal((length, D_MODEL))
    shape = (batch, length, D_MODEL) if batch_first else (length, batch, D_MODEL)
    return rng.standard_normal(shape)


def masks(kind: str, rng: np.random.Generator, batch: int | None, length: int, dtype: str) -> dict:
    """Keyword masks for a self-attention block over ``length`` positions."""
    found: dict[str, np.ndarray] = {}
    if kind in ("causal", "causal_padding"):
        found["mask"] = np.triu(np.full((length, length), -np.inf), 1).astype(dtype)
    if kind == "bool_mask":
        found["mask"] = np.triu(np.ones((length, length), bool), 1)
    if kind == "float_mask":
        found["mask"] = rng.standard_normal((length, length)).astype(dtype)
    if kind in ("padding", "causal_padding"):
        shape = (length,) if batch is None else (batch, length)
        padded = rng.random(shape) > 0.6
        padded[..., 0] = False
        found["padding"] = padded
    if kind == "fully_padded" and batch is not None:
        padded = np.zeros((batch, length), bool)
        padded[0] = True  # one sequence of padding only: attention gives zeros, not nan
        found["padding"] = padded
    return found


# ---- encoder ------------------------------------------------------------------------------------

LAYER_CONFIGS = {
    "default": {},
    "norm_first_gelu": {"norm_first": True, "activation": "gelu"},
    "batch_first": {"batch_first": True},
    "no_bias": {"bias": False, "layer_norm_eps": 1e-3},
    "callable": {"activation": "callable"},
}


def activation_for(config: dict, lib: Any) -> dict:
    if config.get("activation") != "callable":
        return config
    return {**config, "activation": lambda x: lib.nn.functional.gelu(x) * 0.5 + x}


def encoder_pair(config: str, dtype: str, layers: int | None) -> tuple[Any, Any]:
    options = LAYER_CONFIGS[config]
    torch.manual_seed(zlib.crc32(f"encoder {config} {dtype} {layers}".encode()))
    common = {"dropout": 0.0}
    theirs_options = {**common, **activation_for(options, torch)}
    theirs = torch.nn.TransformerEncoderLayer(
        D_MODEL, HEADS, FEEDFORWARD, dtype=getattr(torch, dtype), **theirs_options
    )
    ours = cr.nn.TransformerEncoderLayer(
        D_MODEL, HEADS, FEEDFORWARD, dtype=dtype, **common, **activation_for(options, cr)
    )
    if layers is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            norm = torch.nn.LayerNorm(D_MODEL, dtype=getattr(torch, dtype))
            theirs = torch.nn.TransformerEncoder(theirs, layers, norm=norm)
        ours = cr.nn.TransformerEncoder(ours, layers, norm=cr.nn.LayerNorm(D_MODEL, dtype=dtype))
        # Different weights per layer, so that a mix-up of layers would show.
        for p in theirs.parameters():
            p.data.add_(torch.randn_like(p) * 0.1)
    load_same_weights(ours, theirs)
    return ours, theirs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", list(LAYER_CONFIGS))
@pytest.mark.parametrize(
    "mask",
    ["none", "causal", "bool_mask", "float_mask", "padding", "causal_padding", "fully_padded"],
)
@pytest.mark.parametrize("stack", [None, 2], ids=["layer", "encoder"])
def test_encoder_matches_torch(dtype: str, config: str, mask: str, stack: int | None) -> None:
    what = f"encoder {config} {mask} {stack} {dtype}"
    rng = rng_for(what)
    ours, theirs = encoder_pair(config, dtype, stack)
    batch_first = LAYER_CONFIGS[config].get("batch_first", False)
    x_ours, x_theirs = twins(sequence(rng, 5, 3, batch_first), dtype)
    found = masks(mask, rng, 3, 5, dtype)
    names = ("mask", "src_key_padding_mask") if stack else ("src_mask", "src_key_padding_mask")
    ours_kw = {}
    theirs_kw = {}
    for key, name in zip(("mask", "padding"), names):
        if key in found:
            ours_kw[name], theirs_kw[name] = twins(found[key], dtype, requires_grad=False)
    if mask == "causal" and stack is None:
        ours_kw["is_causal"] = theirs_kw["is_causal"] = True
    compare(ours, theirs, [x_ours], [x_theirs], (ours_kw, theirs_kw), dtype, what)


@pytest.mark.parametrize("config", ["default", "norm_first_gelu"])
@pytest.mark.parametrize("mask", ["none", "causal", "padding"])
def test_encoder_unbatched_matches_torch(config: str, mask: str) -> None:
    what = f"unbatched encoder {config} {mask}"
    rng = rng_for(what)
    ours, theirs = encoder_pair(config, "float64", 2)
    x_ours, x_theirs = twins(sequence(rng, 4, None, False), "float64")
    found = masks(mask, rng, None, 4, "float64")
    ours_kw, theirs_kw = {}, {}
    for key, name in (("mask", "mask"), ("padding", "src_key_padding_mask")):
        if key in found:
            ours_kw[name], theirs_kw[name] = twins(found[key], "float64", requires_grad=False)
    compare(ours, theirs, [x_ours], [x_theirs], (ours_kw, theirs_kw), "float64", what)


def test_encoder_eval_mode_matches_torch_with_dropout() -> None:
    torch.manual_seed(3)
    theirs = torch.nn.TransformerEncoderLayer(D_MODEL, HEADS, FEEDFORWARD, dropout=0.3)
    ours = cr.nn.TransformerEncoderLayer(D_MODEL, HEADS, FEEDFORWARD, dropout=0.3)
    load_same_weights(ours, theirs)
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(0).standard_normal((4, 2, D_MODEL)).astype("float32")
    x_ours, x_theirs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    compare(ours, theirs, [x_ours], [x_theirs], ({}, {}), "float32", "eval with dropout")
    ours.train()
    cr.manual_seed(0)
    assert not np.allclose(to_numpy(ours(cr.tensor(x))), to_numpy(theirs(torch.tensor(x))))


@pytest.mark.parametrize("config", ["batch_first", "default", "norm_first_gelu", "callable"])
@pytest.mark.parametrize("padding", ["right", "inside", "none"])
@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("norm", [False, True])
def test_encoder_inference_output_at_padding_matches_torch(
    config: str, padding: str, grad: bool, norm: bool
) -> None:
    """PyTorch's nested-tensor inference path leaves zeros at padded positions (then the
    final norm of zero); chainrule gives the same output under the same conditions."""
    options = {**LAYER_CONFIGS[config], "batch_first": True}
    torch.manual_seed(11)
    theirs_layer = torch.nn.TransformerEncoderLayer(
        D_MODEL, HEADS, FEEDFORWARD, **activation_for(options, torch)
    )
    ours_layer = cr.nn.TransformerEncoderLayer(
        D_MODEL, HEADS, FEEDFORWARD, **activation_for(options, cr)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.TransformerEncoder(
            theirs_layer, 2, norm=torch.nn.LayerNorm(D_MODEL) if norm else None
        )
    ours = cr.nn.TransformerEncoder(ours_layer, 2, norm=cr.nn.LayerNorm(D_MODEL) if norm else None)
    for p in theirs.parameters():
        p.data.add_(torch.randn_like(p) * 0.1)  # a non-zero norm bias, among others
    load_same_weights(ours, theirs)
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(2).standard_normal((3, 5, D_MODEL)).astype("float32")
    kpm = {
        "right": [[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]],
        "inside": [[False] * 5, [False, True, False, True, True], [False] * 5],
        "none": None,
    }[padding]
    ours_kw = {} if kpm is None else {"src_key_padding_mask": cr.tensor(kpm)}
    theirs_kw = {} if kpm is None else {"src_key_padding_mask": torch.tensor(kpm)}
    with torch.set_grad_enabled(grad), cr.set_grad_enabled(grad):
        expected = theirs(torch.tensor(x), **theirs_kw)
        got = ours(cr.tensor(x), **ours_kw)
    assert_close(got, expected, "float32", f"eval output {config} {padding} grad={grad}")


def test_encoder_layers_are_independent_copies() -> None:
    layer = cr.nn.TransformerEncoderLayer(D_MODEL, HEADS, FEEDFORWARD)
    encoder = cr.nn.TransformerEncoder(layer, 3)
    weights = [m.linear1.weight for m in encoder.layers]
    assert len({id(w) for w in weights}) == 3 and all(
        w is not layer.linear1.weight for w in weights
    )
    np.testing.assert_array_equal(weights[0].detach().numpy(), weights[2].detach().numpy())
    weights[0].data.add_(1.0)
    assert not np.allclose(weights[0].detach().numpy(), weights[1].detach().numpy())
    assert encoder.num_layers == 3 and encoder.enable_nested_tensor and encoder.mask_check


def test_encoder_layer_gradcheck() -> None:
    rng = rng_for("encoder gradcheck")
    cr.manual_seed(0)
    layer = cr.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, dtype="float64", norm_first=True)
    x = cr.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    mask = cr.nn.Transformer.generate_square_subsequent_mask(3, dtype=cr.bool)
    padding = cr.tensor(np.array([[False, False, True], [False, False, False]]))
    assert cr.gradcheck(lambda x: layer(x, mask, padding), (x,))


# ---- decoder and the whole model ------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", ["default", "norm_first_gelu", "batch_first", "no_bias"])
@pytest.mark.parametrize("masked", [False, True])
def test_transformer_matches_torch(dtype: str, config: str, masked: bool) -> None:
    what = f"transformer {config} masked={masked} {dtype}"
    rng = rng_for(what)
    options = {"dropout": 0.0, **LAYER_CONFIGS[config]}
    torch.manual_seed(zlib.crc32(what.encode()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.Transformer(
            D_MODEL, HEADS, 2, 2, FEEDFORWARD, dtype=getattr(torch, dtype), **options
        )
    ours = cr.nn.Transformer(D_MODEL, HEADS, 2, 2, FEEDFORWARD, dtype=dtype, **options)
    load_same_weights(ours, theirs)
    batch_first = options.get("batch_first", False)
    src_ours, src_theirs = twins(sequence(rng, 5, 3, batch_first), dtype)
    tgt_ours, tgt_theirs = twins(sequence(rng, 4, 3, batch_first), dtype)
    ours_kw, theirs_kw = {}, {}
    if masked:
        found = {
            "tgt_mask": np.triu(np.full((4, 4), -np.inf), 1).astype(dtype),
            "memory_mask": rng.standard_normal((4, 5)).astype(dtype),
            "src_key_padding_mask": np.array([[False] * 5, [False] * 3 + [True] * 2, [False] * 5]),
            "tgt_key_padding_mask": np.array(
                [[False] * 4, [False, False, True, True], [False] * 4]
            ),
            "memory_key_padding_mask": np.array([[False] * 4 + [True], [False] * 5, [False] * 5]),
        }
        for name, array in found.items():
            ours_kw[name], theirs_kw[name] = twins(array, dtype, requires_grad=False)
    args_ours, args_theirs = [src_ours, tgt_ours], [src_theirs, tgt_theirs]
    compare(ours, theirs, args_ours, args_theirs, (ours_kw, theirs_kw), dtype, what)


def test_decoder_stack_unbatched_matches_torch() -> None:
    rng = rng_for("decoder unbatched")
    torch.manual_seed(5)
    theirs_layer = torch.nn.TransformerDecoderLayer(
        D_MODEL, HEADS, FEEDFORWARD, dropout=0.0, dtype=torch.float64
    )
    theirs = torch.nn.TransformerDecoder(theirs_layer, 2)
    ours_layer = cr.nn.TransformerDecoderLayer(
        D_MODEL, HEADS, FEEDFORWARD, dropout=0.0, dtype="float64"
    )
    ours = cr.nn.TransformerDecoder(ours_layer, 2)
    load_same_weights(ours, theirs)
    tgt_ours, tgt_theirs = twins(sequence(rng, 4, None, False), "float64")
    mem_ours, mem_theirs = twins(sequence(rng, 3, None, False), "float64")
    mask = np.triu(np.ones((4, 4), bool), 1)
    kw = ({"tgt_mask": cr.tensor(mask)}, {"tgt_mask": torch.tensor(mask)})
    compare(ours, theirs, [tgt_ours, mem_ours], [tgt_theirs, mem_theirs], kw, "float64", "decoder")


def test_square_subsequent_mask_matches_torch() -> None:
    for dtype in (None, "float64", "bool"):
        ours = cr.nn.Transformer.generate_square_subsequent_mask(
            4, dtype=dtype and getattr(cr, dtype)
        )
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(
            4, dtype=dtype and getattr(torch, dtype)
        )
        np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs))
        assert to_numpy(ours).dtype == to_numpy(theirs).dtype


def test_transformer_training_steps_track_torch() -> None:
    """Four Adam steps of a small sequence-to-sequence model from the same weights give the
    same losses in both libraries (dropout off)."""
    rng = rng_for("train")
    torch.manual_seed(7)
    theirs = torch.nn.Transformer(D_MODEL, HEADS, 1, 1, FEEDFORWARD, dropout=0.0, batch_first=True)
    theirs = theirs.double()
    ours = cr.nn.Transformer(
        D_MODEL, HEADS, 1, 1, FEEDFORWARD, dropout=0.0, batch_first=True, dtype="float64"
    )
    load_same_weights(ours, theirs)
    src, tgt = rng.standard_normal((2, 5, D_MODEL)), rng.standard_normal((2, 4, D_MODEL))
    target = rng.standard_normal((2, 4, D_MODEL))
    ours_opt = cr.optim.Adam(ours.parameters(), lr=1e-2)
    theirs_opt = torch.optim.Adam(theirs.parameters(), lr=1e-2)
    for _ in range(4):
        losses = []
        for lib, model, opt in ((cr, ours, ours_opt), (torch, theirs, theirs_opt)):
            mask = lib.nn.Transformer.generate_square_subsequent_mask(4, dtype=lib.float64)
            out = model(lib.tensor(src), lib.tensor(tgt), tgt_mask=mask)
            loss = ((out - lib.tensor(target)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
        assert abs(losses[0] - losses[1]) < 1e-9, losses


def test_transformer_initialisation_is_glorot_for_matrices() -> None:
    model = cr.nn.Transformer(D_MODEL, HEADS, 1, 1, FEEDFORWARD)
    for name, p in model.named_parameters():
        values = p.detach().numpy()
        if p.ndim > 1:
            bound = np.sqrt(6 / (p.shape[0] + p.shape[1]))
            assert np.abs(values).max() <= bound, name
        elif name.endswith("norm1.weight"):
            np.testing.assert_array_equal(values, 1.0)


def test_transformer_errors() -> None:
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        cr.nn.TransformerEncoderLayer(D_MODEL, HEADS, activation="tanh")
    layer = cr.nn.TransformerEncoderLayer(D_MODEL, HEADS, FEEDFORWARD)
    with pytest.raises(RuntimeError, match="need attn_mask if specifying the is_causal hint"):
        layer(cr.randn(3, 2, D_MODEL), is_causal=True)
    model = cr.nn.Transformer(D_MODEL, HEADS, 1, 1, FEEDFORWARD)
    with pytest.raises(RuntimeError, match="batch number of src and tgt must be equal"):
        model(cr.randn(3, 2, D_MODEL), cr.randn(3, 4, D_MODEL))
    with pytest.raises(RuntimeError, match="feature number of src and tgt"):
        model(cr.randn(3, 2, D_MODEL), cr.randn(3, 2, D_MODEL + 1))
    with pytest.raises(TypeError, match="encoder_layer must be a Module"):
        cr.nn.TransformerEncoder("layer", 2)
