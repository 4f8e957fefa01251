"""Embedding: a table of learnable vectors looked up by integer index."""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.grad_mode import no_grad
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.functional.sparse import normalise_padding_idx
from chainrule.nn.input_checks import InputDtypeError, describe, require_tensor
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


class Embedding(Module):
    """indices (*) → vectors (*, embedding_dim): rows of ``weight`` (num_embeddings,
    embedding_dim), which starts N(0, 1) with the ``padding_idx`` row zeroed.

    The ``padding_idx`` row receives no gradient, so it stays as it is (zero by default): a
    padding token then contributes nothing.

    ```pycon
    >>> import chainrule as cr
    >>> table = cr.nn.Embedding(10, 3)
    >>> table(cr.tensor([[1, 2], [4, 9]])).shape
    chainrule.Size([2, 2, 3])

    ```
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Tensor | None = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"Embedding: {name} must be a non-negative int, got {value!r}")
        if sparse:
            raise NotImplementedError("Embedding: chainrule has no sparse gradients")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = normalise_padding_idx(padding_idx, num_embeddings, "Embedding")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        shape = (num_embeddings, embedding_dim)
        if _weight is None:
            self.weight = Parameter(backend.xp.empty(shape, dtype=dtypes.to_dtype(dtype)))
            self.reset_parameters()
            self._place(device)  # a given _weight stays where it is, as in PyTorch
        else:
            if tuple(_weight.shape) != shape:
                raise ValueError(
                    f"Embedding: _weight must have shape {shape}, got {tuple(_weight.shape)}"
                )
            self.weight = Parameter(_weight)
        self.weight.requires_grad = not _freeze

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        require_tensor(input, self)
        if input.dtype not in (dtypes.int64, dtypes.int32):
            # PyTorch's rule: Long or Int indices only (not bool, uint8, int16 or floats).
            raise InputDtypeError(
                f"{describe(self)}: expected integer indices of dtype int64 or int32, got "
                f"{input.dtype} (convert them with .long())"
            )
        return F.embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding whose weight is ``embeddings`` (2-D; memory shared, as in PyTorch),
        frozen unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError(
                f"Embedding.from_pretrained: embeddings must be 2-D, got shape {embeddings.shape}"
            )
        rows, columns = embeddings.shape
        weight = embeddings if isinstance(embeddings, Tensor) else Tensor(embeddings)
        return cls(
            rows,
            columns,
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight=weight,
            _freeze=freeze,
        )

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text


class EmbeddingBag(Module):
    """Bags of indices → one vector each (bags, embedding_dim): the sum, mean or maximum of the
    bags' rows of ``weight`` (num_embeddings, embedding_dim), which starts N(0, 1) with the
    ``padding_idx`` row zeroed.

    Called with a 2-D input (B, L) of B equal bags, or a 1-D input cut at ``offsets``; see
    :func:`chainrule.nn.functional.embedding_bag`.

    ```pycon
    >>> import chainrule as cr
    >>> bag = cr.nn.EmbeddingBag(10, 3, mode="sum")
    >>> bag(cr.tensor([1, 2, 4, 5, 4]), cr.tensor([0, 2])).shape
    chainrule.Size([2, 3])

    ```
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        _weight: Tensor | None = None,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"EmbeddingBag: {name} must be a non-negative int, got {value!r}")
        if sparse:
            raise NotImplementedError("EmbeddingBag: chainrule has no sparse gradients")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.mode, self.sparse = scale_grad_by_freq, mode, sparse
        self.include_last_offset = include_last_offset
        self.padding_idx = normalise_padding_idx(padding_idx, num_embeddings, "EmbeddingBag")
        shape = (num_embeddings, embedding_dim)
        if _weight is None:
            self.weight = Parameter(backend.xp.empty(shape, dtype=dtypes.to_dtype(dtype)))
            self.reset_parameters()
            self._place(device)
        else:
            if tuple(_weight.shape) != shape:
                raise ValueError(
                    f"EmbeddingBag: _weight must have shape {shape}, got {tuple(_weight.shape)}"
                )
            self.weight = Parameter(_weight)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0

    def forward(
        self,
        input: Tensor,  # noqa: A002
        offsets: Tensor | None = None,
        per_sample_weights: Tensor | None = None,
    ) -> Tensor:
        return F.embedding_bag(
            input,
            self.weight,
            offsets,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.mode,
            self.sparse,
            per_sample_weights,
            self.include_last_offset,
            self.padding_idx,
        )

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
    ) -> EmbeddingBag:
        """An EmbeddingBag whose weight is ``embeddings`` (2-D; memory shared, as in
        PyTorch), frozen unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError(
                "EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape "
                f"{embeddings.shape}"
            )
        rows, columns = embeddings.shape
        weight = embeddings if isinstance(embeddings, Tensor) else Tensor(embeddings)
        bag = cls(
            rows,
            columns,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            mode,
            sparse,
            weight,
            include_last_offset,
            padding_idx,
        )
        bag.weight.requires_grad = not freeze
        return bag

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        text += f", mode='{self.mode}'"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text
