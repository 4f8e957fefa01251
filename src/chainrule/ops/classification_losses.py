"""Classification losses as fused operations: cross-entropy and the negative log-likelihood
over C classes, binary cross-entropy (of probabilities and of logits), the soft margin loss,
and the Kullback-Leibler divergence between distributions.

Fused, each is one node: cross-entropy is otherwise a log-softmax, an indexing and a mean, and
its gradient the stable softmax − target instead of a chain through log and exp; the logits
forms have gradients σ(x) − y that never pass through log σ(x), which underflows.

``weight`` (and ``pos_weight``) arrive as arrays already broadcast-compatible with the input;
they are constants here, as in PyTorch, where they receive no gradient.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule import backend, dtypes, fp_errors
from chainrule.autograd.function import Function, OpError, saved_as_tensors
from chainrule.native import FEWEST
from chainrule.ops.broadcast import shape_of
from chainrule.ops.elementwise import Exp, as_float, exp, log, saved_operands, size_of
from chainrule.ops.loss_reduction import mean_scale, reduce_loss, split_grad, weighted
from chainrule.ops.reduce import sum as sum_of
from chainrule.ops.short_rows import row_max, row_sums
from chainrule.ops.smooth_activations import Sigmoid, Softplus
from chainrule.ops.softmax import row_loops
from chainrule.tensor import Tensor

# PyTorch clamps log(p) at −100 so that p = 0 gives a large finite loss, not inf. Any value whose
# log is below −100 works as the floor inside the log; e^{−101} is representable in float32.
_LOG_FLOOR = -100.0
_TINY = math.exp(-101.0)
# ... and the gradient (x − y) / (x (1 − x)) divides by at least this: PyTorch's 1e-12 as a
# float32 constant (9.99999996e-13), which shows at 4e-9 relative where x is 0 or 1.
_GRAD_EPSILON = float(numpy.float32(1e-12))

# ---- over C classes: cross-entropy and the negative log-likelihood ----------------------------


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
                log_p = log_softmax_rows(z)
            else:
                log_p = z
            if reduction == "none":
                per_sample = -(coefficients * log_p).sum(axis=1)
                total = per_sample.sum()
            else:  # Σ a ⊙ log p as one inner product of two vectors
                total = -xp.vdot(coefficients, log_p)
            if total != total and target is not None:  # a nan: sum again, what counts only
                counted = _counted(target, z.shape[1], ignore_index, label_smoothing)
                per_sample = -xp.where(counted, coefficients * log_p, 0).sum(axis=1)
                total = per_sample.sum()
        finally:
            fp_errors.leave(token)
        self.saved = (log_p, coefficients)
        self.from_logits, self.reduction = from_logits, reduction
        self.target, self.ignore_index, self.label_smoothing = target, ignore_index, label_smoothing
        if reduction == "none":
            return per_sample
        return total * xp.nan if empty_mean else total

    def backward(self, grad: Any) -> tuple:
        if isinstance(grad, Tensor):
            return self._backward_of_tensors(grad)
        log_p, coefficients = self.saved
        need_z, need_coefficients = self.needs_input_grad[:2]
        if self.reduction == "none":
            grad = grad[:, None]
        grad_z = grad_coefficients = None
        if need_z:
            if self.from_logits:
                # softmax(z) Σ a − a, built in place in the new array of probabilities.
                grad_z = backend.xp.exp(log_p)
                grad_z *= row_sums(coefficients)
                grad_z -= coefficients
            else:
                grad_z = -coefficients
            grad_z *= grad
            if self.target is not None and not _all_finite(grad):
                grad_z = backend.xp.where(self._counted(), grad_z, 0)
        if need_coefficients:  # probability targets that require grad: ∂C/∂a = −log p
            grad_coefficients = -log_p * grad
        return grad_z, grad_coefficients

    def _backward_of_tensors(self, grad: Tensor) -> tuple:
        """The backward above on tensors, as a backward recording a graph runs it: out of
        place, and with a plain sum where the arrays' takes a product with ones."""
        xp = backend.xp
        log_p, coefficients = self.saved
        need_z, need_coefficients = self.needs_input_grad[:2]
        if self.reduction == "none":
            grad = xp.expand_dims(grad, 1)
        grad_z = grad_coefficients = None
        if need_z:
            grad_z = -coefficients
            if self.from_logits:
                grad_z = xp.exp(log_p) * xp.sum(coefficients, axis=1, keepdims=True) + grad_z
            grad_z = grad_z * grad
            if self.target is not None:
                grad_z = xp.where(self._counted(), grad_z, 0)
        if need_coefficients:
            grad_coefficients = -log_p * grad
        return grad_z, grad_coefficients

    def _counted(self) -> Any:
        """Where the gradient of z may be other than 0, as PyTorch's: the samples not ignored
        (all their classes, from logits), or only the entries that count (log-probabilities).
        Elsewhere an infinite or nan gradient of the loss must give 0, not 0·∞."""
        target = self.target
        if self.from_logits:
            return (target != self.ignore_index)[:, None]
        num_classes = self.saved[0].shape[1]
        return _counted(target, num_classes, self.ignore_index, self.label_smoothing)

    def saved_in_graph(self, output: Tensor) -> tuple:
        log_p, coefficients = self.saved
        z, given = self.inputs[:2]
        if isinstance(given, Tensor):  # probability targets that require grad
            coefficients = saved_as_tensors(self, coefficients, output)
        if not self.from_logits:
            return (saved_as_tensors(self, log_p, output), coefficients)
        # log softmax(z) again, from the logits: z − max z − log Σ e^{z − max z}. The max
        # is a constant: log softmax does not depend on it.
        shifted = z - z.array.max(axis=1, keepdims=True)
        return (shifted - log(sum_of(exp(shifted), dim=1, keepdim=True)), coefficients)


