"""F.scaled_dot_product_attention and nn.MultiheadAttention against PyTorch (the same weights
through state_dict, random upstream gradients; values, attention weights and the gradients of
inputs, float masks and parameters), finite differences in float64, initialisation, and errors.
"""

from __future__ import annotations

import math
import warnings
import zlib
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF  # noqa: N812

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812

TOLERANCE = {"float32": (2e-5, 2e-6), "float64": (1e-10, 1e-12)}


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


def twins(array: np.ndarray, dtype: str, requires_grad: bool = True) -> tuple[Any, Any]:
    """The same values as a chainrule and a PyTorch tensor."""
    array = array.astype(dtype) if array.dtype != bool else array
    return (
        cr.tensor(array, requires_grad=requires_grad),
        torch.tensor(array, requires_grad=requires_grad),
    )


def backward_both(ours: Any, theirs: Any, rng: np.random.Generator) -> None:
    upstream = rng.standard_normal(tuple(theirs.shape)).astype(to_numpy(theirs).dtype)
    (ours * cr.tensor(upstream)).sum().backward()
    (theirs * torch.tensor(upstream)).sum().backward()


# ---- scaled_dot_product_attention -----------------------------------------------------------

SDPA_SHAPES = {
    "2d": ((3, 4), (5, 4), (5, 6)),
    "3d": ((2, 3, 4), (2, 5, 4), (2, 5, 6)),
    "4d": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)),
    "broadcast": ((2, 1, 3, 4), (1, 3, 5, 4), (1, 3, 5, 6)),
    "longer_queries": ((2, 6, 4), (2, 3, 4), (2, 3, 2)),
}


def sdpa_mask(kind: str, rng: np.random.Generator, steps: int, keys: int, dtype: str) -> Any:
    """None, or a mask of shape (steps, keys) of the kind named."""
    if kind == "none":
        return None
    if kind.startswith("bool"):
        allowed = rng.random((steps, keys)) > 0.4
        allowed[:, 0] = True
        if kind == "bool_empty_row":
            allowed[1] = False  # a query that may attend to nothing: zeros, not nan
        return allowed
    additive = rng.standard_normal((steps, keys)).astype(dtype)
    if kind == "float_inf":
        additive[0, 1:] = -np.inf
        additive[-1] = -np.inf
    return additive


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shapes", list(SDPA_SHAPES))
@pytest.mark.parametrize(
    "mask", ["none", "bool", "bool_empty_row", "float", "float_inf", "causal", "scale"]
)
def test_sdpa_matches_torch(dtype: str, shapes: str, mask: str) -> None:
    rng = rng_for("sdpa", dtype, shapes, mask)
    q_shape, k_shape, v_shape = SDPA_SHAPES[shapes]
    pairs = [twins(rng.standard_normal(s), dtype) for s in (q_shape, k_shape, v_shape)]
    ours_options: dict[str, Any] = {}
    theirs_options: dict[str, Any] = {}
    if mask == "causal":
        ours_options["is_causal"] = theirs_options["is_causal"] = True
    elif mask == "scale":
        ours_options["scale"] = theirs_options["scale"] = 0.37
    elif mask != "none":
        array = sdpa_mask(mask, rng, q_shape[-2], k_shape[-2], dtype)
        ours_mask, theirs_mask = twins(array, dtype, requires_grad=mask == "float")
        ours_options["attn_mask"], theirs_options["attn_mask"] = ours_mask, theirs_mask
        pairs.append((ours_mask, theirs_mask))
    ours = F.scaled_dot_product_attention(*[p[0] for p in pairs[:3]], **ours_options)
    theirs = TF.scaled_dot_product_attention(*[p[1] for p in pairs[:3]], **theirs_options)
    assert_close(ours, theirs, dtype, "scaled_dot_product_attention")
    backward_both(ours, theirs, rng)
    for name, (a, b) in zip(["query", "key", "value", "attn_mask"], pairs):
        if b.requires_grad:
            assert_close(a.grad, b.grad, dtype, f"gradient of {name}")


