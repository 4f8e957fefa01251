"""The Transformer (Vaswani et al., 2017): an encoder over the source sequence and a decoder
that attends to its output while reading the target, with PyTorch's names, arguments and
initialisation, so a PyTorch state_dict loads (``encoder.layers.0.…``, ``decoder.norm.…``).

The layers themselves are in :mod:`chainrule.nn.layers.transformer_encoder` and
:mod:`chainrule.nn.layers.transformer_decoder`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.layers.normalization import LayerNorm
from chainrule.nn.layers.transformer_decoder import TransformerDecoder, TransformerDecoderLayer
from chainrule.nn.layers.transformer_encoder import (
    TransformerEncoder,
    TransformerEncoderLayer,
    generate_square_subsequent_mask,
)
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class Transformer(Module):
    """Encoder–decoder Transformer: memory = encoder(src), output = decoder(tgt, memory).

    src (S, N, d_model), tgt (T, N, d_model) ((N, ·, d_model) with ``batch_first``; unbatched
    (S, d_model), (T, d_model)) → (T, N, d_model). Both stacks end with a LayerNorm; every
    weight matrix starts Glorot-uniform. ``custom_encoder`` / ``custom_decoder`` replace the
    default stacks. For autoregressive decoding pass
    ``tgt_mask=Transformer.generate_square_subsequent_mask(T)``.

    ```pycon
    >>> import chainrule
    >>> model = Transformer(d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
    ...                     dim_feedforward=32)
    >>> model(chainrule.randn(10, 3, 16), chainrule.randn(7, 3, 16)).shape
    chainrule.Size([7, 3, 16])

    ```
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        options = {"device": device, "dtype": dtype}
        layer_options = {
            "dim_feedforward": dim_feedforward,
            "dropout": dropout,
            "activation": activation,
            "layer_norm_eps": layer_norm_eps,
            "batch_first": batch_first,
            "norm_first": norm_first,
            "bias": bias,
            **options,
        }
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, **layer_options)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **options)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, **layer_options)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **options)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self.reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def reset_parameters(self) -> None:
        """Glorot-uniform for every parameter of two or more dimensions (as PyTorch)."""
        for parameter in self.parameters():
            if parameter.ndim > 1:
                init.xavier_uniform_(parameter)

    _reset_parameters = reset_parameters  # PyTorch's name

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        batch_axis = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch_axis] != tgt.shape[batch_axis]):
            raise RuntimeError(
                f"Transformer: the batch number of src and tgt must be equal, got src of shape "
                f"{src.shape} and tgt of shape {tgt.shape} (batch_first={self.batch_first})"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(
                f"Transformer: the feature number of src and tgt must be equal to "
                f"d_model={self.d_model}, got src of shape {src.shape} and tgt of shape "
                f"{tgt.shape}"
            )
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )
