"""The Transformer's decoder (Vaswani et al., 2017): masked self-attention over the target,
attention from the target to the encoder's output (the memory), and a feed-forward block, each
in a residual connection with a layer norm; and a stack of such layers.

Submodule names are PyTorch's (``self_attn``, ``multihead_attn``, ``linear1``, ``dropout``,
``linear2``, ``norm1``…``norm3``, ``dropout1``…``dropout3``; ``layers.0.…``), so a PyTorch
state_dict loads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.layers.attention import MultiheadAttention
from chainrule.nn.layers.dropout import Dropout
from chainrule.nn.layers.normalization import LayerNorm
from chainrule.nn.layers.transformer_encoder import (
    clones,
    detect_is_causal_mask,
    feed_forward_modules,
    resolve_activation,
    sequence_length,
)
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class TransformerDecoderLayer(Module):
    """x + SelfAttention(x), x + Attention(x, memory) and x + FeedForward(x), each followed by
    a layer norm (or, with ``norm_first``, each applied to a layer-normed x).

    tgt (T, N, d_model), memory (S, N, d_model) ((N, ·, d_model) with ``batch_first``;
    unbatched (T, d_model), (S, d_model)) → the shape of tgt. ``tgt_mask`` (T, T) and
    ``memory_mask`` (T, S), or per head (N·nhead, ·, ·); key padding masks (N, T) and (N, S);
    bool (True: masked out) or float (added).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> layer = cr.nn.TransformerDecoderLayer(d_model=8, nhead=2, batch_first=True)
    >>> tgt, memory = cr.randn(2, 5, 8), cr.randn(2, 7, 8)
    >>> layer(tgt, memory).shape
    chainrule.Size([2, 5, 8])

    ```
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        options = {"device": device, "dtype": dtype}
        attention = {"dropout": dropout, "bias": bias, "batch_first": batch_first, **options}
        self.self_attn = MultiheadAttention(d_model, nhead, **attention)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **attention)
        feed_forward_modules(self, d_model, dim_feedforward, dropout, bias, device, dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **options)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **options)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **options)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = resolve_activation(activation, "TransformerDecoderLayer")

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = tgt
        target = (tgt_mask, tgt_key_padding_mask, tgt_is_causal)
        source = (memory_mask, memory_key_padding_mask, memory_is_causal)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), *target)
            x = x + self._mha_block(self.norm2(x), memory, *source)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, *target))
        x = self.norm2(x + self._mha_block(x, memory, *source))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(
        self, x: Tensor, mask: Tensor | None, padding: Tensor | None, is_causal: bool
    ) -> Tensor:
        attended = self.self_attn(
            x,
            x,
            x,
            key_padding_mask=padding,
            need_weights=False,
            attn_mask=mask,
            is_causal=is_causal,
        )[0]
        return self.dropout1(attended)

    def _mha_block(
        self,
        x: Tensor,
        memory: Tensor,
        mask: Tensor | None,
        padding: Tensor | None,
        is_causal: bool,
    ) -> Tensor:
        attended = self.multihead_attn(
            x,
            memory,
            memory,
            key_padding_mask=padding,
            need_weights=False,
            attn_mask=mask,
            is_causal=is_causal,
        )[0]
        return self.dropout2(attended)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` applied in turn to the target, each
    attending to the same ``memory``, then ``norm`` if given. ``tgt_is_causal`` None: detected
    by comparing ``tgt_mask`` with the causal mask.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> layer = cr.nn.TransformerDecoderLayer(d_model=8, nhead=2, batch_first=True)
    >>> decoder = cr.nn.TransformerDecoder(layer, num_layers=2)
    >>> decoder(cr.randn(2, 5, 8), cr.randn(2, 7, 8)).shape
    chainrule.Size([2, 5, 8])

    ```
    """

    def __init__(
        self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None
    ) -> None:
        super().__init__()
        self.layers = clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        batch_first = getattr(getattr(self.layers[0], "self_attn", None), "batch_first", False)
        tgt_is_causal = detect_is_causal_mask(
            tgt_mask, tgt_is_causal, sequence_length(tgt, batch_first)
        )
        output = tgt
        for layer in self.layers:
            output = layer(
                output,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=tgt_is_causal,
                memory_is_causal=memory_is_causal,
            )
        return output if self.norm is None else self.norm(output)