def test_sdpa_grouped_query_attention_matches_torch() -> None:
    rng = rng_for("gqa")
    shapes = ((2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 3))
    pairs = [twins(rng.standard_normal(s), "float64") for s in shapes]
    ours = F.scaled_dot_product_attention(*[p[0] for p in pairs], enable_gqa=True)
    theirs = TF.scaled_dot_product_attention(*[p[1] for p in pairs], enable_gqa=True)
    assert_close(ours, theirs, "float64", "enable_gqa")
    backward_both(ours, theirs, rng)
    for name, (a, b) in zip(["query", "key", "value"], pairs):
        assert_close(a.grad, b.grad, "float64", f"enable_gqa: gradient of {name}")


@pytest.mark.parametrize("mask", ["none", "bool_empty_row", "float", "causal"])
def test_sdpa_gradcheck(mask: str) -> None:
    rng = rng_for("sdpa gradcheck", mask)
    q, k, v = (
        cr.tensor(rng.standard_normal(s), requires_grad=True)
        for s in ((2, 3, 2), (2, 4, 2), (2, 4, 3))
    )
    inputs = [q, k, v]
    options: dict[str, Any] = {"is_causal": True} if mask == "causal" else {}
    array = None if mask == "causal" else sdpa_mask(mask, rng, 3, 4, "float64")
    if array is not None and array.dtype == bool:
        options["attn_mask"] = cr.tensor(array)
    elif array is not None:
        inputs.append(cr.tensor(array, requires_grad=True))

    def attend(*args: Any) -> Any:
        extra = {"attn_mask": args[3]} if len(args) == 4 else {}
        return F.scaled_dot_product_attention(*args[:3], **options, **extra)

    assert cr.gradcheck(attend, inputs)


def test_sdpa_dropout_one_gives_zeros_as_torch() -> None:
    q = cr.randn(2, 3, 4)
    ours = F.scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    theirs = TF.scaled_dot_product_attention(*(torch.tensor(q.numpy()),) * 3, dropout_p=1.0)
    assert_close(ours, theirs, "float32", "dropout_p=1")


