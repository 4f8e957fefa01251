"""The embedding lookup: a differentiable table lookup by index.

An indexing whose backward must also skip the padding row and may scale by the frequency of
each index, which the general indexing operation of ``ops.movement`` does not do.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function


class EmbeddingLookup(Function):
    """∂C/∂W[i] = Σ ∂C/∂out[k] over the positions k whose index is i (÷ their count with
    ``scale_grad_by_freq``); the row ``padding_idx`` gets no gradient"""

    @classmethod
    def op_name(cls) -> str:
        return "embedding"

    def forward(
        self, weight: Any, indices: Any, padding_idx: int | None, scale_grad_by_freq: bool
    ) -> Any:
        self.indices, self.shape = indices, weight.shape
        self.padding_idx, self.scale_grad_by_freq = padding_idx, scale_grad_by_freq
        return weight[indices]

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        count, width = self.shape
        flat = self.indices.reshape(-1)
        rows = grad.reshape(flat.size, width)  # not -1: undefined when width is 0
        if self.scale_grad_by_freq:
            frequency = xp.bincount(flat, minlength=count)
            rows = rows / frequency[flat][:, None]
        grad_weight = xp.zeros(self.shape, dtype=grad.dtype)
        backend.scatter_add(grad_weight, flat, rows)  # repeated indices accumulate
        if self.padding_idx is not None:
            grad_weight[self.padding_idx] = 0
        return grad_weight, None

    def composite(self, weight: Any, indices: Any) -> Any:
        """The same lookup from differentiable indexing (for ``create_graph``). Where the
        backward skips the padding row or divides by the frequency, each picked row counts with
        that factor c: rows·c + (rows·(1 − c)).detach() has the rows' value and derivative c."""
        xp = backend.xp
        rows = weight[indices]
        if self.padding_idx is None and not self.scale_grad_by_freq:
            return rows
        factor = xp.ones(indices.shape, dtype=weight.dtype)
        if self.scale_grad_by_freq:
            flat = indices.reshape(-1)
            factor = factor / xp.bincount(flat, minlength=self.shape[0])[indices]
        if self.padding_idx is not None:
            factor = factor * (indices != self.padding_idx)
        factor = factor[..., None]
        return rows * factor + (rows * (1 - factor)).detach()
