"""Attention (Vaswani et al., 2017): scaled dot-product attention and multi-head attention.

Both are compositions of differentiable operations (matmul, softmax, where, reshape), so their
gradients need no rule of their own. Masks come in PyTorch's two conventions, which are
opposite for booleans: in :func:`scaled_dot_product_attention` True means *may attend*, in
:func:`multi_head_attention_forward` (and ``nn.MultiheadAttention``) True means *masked out*.
A float mask is added to the scores in both.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError
from chainrule.nn.functional.dropout import dropout
from chainrule.nn.functional.linear import linear
from chainrule.ops.elementwise import where
from chainrule.ops.movement import cat
from chainrule.ops.softmax import softmax
from chainrule.tensor import Tensor

__all__ = ["multi_head_attention_forward", "scaled_dot_product_attention"]


# ---- scaled dot-product attention -----------------------------------------------------------


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(Q Kᵀ · scale + mask) V over the last two dimensions.

    query (*, L, E), key (*, S, E), value (*, S, Ev) → (*, L, Ev); the leading dimensions
    broadcast. ``scale`` defaults to 1/√E. ``attn_mask`` broadcasts to (*, L, S): bool (True:
    may attend) or float (added to the scores). ``is_causal`` lets query i attend to keys
    j ≤ i only. A query that may attend to no key gets zeros, not nan. Dropout with
    probability ``dropout_p`` is applied to the attention weights whenever ``dropout_p > 0``.
    ``enable_gqa``: key and value may have fewer heads (dimension −3) than query, each then
    serving a group of query heads.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> _ = cr.manual_seed(0)
    >>> q, k, v = cr.randn(2, 4, 5, 8), cr.randn(2, 4, 7, 8), cr.randn(2, 4, 7, 3)
    >>> F.scaled_dot_product_attention(q, k, v).shape  # (N, heads, L, E_v)
    chainrule.Size([2, 4, 5, 3])
    >>> v1 = cr.tensor([[1.0], [2.0], [3.0]])  # causal: query i sees values 0..i
    >>> z = cr.zeros(3, 1)  # equal scores
    >>> F.scaled_dot_product_attention(z, z, v1, is_causal=True).tolist()
    [[1.0], [1.5], [2.0]]

    ```
    """
    _check_attention_inputs(query, key, value, attn_mask, is_causal)
    if enable_gqa:
        key, value = _repeat_heads(query, key, "key"), _repeat_heads(query, value, "value")
    if query.shape[-2] == 0 or value.numel() == 0:
        return _empty_attention(query, key, value)
    if scale is not None:
        factor = scale
    else:  # 1/√E; for E = 0, PyTorch's 1/√0 = inf: the scores are empty sums, 0 either way
        factor = 1 / math.sqrt(query.shape[-1]) if query.shape[-1] else math.inf
    if factor > 0:
        # √scale on each side, as PyTorch's reference computation: the product then keeps the
        # scaled copies, so that writing into query or key after the call leaves backward be.
        root = math.sqrt(factor)
        scores = (query * root) @ (key * root).transpose(-2, -1)
    else:
        scores = (query @ key.transpose(-2, -1)) * factor
    allowed = None
    if is_causal:
        steps, keys = query.shape[-2], key.shape[-2]
        xp = backend.module_of(scores.array)  # the mask is made where the scores are
        allowed = Tensor(xp.tri(steps, keys, dtype=bool))  # key j ≤ query i
    elif attn_mask is not None and attn_mask.dtype.kind == "b":
        allowed = attn_mask
    elif attn_mask is not None:
        scores = scores + attn_mask
    if allowed is not None:
        scores = where(allowed, scores, -math.inf)
    weights = _softmax_or_zeros(scores)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p)
    return weights @ value


def _empty_attention(query: Tensor, key: Tensor, value: Tensor) -> Tensor:
    """The result where there are no queries or no values (an empty query length, or an empty
    key length, value width or batch): zeros of the output's shape, as PyTorch gives them,
    plus (Σq + Σk + Σv)·0, so that, as there, an inf or nan among the inputs makes the output
    nan and each input gets a zero gradient, while nothing is saved that an in-place change of
    an input could invalidate."""
    batch = numpy.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    xp = backend.module_of(query.array)
    zeros = Tensor(xp.zeros((*batch, query.shape[-2], value.shape[-1]), dtype=query.dtype))
    return zeros + (query.sum() + key.sum() + value.sum()) * 0


