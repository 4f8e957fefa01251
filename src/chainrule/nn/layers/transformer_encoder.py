"""The Transformer's encoder (Vaswani et al., 2017): a layer of self-attention and a
feed-forward block, each wrapped in a residual connection and a layer norm, and a stack of
such layers.

Submodule names are PyTorch's (``self_attn``, ``linear1``, ``dropout``, ``linear2``, ``norm1``,
``norm2``, ``dropout1``, ``dropout2``; ``layers.0.…`` in the stack), so a PyTorch state_dict
loads. PyTorch runs an encoder stack at inference through nested tensors when it can
(``enable_nested_tensor``; eval mode, no gradient wanted, batch_first, a right-aligned key
padding mask and no attention mask, among other conditions), and its output is then zero at
the padded positions; chainrule computes every position as usual and, under the same
conditions, sets the padded ones to zero, so the results agree. PyTorch's warning at
construction when those conditions cannot hold is not repeated.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy

from chainrule import backend, devices, dtypes
from chainrule.autograd.function import OpError
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.nn import functional as F
from chainrule.nn.containers import ModuleList
from chainrule.nn.functional.attention import float_mask
from chainrule.nn.layers.attention import MultiheadAttention
from chainrule.nn.layers.dropout import Dropout
from chainrule.nn.layers.linear import Linear
from chainrule.nn.layers.normalization import LayerNorm
from chainrule.nn.module import Module
from chainrule.nn.rectifiers import ReLU
from chainrule.nn.smooth_activations import GELU
from chainrule.ops.elementwise import where
from chainrule.tensor import Tensor


def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
    """The causal mask (sz, sz): 0 on and below the diagonal, −∞ above it, so that position i
    attends to positions j ≤ i only. float32 unless ``dtype`` is given (bool: True above); on
    ``device``, or the default device.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Transformer.generate_square_subsequent_mask(3).tolist()
    [[0.0, -inf, -inf], [0.0, 0.0, -inf], [0.0, 0.0, 0.0]]

    ```
    """
    dtype = dtypes.float32 if dtype is None else dtypes.to_dtype(dtype)
    wanted = devices.check(device, "generate_square_subsequent_mask")
    mask = numpy.triu(numpy.full((sz, sz), -numpy.inf), k=1).astype(dtype)
    if wanted.type != "cpu":
        mask = backend.transfer(mask, devices.module_for(wanted, "generate_square_subsequent_mask"))
    return Tensor(mask)


def resolve_activation(activation: str | Callable, where: str) -> Callable:
    """ "relu" and "gelu" as functions; any callable (a function or a module) as it is."""
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if callable(activation):
        return activation
    raise RuntimeError(f"{where}: activation should be relu/gelu, not {activation}")


def clones(module: Module, count: int) -> ModuleList:
    """``count`` independent deep copies of ``module`` (equal weights to start with)."""
    return ModuleList([copy.deepcopy(module) for _ in range(count)])


def detect_is_causal_mask(mask: Tensor | None, is_causal: bool | None, size: int | None) -> bool:
    """``is_causal`` when given; otherwise whether ``mask`` is exactly the causal mask of
    ``size`` (in the mask's dtype), as PyTorch decides it."""
    if is_causal is not None or mask is None:
        return is_causal is True
    size = mask.shape[-2] if size is None else size
    causal = generate_square_subsequent_mask(size, device=mask.device, dtype=mask.dtype)
    return mask.shape == causal.shape and bool((mask.array == causal.array).all())


def _nested_tensor_layer(layer: Module) -> bool:
    """Whether PyTorch would let a stack of ``layer`` take its nested-tensor path."""
    if not isinstance(layer, TransformerEncoderLayer) or layer.norm_first:
        return False
    attention, activation = layer.self_attn, layer.activation
    relu_or_gelu = activation is F.relu or activation is F.gelu
    relu_or_gelu = relu_or_gelu or isinstance(activation, (ReLU, GELU))
    return (
        attention.batch_first
        and attention._qkv_same_embed_dim
        and attention.in_proj_bias is not None
        and relu_or_gelu
        and layer.norm1.eps == layer.norm2.eps
        and attention.num_heads % 2 == 0
    )


def sequence_length(src: Tensor, batch_first: bool) -> int:
    """The length of src (S, E) unbatched, or (S, N, E) / (N, S, E) batched."""
    return src.shape[0] if src.ndim == 2 or not batch_first else src.shape[1]


class TransformerEncoderLayer(Module):
    """x + SelfAttention(x) and x + FeedForward(x), each followed by a layer norm (or, with
    ``norm_first``, each applied to a layer-normed x): FeedForward(x) = linear2(dropout(
    activation(linear1(x)))) with ``dim_feedforward`` hidden units.

    src (S, N, d_model) ((N, S, d_model) with ``batch_first``; unbatched (S, d_model)) → the
    same shape. ``src_mask`` (S, S) or (N·nhead, S, S) and ``src_key_padding_mask`` (N, S) as
    in :class:`MultiheadAttention` (bool: True masked out; float: added).

    ```pycon
    >>> import chainrule
    >>> layer = TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32)
    >>> layer(chainrule.randn(10, 2, 16)).shape
    chainrule.Size([10, 2, 16])

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
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **options
        )
        feed_forward_modules(self, d_model, dim_feedforward, dropout, bias, device, dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **options)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **options)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = resolve_activation(activation, "TransformerEncoderLayer")

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        src_key_padding_mask = float_mask(
            src_key_padding_mask, "src_key_padding_mask", src.dtype, src_mask, "src_mask"
        )
        src_mask = float_mask(src_mask, "src_mask", src.dtype)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

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

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def feed_forward_modules(
    layer: Module,
    d_model: int,
    dim_feedforward: int,
    dropout: float,
    bias: bool,
    device: Any,
    dtype: Any,
) -> None:
    """linear1 (d_model → dim_feedforward), dropout, linear2 (back), in PyTorch's order."""
    layer.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
    layer.dropout = Dropout(dropout)
    layer.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` applied in turn (each starts with the same
    weights, as in PyTorch), then ``norm`` if given.

    forward(src, mask, src_key_padding_mask, is_causal): shapes as the layer's. ``is_causal``
    None: detected by comparing ``mask`` with the causal mask. ``enable_nested_tensor`` and
    ``mask_check`` are accepted and change nothing (see the module's docstring).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> layer = cr.nn.TransformerEncoderLayer(d_model=8, nhead=2, batch_first=True)
    >>> encoder = cr.nn.TransformerEncoder(layer, num_layers=2)
    >>> encoder(cr.randn(2, 5, 8)).shape
    chainrule.Size([2, 5, 8])

    ```
    """

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(
                f"TransformerEncoder: encoder_layer must be a Module, got {type(encoder_layer)}"
            )
        self.layers = clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor and _nested_tensor_layer(encoder_layer)
        self.mask_check = mask_check

    def forward(
        self,
        src: Tensor,
        mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        if not isinstance(src, Tensor) or src.ndim not in (2, 3):
            shape = src.shape if isinstance(src, Tensor) else type(src).__name__
            raise OpError(f"TransformerEncoder: expected src of 2 or 3 dimensions, got {shape}")
        src_key_padding_mask = float_mask(
            src_key_padding_mask, "src_key_padding_mask", src.dtype, mask, "mask"
        )
        mask = float_mask(mask, "mask", src.dtype)
        batch_first = getattr(getattr(self.layers[0], "self_attn", None), "batch_first", False)
        is_causal = detect_is_causal_mask(mask, is_causal, sequence_length(src, batch_first))
        zero_padding = self._zero_padding(src, mask, src_key_padding_mask)
        output = src
        for layer in self.layers:
            output = layer(
                output,
                src_mask=mask,
                is_causal=is_causal,
                src_key_padding_mask=src_key_padding_mask,
            )
        if zero_padding is not None:
            output = where(zero_padding, 0.0, output)
        return output if self.norm is None else self.norm(output)

    def _zero_padding(self, src: Tensor, mask: Any, padding: Any) -> Tensor | None:
        """Where PyTorch's nested-tensor path would leave zeros: the padded positions (N, S, 1)
        when that path would run, else None."""
        first = self.layers[0]
        if not self.use_nested_tensor or first.training or src.ndim != 3:
            return None
        if padding is None or mask is not None:
            return None
        if is_grad_enabled() and any(t.requires_grad for t in (src, *first.parameters())):
            return None
        kept = padding.array == 0
        if self.mask_check and (kept[:, 1:] > kept[:, :-1]).any():
            return None  # a kept position after a padded one: not right-padded
        return Tensor(~kept[..., None])