class ClassIndexLogLikelihood(WeightedLogLikelihood):
    """∂/∂z (−Σ aᵢ log softmax(z)ᵢ) = softmax(z) Σ aᵢ − a, with a made from class indices

    Cross-entropy of logits z (N, C) against class indices ``target`` (N,), without class
    weights or label smoothing: :class:`WeightedLogLikelihood` with its coefficient matrix a
    made inside the operation from the targets, so that a compiled step, which replays
    operations, makes a anew from each batch's targets. A negative ``ignore_index`` among the
    targets, and a class out of range (an error naming ``where``), take the general path of
    :func:`class_coefficients`, as an eager call with these arguments does.
    """

    one_hot = False  # a is the one-hot rows (÷N for the mean), kept implicit (see forward)

    def forward(  # type: ignore[override]
        self, z: Any, target: Any, reduction: str, ignore_index: int = -100, where: str = ""
    ) -> Any:
        num_classes = z.shape[1]
        if _all_classes(target, num_classes) and z.dtype.char in "fd":
            return self._one_hot_forward(z, target, reduction, ignore_index)
        self.one_hot = False  # set on each call: a compiled step's replay reuses its node
        coefficients = one_hot_coefficients(target, num_classes, z.dtype, reduction)
        empty_mean = False
        if coefficients is None:
            coefficients = class_coefficients(
                target, num_classes, z.dtype, None, ignore_index, 0.0, reduction, where
            )
            empty_mean = reduction == "mean" and not (target != ignore_index).any()
        return super().forward(
            z, coefficients, reduction, True, empty_mean, target, ignore_index, 0.0
        )

    def _one_hot_forward(self, z: Any, target: Any, reduction: str, ignore_index: int) -> Any:
        """Every target a class: −Σᵢ log softmax(zᵢ)[tᵢ] (÷N), from the N entries that count,
        without the (N, C) matrix a: its product with log p and its row sums, passes over C
        columns, are a sum of N picked entries and the constant 1 (÷N)."""
        xp = backend.xp
        token = fp_errors.enter()  # as in WeightedLogLikelihood.forward
        try:
            log_p = log_softmax_rows(z)
        finally:
            fp_errors.leave(token)
        self.saved = (log_p, None)  # a, where a backward needs it: _coefficients()
        self.one_hot = True
        self.from_logits, self.reduction = True, reduction
        self.target, self.ignore_index, self.label_smoothing = target, ignore_index, 0.0
        picked = log_p[xp.arange(z.shape[0]), target]
        if reduction == "none":
            return -picked
        total = -xp.add.reduce(picked)
        return total / z.shape[0] if reduction == "mean" else total

    def _coefficients(self) -> None:
        """Make the one-hot a of :meth:`_one_hot_forward` for the general backward."""
        log_p, coefficients = self.saved
        if coefficients is None:
            num_classes = log_p.shape[1]
            self.saved = (
                log_p,
                one_hot_coefficients(self.target, num_classes, log_p.dtype, self.reduction),
            )

    def backward(self, grad: Any) -> tuple:
        if not self.one_hot or isinstance(grad, Tensor):
            if self.one_hot:
                self._coefficients()
            return super().backward(grad)
        log_p, _ = self.saved
        if not self.needs_input_grad[0]:
            return None, None
        xp = backend.xp
        count = log_p.shape[0]
        # softmax(z)·Σa − a with Σa = 1/N (the mean) or 1 on every row, a = Σa at the targets
        scale = log_p.dtype.type(1 / count if self.reduction == "mean" else 1)
        grad_z = xp.exp(log_p)
        if self.reduction == "none":
            grad_z *= grad[:, None]
            grad_z[xp.arange(count), self.target] -= grad
        else:
            grad_z *= scale * grad
            grad_z[xp.arange(count), self.target] -= scale * grad
        return grad_z, None

    def saved_in_graph(self, output: Tensor) -> tuple:
        if self.one_hot:
            self._coefficients()
        return super().saved_in_graph(output)