def _softmax_or_zeros(scores: Tensor) -> Tensor:
    """Softmax over the last dimension, with zeros (and a zero gradient) for rows that are
    −∞ throughout, where a plain softmax would give nan."""
    empty = backend.module_of(scores.array).isneginf(scores.array).all(axis=-1, keepdims=True)
    if not empty.any():
        return softmax(scores, -1)
    empty = Tensor(empty)
    # Such rows are made finite before the softmax, so that no nan reaches the gradient.
    return where(empty, 0.0, softmax(where(empty, 0.0, scores), -1))


def _check_attention_inputs(
    query: Any, key: Any, value: Any, attn_mask: Any, is_causal: bool
) -> None:
    where_ = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{where_}: {name} must be a Tensor, got {type(t).__name__}")
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise OpError(
            f"{where_}: expected query, key and value to be at least 2-D, got shapes "
            f"{query.shape}, {key.shape} and {value.shape}"
        )
    if not query.dtype == key.dtype == value.dtype:
        raise OpError(
            f"{where_}: expected query, key and value to have the same dtype, got "
            f"{query.dtype}, {key.dtype} and {value.dtype}"
        )
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise OpError(
            f"{where_}: expected query (*, L, E), key (*, S, E) and value (*, S, Ev), got "
            f"{query.shape}, {key.shape} and {value.shape}"
        )
    if attn_mask is None:
        return
    if is_causal:
        raise RuntimeError(f"{where_}: explicit attn_mask should not be set when is_causal=True")
    if attn_mask.dtype.kind != "b" and attn_mask.dtype != query.dtype:
        raise OpError(
            f"{where_}: expected attn_mask to be bool or of the query's dtype {query.dtype}, "
            f"got {attn_mask.dtype}"
        )


def _repeat_heads(query: Tensor, kv: Tensor, name: str) -> Tensor:
    """Key or value heads (dimension −3) repeated so that each serves its group of queries."""
    if query.ndim < 3 or kv.ndim < 3 or query.shape[-3] % kv.shape[-3]:
        raise OpError(
            f"scaled_dot_product_attention: with enable_gqa the query's heads (dimension -3) "
            f"must be a multiple of the {name}'s, got shapes {query.shape} and {kv.shape}"
        )
    groups = query.shape[-3] // kv.shape[-3]
    if groups == 1:
        return kv
    xp = backend.module_of(kv.array)  # outside an operation: the module of the data
    heads = xp.repeat(xp.arange(kv.shape[-3]), groups)
    return kv[..., heads, :, :]