def test_sdpa_errors() -> None:
    q, k, v = cr.randn(2, 3, 4), cr.randn(2, 5, 4), cr.randn(2, 5, 6)
    with pytest.raises(RuntimeError, match="should not be set when is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=cr.ones(3, 5).bool(), is_causal=True)
    with pytest.raises(ValueError, match="at least 2-D"):
        F.scaled_dot_product_attention(cr.randn(4), cr.randn(4), cr.randn(4))
    with pytest.raises(ValueError, match="same dtype"):
        F.scaled_dot_product_attention(q, k.double(), v)
    with pytest.raises(ValueError, match=r"query \(\*, L, E\)"):
        F.scaled_dot_product_attention(q, cr.randn(2, 5, 3), v)
    with pytest.raises(ValueError, match="attn_mask to be bool or of the query's dtype"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=cr.ones(3, 5).long())
    with pytest.raises(ValueError, match="multiple"):
        F.scaled_dot_product_attention(cr.randn(3, 2, 4), cr.randn(2, 5, 4), v, enable_gqa=True)


# ---- MultiheadAttention: parameters -----------------------------------------------------------

CONFIGS = {
    "default": {},
    "batch_first": {"batch_first": True},
    "kdim_vdim": {"kdim": 3, "vdim": 5},
    "bias_kv_zero_attn": {"add_bias_kv": True, "add_zero_attn": True},
    "no_bias": {"bias": False},
}
EMBED, HEADS = 8, 2


def make_pair(config: str, dtype: str, **extra: Any) -> tuple[Any, Any]:
    options = {**CONFIGS[config], **extra}
    torch.manual_seed(zlib.crc32(f"{config}{dtype}{extra}".encode()))
    theirs = torch.nn.MultiheadAttention(EMBED, HEADS, dtype=getattr(torch, dtype), **options)
    ours = cr.nn.MultiheadAttention(EMBED, HEADS, dtype=dtype, **options)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("config", list(CONFIGS))
def test_parameters_have_torch_names_shapes_and_initialisation(config: str) -> None:
    ours = cr.nn.MultiheadAttention(EMBED, HEADS, **CONFIGS[config])
    theirs = torch.nn.MultiheadAttention(EMBED, HEADS, **CONFIGS[config])
    ours_shapes = [(k, tuple(v.shape)) for k, v in ours.state_dict().items()]
    theirs_shapes = [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert ours_shapes == theirs_shapes
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
        weight = getattr(ours, name)
        assert (weight is None) == (getattr(theirs, name) is None), name
        if weight is not None:  # Glorot-uniform: bound √(6 / (fan_in + fan_out))
            bound = math.sqrt(6 / sum(weight.shape))
            assert 0.5 * bound < np.abs(weight.detach().numpy()).max() <= bound, name
    if ours.in_proj_bias is not None:
        assert (
            not ours.in_proj_bias.detach().numpy().any()
            and not ours.out_proj.bias.detach().numpy().any()
        )
    assert (
        ours.head_dim == theirs.head_dim and ours._qkv_same_embed_dim == theirs._qkv_same_embed_dim
    )
    assert ours.batch_first == theirs.batch_first and ours.kdim == theirs.kdim


# ---- MultiheadAttention: forward and backward ---------------------------------------------------

MASKS = {
    "none": (False, False),
    "bool_padding": ("bool", False),
    "float_padding": ("float", False),
    "bool_attn": (False, "bool"),
    "float_attn_3d": (False, "float3d"),
    "both_bool": ("bool", "bool"),
    "both_float": ("float", "float"),
}


def mha_masks(kind: str, rng: np.random.Generator, batch: int, steps: int, keys: int) -> dict:
    """key_padding_mask (N, S) and attn_mask (L, S) or (N·H, L, S) as numpy arrays."""
    padding, attn = MASKS[kind]
    masks = {}
    if padding:
        masked = rng.random((batch, keys)) > 0.6
        masked[:, 0] = False  # every query keeps a key: no nan rows here
        masks["key_padding_mask"] = (
            masked
            if padding == "bool"
            else np.where(masked, -np.inf, rng.standard_normal(masked.shape))
        )
    if attn == "bool":
        masked = rng.random((steps, keys)) > 0.6
        masked[:, 0] = False
        masks["attn_mask"] = masked
    elif attn == "float":
        masks["attn_mask"] = rng.standard_normal((steps, keys))
    elif attn == "float3d":
        masks["attn_mask"] = rng.standard_normal((batch * HEADS, steps, keys))
    return masks


def run_both(
    config: str, dtype: str, masks: str, batched: bool, call: dict, what: str, self_attention: bool
) -> None:
    rng = rng_for(what)
    ours, theirs = make_pair(config, dtype)
    options = CONFIGS[config]
    kdim, vdim = options.get("kdim", EMBED), options.get("vdim", EMBED)
    batch, steps, keys = 3, 4, 4 if self_attention else 5

    def shape(length: int, width: int) -> tuple:
        if not batched:
            return (length, width)
        return (batch, length, width) if options.get("batch_first") else (length, batch, width)

    q_pair = twins(rng.standard_normal(shape(steps, EMBED)), dtype)
    pairs = [q_pair, q_pair, q_pair]
    if not self_attention:
        pairs[1] = twins(rng.standard_normal(shape(keys, kdim)), dtype)
        pairs[2] = twins(rng.standard_normal(shape(keys, vdim)), dtype)
    mask_arrays = mha_masks(masks, rng, batch if batched else 1, steps, keys)
    if not batched and "key_padding_mask" in mask_arrays:
        mask_arrays["key_padding_mask"] = mask_arrays["key_padding_mask"][0]
    if not batched and mask_arrays.get("attn_mask", np.zeros((1,))).ndim == 3:
        mask_arrays["attn_mask"] = mask_arrays["attn_mask"][:HEADS]
    ours_masks = {k: twins(v, dtype, requires_grad=False)[0] for k, v in mask_arrays.items()}
    theirs_masks = {k: twins(v, dtype, requires_grad=False)[1] for k, v in mask_arrays.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mismatched mask dtypes warn in both
        ours_out, ours_w = ours(*[p[0] for p in pairs], **ours_masks, **call)
        theirs_out, theirs_w = theirs(*[p[1] for p in pairs], **theirs_masks, **call)
    assert_close(ours_out, theirs_out, dtype, f"{what}: output")
    if theirs_w is None:
        assert ours_w is None
    else:
        assert_close(ours_w, theirs_w, dtype, f"{what}: attention weights")
    outputs = [(ours_out, theirs_out)] + ([] if theirs_w is None else [(ours_w, theirs_w)])
    ours_loss, theirs_loss = 0, 0
    for a, b in outputs:  # the same random upstream gradient on the output and the weights
        g = rng.standard_normal(tuple(b.shape)).astype(dtype)
        ours_loss = ours_loss + (a * cr.tensor(g)).sum()
        theirs_loss = theirs_loss + (b * torch.tensor(g)).sum()
    ours_loss.backward()
    theirs_loss.backward()
    for name, (a, b) in zip(["query", "key", "value"], pairs):
        assert_close(a.grad, b.grad, dtype, f"{what}: gradient of {name}")
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(ours_params[name].grad, p.grad, dtype, f"{what}: gradient of {name}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("masks", list(MASKS))
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_matches_torch(dtype: str, config: str, masks: str, need_weights: bool) -> None:
    what = f"{config} {masks} need_weights={need_weights} {dtype}"
    call = {"need_weights": need_weights}
    run_both(config, dtype, masks, True, call, what, self_attention=False)


@pytest.mark.parametrize("config", ["default", "batch_first", "bias_kv_zero_attn"])
@pytest.mark.parametrize("masks", ["none", "bool_padding", "float_attn_3d"])
@pytest.mark.parametrize("average", [True, False])
def test_mha_self_attention_and_per_head_weights_match_torch(
    config: str, masks: str, average: bool
) -> None:
    what = f"self {config} {masks} average={average}"
    call = {"average_attn_weights": average}
    run_both(config, "float64", masks, True, call, what, self_attention=True)


@pytest.mark.parametrize("config", ["default", "kdim_vdim", "bias_kv_zero_attn"])
@pytest.mark.parametrize("masks", ["none", "bool_padding", "both_float", "float_attn_3d"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched_matches_torch(config: str, masks: str, need_weights: bool) -> None:
    what = f"unbatched {config} {masks} need_weights={need_weights}"
    call = {"need_weights": need_weights, "average_attn_weights": False}
    run_both(config, "float64", masks, False, call, what, self_attention=False)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("padding", [False, True])
def test_mha_is_causal_hint_matches_torch(need_weights: bool, padding: bool) -> None:
    rng = rng_for("causal", need_weights, padding)
    ours, theirs = make_pair("default", "float64")
    x_ours, x_theirs = twins(rng.standard_normal((4, 2, EMBED)), "float64")
    mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    ours_mask = cr.nn.Transformer.generate_square_subsequent_mask(4, dtype=cr.float64)
    kpm = np.array([[False, False, True, True], [False, False, False, False]])
    extra_ours = {"key_padding_mask": cr.tensor(kpm)} if padding else {}
    extra_theirs = {"key_padding_mask": torch.tensor(kpm)} if padding else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        call = {"is_causal": True, "need_weights": need_weights}
        ours_out, _ = ours(x_ours, x_ours, x_ours, attn_mask=ours_mask, **call, **extra_ours)
        theirs_out, _ = theirs(x_theirs, x_theirs, x_theirs, attn_mask=mask, **call, **extra_theirs)
    assert_close(ours_out, theirs_out, "float64", "is_causal output")
    backward_both(ours_out, theirs_out, rng)
    assert_close(x_ours.grad, x_theirs.grad, "float64", "is_causal input gradient")


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_query_with_every_key_masked_matches_torch(need_weights: bool) -> None:
    """nan with the weights (PyTorch's explicit softmax), the bias alone without (its fused
    attention gives zeros for such a query)."""
    ours, theirs = make_pair("default", "float64")
    ours.out_proj.bias.data.fill_(0.25)
    theirs.out_proj.bias.data.fill_(0.25)
    x = np.random.default_rng(0).standard_normal((3, 2, EMBED))
    kpm = np.array([[True] * 3, [False, True, False]])
    ours_out, _ = ours(
        *(cr.tensor(x),) * 3, key_padding_mask=cr.tensor(kpm), need_weights=need_weights
    )
    theirs_out, _ = theirs(
        *(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(kpm), need_weights=need_weights
    )
    a, e = to_numpy(ours_out), to_numpy(theirs_out)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(e))
    np.testing.assert_allclose(a[~np.isnan(a)], e[~np.isnan(e)], rtol=1e-10, atol=1e-12)


def test_mha_eval_mode_ignores_dropout_and_training_mode_uses_it() -> None:
    ours, theirs = make_pair("default", "float64", dropout=0.5)
    x = np.random.default_rng(1).standard_normal((4, 2, EMBED))
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        expected = theirs(*(torch.tensor(x),) * 3)
    got = ours(*(cr.tensor(x),) * 3)
    assert_close(got[0], expected[0], "float64", "eval output")
    assert_close(got[1], expected[1], "float64", "eval weights")
    ours.train()
    cr.manual_seed(0)
    _, weights = ours(*(cr.tensor(x),) * 3)
    dropped = to_numpy(weights)
    assert not np.allclose(dropped, to_numpy(got[1]))  # some weights were dropped and rescaled


def test_mha_gradcheck_inputs_and_weights() -> None:
    """Finite differences through F.multi_head_attention_forward with respect to the inputs
    and every weight (separate projections, bias_k and bias_v, a zero key, a padding mask)."""
    rng = rng_for("mha gradcheck")
    embed, kdim, vdim = 4, 3, 2

    def leaf(*shape: int) -> Any:
        return cr.tensor(rng.standard_normal(shape), requires_grad=True)

    inputs = [
        leaf(3, 2, embed), leaf(2, 2, kdim), leaf(2, 2, vdim),  # query, key, value
        leaf(embed, embed), leaf(embed, kdim), leaf(embed, vdim),  # q, k, v projections
        leaf(3 * embed), leaf(1, 1, embed), leaf(1, 1, embed),  # in_proj_bias, bias_k, bias_v
        leaf(embed, embed), leaf(embed),  # out_proj
    ]  # fmt: skip
    padding = cr.tensor(np.array([[False, True], [False, False]]))

    def attend(q, k, v, wq, wk, wv, b, bias_k, bias_v, wo, bo) -> Any:
        out, weights = F.multi_head_attention_forward(
            q, k, v, embed, 2, None, b, bias_k, bias_v, True, 0.0, wo, bo,
            key_padding_mask=padding, use_separate_proj_weight=True,
            q_proj_weight=wq, k_proj_weight=wk, v_proj_weight=wv, average_attn_weights=False,
        )  # fmt: skip
        return cr.cat([out.reshape(-1), weights.reshape(-1)])

    assert cr.gradcheck(attend, inputs)


def test_mha_errors_and_warnings() -> None:
    with pytest.raises(ValueError, match="divisible by num_heads"):
        cr.nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="greater than 0"):
        cr.nn.MultiheadAttention(0, 1)
    layer = cr.nn.MultiheadAttention(4, 2)
    x = cr.randn(3, 2, 4)
    with pytest.raises(RuntimeError, match="need attn_mask if specifying the is_causal hint"):
        layer(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match=r"2-D attn_mask is \(3, 4\), but should be \(3, 3\)"):
        layer(x, x, x, attn_mask=cr.zeros(3, 4))
    with pytest.raises(
        ValueError, match=r"3-D attn_mask is \(2, 3, 3\), but should be \(4, 3, 3\)"
    ):
        layer(x, x, x, attn_mask=cr.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="expected key_padding_mask of shape"):
        layer(x, x, x, key_padding_mask=cr.zeros(2, 4).bool())
    with pytest.raises(ValueError, match="key and value to be 3-D"):
        layer(x, cr.randn(3, 4), cr.randn(3, 4))
    with pytest.raises(ValueError, match="embedding size 4"):
        layer(cr.randn(3, 2, 5), cr.randn(3, 2, 5), cr.randn(3, 2, 5))
    with pytest.raises(ValueError, match="only bool and floating types of key_padding_mask"):
        layer(x, x, x, key_padding_mask=cr.zeros(2, 3).long())
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        layer(x, x, x, key_padding_mask=cr.zeros(2, 3).bool(), attn_mask=cr.zeros(3, 3))


def test_writing_into_the_key_after_attention_leaves_backward_as_torch() -> None:
    """PyTorch's reference attention multiplies by √scale first and keeps those products, so a
    key changed in place afterwards does not disturb the gradient (found by the fuzzer)."""
    grads = []
    for m in (torch, cr):
        query = m.tensor([[0.5, -1.0]], dtype=m.float64, requires_grad=True)
        key = m.tensor([[0.3, 0.2], [0.1, -0.4]], dtype=m.float64)
        value = m.tensor([[0.0], [1.0]], dtype=m.float64)
        out = m.nn.functional.scaled_dot_product_attention(query, key, value)
        key.relu_()
        out.sum().backward()
        grads.append(query.grad.detach().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)