def log_softmax_rows(z: Any) -> Any:
    """log softmax of logits (N, C) along each row, z − max − log Σ e^{z − max}, as a new array:
    the passes between the rows and a column of per-row values through chainrule.native's
    loops where they apply (ops/softmax.py's ``row_loops``), the same numbers."""
    xp = backend.xp
    loops = row_loops(z, 1) if z.size >= FEWEST else None  # the test first: a small net's
    if loops is None:
        log_p = z - row_max(z)
        log_p -= xp.log(row_sums(xp.exp(log_p)))  # in place: a new array already
        return log_p
    log_p = xp.empty_like(z)
    loops.minus_column(z, row_max(z), log_p)
    loops.subtract_column(log_p, xp.log(row_sums(xp.exp(log_p))))
    return log_p


def _all_classes(target: Any, num_classes: int) -> bool:
    """Whether class-index targets (N,), N > 0, all name a class in 0..C−1: read as unsigned,
    a negative index is larger than any class, so one max checks the range."""
    return bool(target.size) and int(target.view(f"u{target.dtype.itemsize}").max()) < num_classes


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
    xp = backend.module_of(target)  # called outside an operation: the module of the data
    if target.dtype.kind not in "iu":
        raise OpError(f"{where}: class-index targets must be integers, got {target.dtype}")
    if weight is None and not label_smoothing and ignore_index < 0:
        coefficients = one_hot_coefficients(target, num_classes, dtype, reduction)
        if coefficients is not None:
            return coefficients
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


def one_hot_coefficients(target: Any, num_classes: int, dtype: Any, reduction: str) -> Any:
    """a (N, C) for integer class indices (N,) without weights, label smoothing or ignored
    samples: the one-hot rows, divided by N for the mean exactly as :func:`class_coefficients`
    divides them. None where some target is not a class in 0..C−1 (a negative ignore_index,
    or an error that class_coefficients reports), or for an empty batch.

    The common case, run every training step, in a few array operations: read as unsigned, a
    negative index is larger than any class, so one max checks the range.
    """
    count = target.shape[0]
    if not count or target.view(f"u{target.dtype.itemsize}").max() >= num_classes:
        return None
    xp = backend.module_of(target)  # called outside an operation: the module of the data
    coefficients = xp.zeros((count, num_classes), dtype=dtype)
    one = coefficients.dtype.type(1)
    coefficients[xp.arange(count), target] = one / count if reduction == "mean" else one
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


# ---- binary: probabilities, logits and ±1 labels --------------------------------------------


def _clamped_logs(x: Any) -> tuple[Any, Any]:
    """log x and log(1 − x), each at least −100 (PyTorch's clamp), without log(0) warnings."""
    xp = backend.xp
    log_x = xp.maximum(xp.log(xp.maximum(x, _TINY)), _LOG_FLOOR)
    log_rest = xp.maximum(xp.log(xp.maximum(1 - x, _TINY)), _LOG_FLOOR)
    return log_x, log_rest


