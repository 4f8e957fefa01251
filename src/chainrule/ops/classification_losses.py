"""Losses as fused operations: one node each, with a closed-form gradient.

Built from primitives, mean((x − y)²) is three nodes and cross-entropy is a log-softmax, an
indexing and a mean; fused, each is one node, and cross-entropy's gradient is the stable
softmax − target instead of a chain through log and exp.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes, fp_errors
from chainrule.autograd.function import Function, OpError
from chainrule.ops.broadcast import unbroadcast
from chainrule.ops.elementwise import sign_of

REDUCTIONS = ("mean", "sum", "none")


def _reduce(values: Any, reduction: str, divisor: Any) -> Any:
    if reduction == "none":
        return values
    total = values.sum()
    return total / divisor if reduction == "mean" else total


class SquaredError(Function):
    """∂/∂x Σ(x − y)²/N = 2(x − y)/N, ∂/∂y = −2(x − y)/N  (N = 1 for reduction="sum")"""

    def forward(self, x: Any, y: Any, reduction: str) -> Any:
        x, y = dtypes.promote(x, y)
        diff = x - y
        self.saved = (diff,)
        self.shapes, self.reduction = (x.shape, getattr(y, "shape", ())), reduction
        if reduction == "none":
            return diff * diff
        # Σ(x − y)² as one inner product: one call instead of a square and a sum.
        total = backend.xp.vdot(diff, diff)
        return total / diff.size if reduction == "mean" else total

    def backward(self, grad: Any) -> tuple:
        (diff,) = self.saved
        scale = 2 / diff.size if self.reduction == "mean" else 2
        # A scalar loss's gradient as a Python number: one array operation instead of two.
        grad_x = diff * (float(grad) * scale if grad.ndim == 0 else grad * scale)
        need_x, need_y = self.needs_input_grad
        shape_x, shape_y = self.shapes
        return (
            unbroadcast(grad_x, shape_x) if need_x else None,
            unbroadcast(-grad_x, shape_y) if need_y else None,
        )


class AbsoluteError(Function):
    """∂/∂x Σ|x − y|/N = sign(x − y)/N, ∂/∂y = −sign(x − y)/N  (sign 0 at 0 and at nan)"""

    def forward(self, x: Any, y: Any, reduction: str) -> Any:
        x, y = dtypes.promote(x, y)
        diff = x - y
        self.saved = (diff,)
        self.shapes, self.reduction = (x.shape, getattr(y, "shape", ())), reduction
        return _reduce(backend.xp.abs(diff), reduction, diff.size)

    def backward(self, grad: Any) -> tuple:
        (diff,) = self.saved
        scale = 1 / diff.size if self.reduction == "mean" else 1
        grad_x = sign_of(diff) * (grad * scale)
        need_x, need_y = self.needs_input_grad
        shape_x, shape_y = self.shapes
        return (
            unbroadcast(grad_x, shape_x) if need_x else None,
            unbroadcast(-grad_x, shape_y) if need_y else None,
        )


class WeightedLogLikelihood(Function):
    """∂/∂z (−Σ aᵢ log softmax(z)ᵢ) = softmax(z) Σ aᵢ − a  (from_logits), or ∂/∂p (−Σ a·p) = −a;
    ∂/∂a = −log softmax(z) (or −p)

    The common core of cross-entropy (``from_logits``: z are logits) and the negative
    log-likelihood (z are log-probabilities already). ``coefficients`` a has z's shape (N, C)
    and holds, per sample, the target's one-hot row or probabilities, the class weights,
    label smoothing, the ignored samples' zeros and the reduction's divisor: every variant of
    these losses is -Σ a ⊙ log p with its own a.

    ``empty_mean`` marks a mean over nothing (an empty batch, every target ignored): the loss is
    nan, as 0/0 and as in PyTorch, but the gradient is zero (a is all zeros), so that such a
    batch leaves the parameters as they were instead of filling them with nan.

    ``target`` (N,), for class-index targets, with ``ignore_index`` and ``label_smoothing``,
    says which entries of a count: the target's (every class's, with label smoothing) of the
    samples not ignored. The others are 0 in a, but where log p is −∞ there (a masked logit,
    or a gap between logits beyond the dtype's range) 0·(−∞) would be nan; PyTorch picks the
    entries that count instead of multiplying, and so does the loss here, when it meets a nan.
    """

    def forward(
        self,
        z: Any,
        coefficients: Any,
        reduction: str,
        from_logits: bool,
        empty_mean: bool = False,
        target: Any = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> Any:
        xp = backend.xp
        # Silenced: 0·(−∞) below is expected, and logits beyond the dtype's range overflow
        # their differences to −∞, which PyTorch's loss meets as well, silently.
        token = fp_errors.enter()
        try:
            if from_logits:
                peak = z.max(axis=1, keepdims=True)
                shifted = z - peak
                log_total = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
                log_p = shifted - log_total
            else:
                log_p = z
            terms = coefficients * log_p
            per_sample = -terms.sum(axis=1)
            total = per_sample.sum()
            if total != total and target is not None:  # a nan: sum again, what counts only
                counted = _counted(target, z.shape[1], ignore_index, label_smoothing)
                per_sample = -xp.where(counted, terms, 0).sum(axis=1)
                total = per_sample.sum()
        finally:
            fp_errors.leave(token)
        self.saved = (log_p, coefficients)
        self.from_logits, self.reduction = from_logits, reduction
        if reduction == "none":
            return per_sample
        return total * xp.nan if empty_mean else total

    def backward(self, grad: Any) -> tuple:
        log_p, coefficients = self.saved
        need_z, need_coefficients = self.needs_input_grad[:2]
        if self.reduction == "none":
            grad = grad[:, None]
        grad_z = grad_coefficients = None
        if need_z:
            if self.from_logits:
                probabilities = backend.xp.exp(log_p)
                grad_z = probabilities * coefficients.sum(axis=1, keepdims=True) - coefficients
            else:
                grad_z = -coefficients
            grad_z = grad_z * grad
        if need_coefficients:  # probability targets that require grad: ∂C/∂a = −log p
            grad_coefficients = -log_p * grad
        return grad_z, grad_coefficients


def _counted(target: Any, num_classes: int, ignore_index: int, label_smoothing: float) -> Any:
    """The entries of -Σ a ⊙ log p that count for class-index targets (N,): a bool array that
    broadcasts to (N, C): the target's class, or every class with label smoothing, of each
    sample not ignored."""
    xp = backend.xp
    kept = target != ignore_index
    if label_smoothing:
        return kept[:, None]
    return xp.arange(num_classes) == xp.where(kept, target, -1)[:, None]


def class_coefficients(
    target: Any,
    num_classes: int,
    dtype: Any,
    weight: Any,
    ignore_index: int,
    label_smoothing: float,
    reduction: str,
    where: str,
) -> Any:
    """The coefficient matrix a (N, C) of -Σ a ⊙ log p for class-index targets (N,).

    Row i is wᵧ·((1 − ε)·onehot(yᵢ) + ε/C) with per-class weights w (1 without weights);
    rows of ignored samples are 0. For ``mean`` every row is divided by Σᵢ w[yᵢ] over the
    samples not ignored, PyTorch's weighted mean.
    """
    xp = backend.xp
    if target.dtype.kind not in "iu":
        raise OpError(f"{where}: class-index targets must be integers, got {target.dtype}")
    count = target.shape[0]
    kept = target != ignore_index
    safe = xp.where(kept, target, 0)
    if count and (safe.min() < 0 or safe.max() >= num_classes):
        bad = int(safe[(safe < 0) | (safe >= num_classes)][0])
        raise OpError(
            f"{where}: target class {bad} is out of range for {num_classes} classes "
            f"(valid: 0..{num_classes - 1}, or ignore_index={ignore_index})"
        )
    class_weight = xp.ones(num_classes, dtype=dtype) if weight is None else weight.astype(dtype)
    rows = xp.arange(count)
    coefficients = xp.zeros((count, num_classes), dtype=dtype)
    coefficients[rows, safe] = (1 - label_smoothing) * class_weight[safe]
    if label_smoothing:
        coefficients += (label_smoothing / num_classes) * class_weight
    coefficients *= kept[:, None]
    if reduction == "mean" and kept.any():  # with nothing kept a stays 0: see empty_mean
        coefficients /= (class_weight[safe] * kept).sum()
    return coefficients


def probability_coefficients(
    target: Any, dtype: Any, weight: Any, label_smoothing: float, reduction: str
) -> Any:
    """The coefficient matrix a (N, C) for probability targets: w ⊙ ((1 − ε) p + ε/C), divided
    by N for ``mean``."""
    count, num_classes = target.shape
    # A tensor target (one that requires grad) arrives in dtype already; arrays are cast here.
    coefficients = target if target.dtype == dtype else target.astype(dtype)
    if label_smoothing:
        coefficients = coefficients * (1 - label_smoothing) + label_smoothing / num_classes
    if weight is not None:
        coefficients = coefficients * weight.astype(dtype)
    if reduction == "mean" and count:
        coefficients = coefficients / count
    return coefficients
