"""Multi-head attention as a layer, with PyTorch's parameters, so a PyTorch state_dict loads.

``in_proj_weight`` (3E, E) holds the query, key and value projections stacked, or, when the
keys or values have another size (kdim, vdim), ``q_proj_weight`` (E, E), ``k_proj_weight``
(E, kdim) and ``v_proj_weight`` (E, vdim) hold them apart; ``in_proj_bias`` (3E,), ``out_proj``
a Linear(E, E), and with ``add_bias_kv`` ``bias_k`` and ``bias_v`` (1, 1, E).
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes
from chainrule.nn import init
from chainrule.nn.functional.attention import multi_head_attention_forward
from chainrule.nn.layers.linear import Linear
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


class MultiheadAttention(Module):
    """Attention with ``num_heads`` heads of size embed_dim/num_heads (Vaswani et al., 2017):
    each head computes softmax(q kᵀ/√d + mask) v on its slice of the projected query, key and
    value, and ``out_proj`` mixes the joined heads.

    query (L, N, E), key (S, N, kdim), value (S, N, vdim) ((N, ·, ·) with ``batch_first``, or
    unbatched (L, E), (S, kdim), (S, vdim)) → (output (L, N, E), weights (N, L, S) averaged over
    heads, (N, num_heads, L, S), or None). Masks: bool (True: masked out) or float (added);
    ``key_padding_mask`` (N, S), ``attn_mask`` (L, S) or (N·num_heads, L, S). Dropout with
    probability ``dropout`` acts on the attention weights while training.

    ```pycon
    >>> import chainrule
    >>> attention = MultiheadAttention(8, 2, batch_first=True)
    >>> x = chainrule.randn(3, 5, 8)
    >>> output, weights = attention(x, x, x)
    >>> output.shape, weights.shape
    (chainrule.Size([3, 5, 8]), chainrule.Size([3, 5, 5]))

    ```
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"MultiheadAttention: embed_dim and num_heads must be greater than 0, got "
                f"embed_dim={embed_dim} and num_heads={num_heads} instead"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim must be divisible by num_heads, got "
                f"embed_dim={embed_dim} and num_heads={num_heads}"
            )
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.head_dim = embed_dim // num_heads
        dtype = dtypes.to_dtype(dtype)

        def empty(*shape: int) -> Parameter:
            return Parameter(backend.xp.empty(shape, dtype=dtype))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = empty(embed_dim, embed_dim)
            self.k_proj_weight = empty(embed_dim, self.kdim)
            self.v_proj_weight = empty(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = empty(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k, self.bias_v = empty(1, 1, embed_dim), empty(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self.reset_parameters()
        self._place(device)

    def reset_parameters(self) -> None:
        """Glorot-uniform projections, zero biases, Glorot-normal bias_k and bias_v (as
        PyTorch; out_proj.weight keeps Linear's initialisation)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    _reset_parameters = reset_parameters  # PyTorch's name

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        batched = isinstance(query, Tensor) and query.ndim == 3
        if self.batch_first and batched:
            # Transposed once per distinct tensor, so that self-attention stays recognisable
            # (query is key is value) and takes one fused input projection.
            query, key, value = _time_major(query, key, value)
        separate = not self._qkv_same_embed_dim
        output, weights = multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=separate,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and batched:
            output = output.transpose(0, 1)
        return output, weights


def _time_major(query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(N, L, ·) → (L, N, ·) for each, keeping tensors that were the same object the same."""
    done: dict[int, Tensor] = {}
    out = []
    for t in (query, key, value):
        if id(t) not in done:
            done[id(t)] = t.transpose(0, 1) if isinstance(t, Tensor) else t
        out.append(done[id(t)])
    return out[0], out[1], out[2]