class BinaryCrossEntropy(Function):
    """∂/∂x −w(y log x + (1 − y) log(1 − x)) = w(x − y) / max(x(1 − x), 10⁻¹²),
    ∂/∂y = w(log(1 − x) − log x) = −w logit(x)  (the loss's logs clamped at −100; ÷N for the
    mean)

    The target's gradient is that of the exact loss, as in PyTorch: ±inf where x is 0 or 1,
    where the clamped loss is flat.
    """

    def forward(self, x: Any, y: Any, weight: Any, reduction: str) -> Any:
        x, y = dtypes.promote(x, y)
        self.shapes, self.reduction = (x.shape, shape_of(y)), reduction
        log_x, log_rest = _clamped_logs(x)
        loss = -(y * log_x + (1 - y) * log_rest)
        self.saved = (x, y, weight)
        return reduce_loss(weighted(loss, weight), reduction, loss.size)

    def backward(self, grad: Any) -> tuple:
        x, y, weight = self.saved
        xp = backend.xp
        scale = grad * mean_scale(self.reduction, size_of(x))
        need_x, need_y = self.needs_input_grad[:2]
        grad_x = grad_y = None
        if need_x:
            variance = x * (1 - x)
            if isinstance(variance, Tensor):  # clip: maximum takes no number with a tensor
                variance = xp.clip(variance, _GRAD_EPSILON, None)
            else:
                variance = xp.maximum(variance, _GRAD_EPSILON)
            grad_x = (x - y) / variance
            grad_x = weighted(grad_x, weight) * scale
        if need_y:
            grad_y = weighted(-xp.log(x / (1 - x)), weight) * scale
        return (*split_grad(self, grad_x, grad_y), None)

    def saved_in_graph(self, output: Tensor) -> tuple:
        return saved_operands(self, output)  # the input and target; the weight a constant


def log_sigmoids(x: Any) -> tuple[Any, Any]:
    """log σ(x) and log σ(−x) = min(±x, 0) − log(1 + e^{−|x|}): no overflow, and each keeps
    its relative accuracy where it is tiny (unlike log σ(x) − x)."""
    xp = backend.xp
    shared = xp.log1p(xp.exp(-xp.abs(x)))
    return xp.minimum(x, 0) - shared, xp.minimum(-x, 0) - shared


class BinaryCrossEntropyWithLogits(Function):
    """∂/∂x −w(p y log σ(x) + (1 − y) log σ(−x)) = w((1 − y) σ(x) − p y σ(−x)),
    ∂/∂y = −w(p log σ(x) − log σ(−x))  (p: pos_weight, 1 without; ÷N for the mean)"""

    def forward(self, x: Any, y: Any, weight: Any, pos_weight: Any, reduction: str) -> Any:
        x, y = dtypes.promote(x, y)
        self.shapes, self.reduction = (x.shape, shape_of(y)), reduction
        log_p, log_q = log_sigmoids(x)
        positive = y if pos_weight is None else pos_weight * y
        loss = -(positive * log_p + (1 - y) * log_q)
        self.saved = (y, log_p, log_q, weight, pos_weight)
        return reduce_loss(weighted(loss, weight), reduction, loss.size)

    def backward(self, grad: Any) -> tuple:
        y, log_p, log_q, weight, pos_weight = self.saved
        xp = backend.xp
        scale = grad * mean_scale(self.reduction, size_of(log_p))
        need_x, need_y = self.needs_input_grad[:2]
        grad_x = grad_y = None
        if need_x:
            # (1 − y) σ(x) − p y σ(−x) rather than σ(x)(p y + 1 − y) − p y: no cancellation
            # when σ(x) → 1.
            positive = y if pos_weight is None else pos_weight * y
            grad_x = (1 - y) * xp.exp(log_p) - positive * xp.exp(log_q)
            grad_x = weighted(grad_x, weight) * scale
        if need_y:
            p_log_p = log_p if pos_weight is None else pos_weight * log_p
            grad_y = weighted(log_q - p_log_p, weight) * scale
        return (*split_grad(self, grad_x, grad_y), None, None)

    def saved_in_graph(self, output: Tensor) -> tuple:
        y, log_p, log_q, weight, pos_weight = self.saved
        x, target = self.inputs[:2]
        if isinstance(target, Tensor):
            y = saved_as_tensors(self, y, output)
        if isinstance(x, Tensor):
            x = x if x.dtype == log_p.dtype else x.to(log_p.dtype)  # promoted by the target
            log_p, log_q = log_sigmoids_of_tensor(x)
        return (y, log_p, log_q, weight, pos_weight)


def log_sigmoids_of_tensor(x: Tensor) -> tuple[Tensor, Tensor]:
    """log σ(x) = −softplus(−x) and log σ(−x) = −softplus(x), differentiable: what
    :func:`log_sigmoids` computes on arrays, for a backward that records a graph."""
    log_p = -Softplus.apply(-x, beta=1.0, threshold=20.0)
    log_q = -Softplus.apply(x, beta=1.0, threshold=20.0)
    return log_p, log_q