# ---- multi-head attention -------------------------------------------------------------------


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention, time-major: query (L, N, E), key (S, N, E_k), value (S, N, E_v)
    (or unbatched (L, E), (S, E_k), (S, E_v)) → (output (L, N, E), weights or None).

    Each of the ``num_heads`` heads attends with its own E/num_heads slice of the projected
    query, key and value; their outputs are joined and projected by ``out_proj``. Masks: bool
    (True: masked out) or float (added); ``key_padding_mask`` (N, S), ``attn_mask`` (L, S) or
    (N·num_heads, L, S). With ``need_weights`` the weights are returned, (N, L, S) averaged
    over heads or (N, num_heads, L, S), and a query with every key masked gives nan, as in
    PyTorch; without, it gives zeros.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> _ = cr.manual_seed(0)
    >>> E, heads = 8, 2
    >>> q = cr.randn(5, 3, E)  # (L, N, E)
    >>> w_in, w_out = cr.randn(3 * E, E), cr.randn(E, E)
    >>> out, weights = F.multi_head_attention_forward(
    ...     q, q, q, E, heads, w_in, None, None, None, False, 0.0, w_out, None
    ... )
    >>> out.shape, weights.shape  # weights averaged over the heads: (N, L, S)
    (chainrule.Size([5, 3, 8]), chainrule.Size([3, 5, 5]))

    ```
    """
    batched = _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    steps, batch, embed_dim = query.shape
    head_dim = embed_dim // num_heads
    if embed_dim != embed_dim_to_check or head_dim * num_heads != embed_dim:
        raise OpError(
            f"multi_head_attention: expected query of embedding size {embed_dim_to_check} "
            f"divisible by num_heads={num_heads}, got query of shape {query.shape}"
        )
    key_padding_mask = float_mask(key_padding_mask, "key_padding_mask", query.dtype, attn_mask)
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "multi_head_attention: need attn_mask if specifying the is_causal hint; "
            "nn.Transformer.generate_square_subsequent_mask makes one"
        )
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the causal mask is then applied by scaled_dot_product_attention
    else:
        attn_mask = float_mask(attn_mask, "attn_mask", query.dtype, None)
        is_causal = is_causal and key_padding_mask is None

    separate = (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight else None
    q, k, v = _project(query, key, value, in_proj_weight, in_proj_bias, separate)
    attn_mask = _check_attn_mask(attn_mask, batch * num_heads, steps, key.shape[0])
    if (bias_k is None) != (bias_v is None):
        raise OpError("multi_head_attention: bias_k and bias_v must be given together")
    if bias_k is not None:
        if static_k is not None or static_v is not None:
            raise OpError("multi_head_attention: a bias cannot be added to static_k or static_v")
        k = cat([k, bias_k.expand(1, batch, embed_dim)])
        v = cat([v, bias_v.expand(1, batch, embed_dim)])
        attn_mask, key_padding_mask = _pad_key(attn_mask), _pad_key(key_padding_mask)

    heads = batch * num_heads
    q = q.reshape(steps, heads, head_dim).transpose(0, 1)  # (N·H, L, hd)
    k = _heads(k, static_k, heads, head_dim, "static_k")  # (N·H, S, hd)
    v = _heads(v, static_v, heads, head_dim, "static_v")
    if add_zero_attn:
        xp = backend.module_of(k.array)  # outside an operation: the module of the data
        k = cat([k, Tensor(xp.zeros((heads, 1, head_dim), dtype=k.dtype))], dim=1)
        v = cat([v, Tensor(xp.zeros((heads, 1, head_dim), dtype=v.dtype))], dim=1)
        attn_mask, key_padding_mask = _pad_key(attn_mask), _pad_key(key_padding_mask)
    keys = k.shape[1]
    if key_padding_mask is not None:
        if key_padding_mask.shape != (batch, keys):
            raise OpError(
                f"multi_head_attention: expected key_padding_mask of shape {(batch, keys)}, "
                f"got {key_padding_mask.shape}"
            )
        per_head = key_padding_mask.reshape(batch, 1, 1, keys).expand(batch, num_heads, 1, keys)
        per_head = per_head.reshape(heads, 1, keys)
        attn_mask = per_head if attn_mask is None else attn_mask + per_head
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = (q * (1 / math.sqrt(head_dim))) @ k.transpose(1, 2)
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, -1)
        if dropout_p > 0:
            weights = dropout(weights, dropout_p)
        output = (weights @ v).transpose(0, 1).reshape(steps * batch, embed_dim)
        weights = weights.reshape(batch, num_heads, steps, keys)
        if average_attn_weights:
            weights = weights.mean(dim=1)
    else:
        if attn_mask is not None:  # (1, L, S) or (N·H, L or 1, S) → (1 or N, 1 or H, ·, S)
            if attn_mask.shape[0] == 1:
                attn_mask = attn_mask.unsqueeze(0)
            else:
                attn_mask = attn_mask.reshape(batch, num_heads, -1, keys)
        output = scaled_dot_product_attention(
            q.reshape(batch, num_heads, steps, head_dim),
            k.reshape(batch, num_heads, keys, head_dim),
            v.reshape(batch, num_heads, keys, head_dim),
            attn_mask,
            dropout_p,
            is_causal,
        )
        output = output.permute(2, 0, 1, 3).reshape(steps * batch, embed_dim)
        weights = None
    output = linear(output, out_proj_weight, out_proj_bias).reshape(steps, batch, embed_dim)
    if not batched:
        output = output.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return output, weights


def _project(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    separate: tuple | None,
) -> tuple[Tensor, Tensor, Tensor]:
    """The input projections q = query W_qᵀ + b_q, k = key W_kᵀ + b_k, v = value W_vᵀ + b_v,
    from one packed (3E, E) weight or three separate ones; biases from the packed (3E,)."""
    biases = (None, None, None) if bias is None else bias.chunk(3)
    if separate is None:
        if query is key and key is value:  # self-attention: one product instead of three
            return linear(query, weight, bias).chunk(3, dim=-1)
        separate = weight.chunk(3)
    if any(w is None for w in separate):
        raise OpError("multi_head_attention: q_proj_weight, k_proj_weight and v_proj_weight needed")
    return tuple(linear(x, w, b) for x, w, b in zip((query, key, value), separate, biases))


def _heads(x: Tensor, static: Tensor | None, heads: int, head_dim: int, name: str) -> Tensor:
    """(S, N, E) split into heads: (N·H, S, hd); or the given precomputed ``static`` one."""
    if static is None:
        return x.reshape(x.shape[0], heads, head_dim).transpose(0, 1)
    if static.ndim != 3 or static.shape[0] != heads or static.shape[2] != head_dim:
        raise OpError(
            f"multi_head_attention: expected {name} of shape ({heads}, S, {head_dim}), got "
            f"{static.shape}"
        )
    return static


def _pad_key(mask: Tensor | None) -> Tensor | None:
    """A mask with one more key column, 0 (attend): for an appended bias or zero key."""
    if mask is None:
        return None
    xp = backend.module_of(mask.array)  # outside an operation: the module of the data
    column = Tensor(xp.zeros((*mask.shape[:-1], 1), dtype=mask.dtype))
    return cat([mask, column], dim=-1)


def float_mask(
    mask: Any, name: str, dtype: Any, other: Any = None, other_name: str = "attn_mask"
) -> Tensor | None:
    """A bool mask (True: masked out) as a float one of ``dtype`` (−∞ there, 0 elsewhere); a
    float mask as it is. Warns, as PyTorch, when ``other`` (the companion mask) has another
    dtype."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"multi_head_attention: {name} must be a Tensor, got {type(mask)}")
    if other is not None and other.dtype != mask.dtype:
        warnings.warn(
            f"Support for mismatched {name} and {other_name} is deprecated. Use same type for "
            "both instead.",
            UserWarning,
            stacklevel=3,
        )
    if mask.dtype.kind == "b":
        xp = backend.module_of(mask.array)  # outside an operation: the module of the data
        return Tensor(xp.where(mask.array, xp.asarray(-math.inf, dtype=dtype), dtype.type(0)))
    if not dtypes.is_floating(mask.dtype):
        raise OpError(
            f"multi_head_attention: only bool and floating types of {name} are supported, "
            f"got {mask.dtype}"
        )
    return mask


def _check_attn_mask(mask: Tensor | None, heads: int, steps: int, keys: int) -> Tensor | None:
    """attn_mask as (1, L, S) or (N·H, L, S)."""
    if mask is None:
        return None
    if mask.ndim == 2:
        if mask.shape != (steps, keys):
            raise OpError(
                f"multi_head_attention: the shape of the 2-D attn_mask is {mask.shape}, but "
                f"should be {(steps, keys)}"
            )
        return mask.unsqueeze(0)
    if mask.ndim == 3 and mask.shape != (heads, steps, keys):
        raise OpError(
            f"multi_head_attention: the shape of the 3-D attn_mask is {mask.shape}, but "
            f"should be {(heads, steps, keys)}"
        )
    if mask.ndim != 3:
        raise OpError(f"multi_head_attention: attn_mask's dimension {mask.ndim} is not supported")
    return mask


def _check_mha_shapes(
    query: Any, key: Any, value: Any, key_padding_mask: Any, attn_mask: Any, num_heads: int
) -> bool:
    """Whether the inputs are batched (query 3-D) or unbatched (2-D), with the dimensions of
    the others checked to agree."""
    where_ = "multi_head_attention"
    if not all(isinstance(t, Tensor) for t in (query, key, value)):
        raise TypeError(f"{where_}: query, key and value must be Tensors")
    if query.ndim not in (2, 3):
        raise OpError(
            f"{where_}: query should be unbatched 2-D or batched 3-D, got shape {query.shape}"
        )
    batched = query.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise OpError(
            f"{where_}: for {kind} query, expected key and value to be {query.ndim}-D, got "
            f"shapes {key.shape} and {value.shape}"
        )
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise OpError(
            f"{where_}: for {kind} query, expected key_padding_mask to be None or "
            f"{query.ndim - 1}-D, got shape {key_padding_mask.shape}"
        )
    if attn_mask is not None and attn_mask.ndim not in (2, 3):
        raise OpError(
            f"{where_}: expected attn_mask to be None, 2-D or 3-D, got shape {attn_mask.shape}"
        )
    if not batched and attn_mask is not None and attn_mask.ndim == 3:
        expected = (num_heads, query.shape[0], key.shape[0])
        if attn_mask.shape != expected:
            raise OpError(
                f"{where_}: for unbatched query, expected a 3-D attn_mask of shape {expected}, "
                f"got {attn_mask.shape}"
            )
    if key.shape[:-1] != value.shape[:-1]:
        raise OpError(f"{where_}: key shape {key.shape} does not match value shape {value.shape}")
    return batched