class SoftMargin(Function):
    """∂/∂x log(1 + e^{−yx}) = −y σ(−yx)  (÷N for the mean)

    The logistic loss of a score x against a label y = ±1, computed as −log σ(yx), which
    neither overflows nor loses its relative accuracy where it is tiny. The target is a
    constant: PyTorch refuses one that requires grad, and ``soft_margin_loss`` does too.
    """

    def forward(self, x: Any, y: Any, reduction: str) -> Any:
        x = as_float(x)
        # In the input's dtype, as PyTorch computes it: the labels do not promote it.
        y = backend.as_array(y).astype(x.dtype, copy=False)
        self.shapes, self.reduction = (x.shape, shape_of(y)), reduction
        margin = x * y
        log_p, log_q = log_sigmoids(margin)
        self.saved = (y, backend.xp.exp(log_q))  # σ(−yx)
        return reduce_loss(-log_p, reduction, margin.size)

    def backward(self, grad: Any) -> tuple:
        y, wrong = self.saved
        grad_x = -y * wrong * (grad * mean_scale(self.reduction, size_of(wrong)))
        return split_grad(self, grad_x, None)

    def saved_in_graph(self, output: Tensor) -> tuple:
        y, _ = self.saved  # the labels: a constant
        x = self.inputs[0]
        return (y, Sigmoid.apply(-(x * y)))


# ---- between distributions ---------------------------------------------------------------------


class KLDivergence(Function):
    """∂/∂x Σ t(log t − x) = −t, ∂/∂t = log t + 1 − x  (x: log-probabilities, t: probabilities,
    0 log 0 = 0); with ``log_target`` (t = eˢ): ∂/∂x Σ eˢ(s − x) = −eˢ, ∂/∂s = eˢ(s − x + 1)
    (÷ ``divisor`` for the mean)

    Where t = 0 the target's gradient is nan, as in PyTorch: t log t has no derivative at 0.
    """

    def forward(
        self, x: Any, t: Any, reduction: str, log_target: bool, divisor: float = 1.0
    ) -> Any:
        xp = backend.xp
        x, t = dtypes.promote(x, t)
        self.shapes, self.reduction, self.log_target = (x.shape, shape_of(t)), reduction, log_target
        # Silenced: the log of a zero target (its term is 0) or of a negative one (nan), as in
        # PyTorch.
        token = fp_errors.enter()
        try:
            if log_target:
                probability = xp.exp(t)
                loss = probability * (t - x)
            else:
                probability = t
                loss = xp.where(t == 0, 0, t * xp.log(t)) - t * x
            out = reduce_loss(loss, reduction, divisor)  # a mean over nothing: nan
        finally:
            fp_errors.leave(token)
        self.saved = (x, t, probability)
        self.divisor, self.out_shape = divisor, loss.shape
        return out

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        x, t, probability = self.saved
        if self.reduction == "mean":
            grad = grad / self.divisor
        # A reduced loss's scalar gradient spread over every term, each of which may involve
        # a broadcast input or target.
        grad = xp.broadcast_to(grad, self.out_shape)
        need_x, need_t = self.needs_input_grad[:2]
        grad_x = -probability * grad if need_x else None
        grad_t = None
        if need_t:
            token = fp_errors.enter()
            try:
                if self.log_target:
                    slope = probability * (t - x + 1)
                else:
                    # log t where t ≠ 0, plus t/t: PyTorch's derivative of t log t, nan at 0.
                    slope = xp.where(t == 0, 0, xp.log(t)) + t / t - x
            finally:
                fp_errors.leave(token)
            grad_t = slope * grad
        return split_grad(self, grad_x, grad_t)

    def saved_in_graph(self, output: Tensor) -> tuple:
        x, t = saved_operands(self, output)
        probability = self.saved[2]
        if isinstance(t, Tensor):  # a target that requires grad: eᵗ again, or t itself
            probability = Exp.apply(t) if self.log_target else t
        return (x, t, probability)


def _all_finite(grad: Any) -> bool:
    """Whether the loss's incoming gradient is finite everywhere: a Python test for the usual
    scalar (mean or sum), a fifth of the cost of NumPy's."""
    if grad.ndim == 0:
        return math.isfinite(grad)
    return bool(backend.xp.isfinite(grad).all())
