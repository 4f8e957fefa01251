"""Matrix operations beyond the product itself: triangular parts, diagonals, outer products,
batched and scaled products (bmm, addmm, baddbmm) and einsum.

The plain products reuse :class:`~chainrule.ops.linalg.MatMul`; the outer product composes
unsqueeze and mul. Only the operations that need a rule of their own carry one here.
"""

from __future__ import annotations

import string
from typing import Any, NamedTuple

from chainrule import backend
from chainrule.autograd.function import Function, OpError
from chainrule.ops.broadcast import unbroadcast
from chainrule.ops.elementwise import mul
from chainrule.ops.linalg import MatMul, as_input
from chainrule.ops.movement import ViewFunction, cat, unsqueeze
from chainrule.tensor import Tensor

# ---- triangles and diagonals -------------------------------------------------------------------


class Tril(Function):
    """∂C/∂x = tril(∂C/∂out, k): the entries kept pass their gradient on, the zeroed ones none"""

    def forward(self, x: Any, k: int) -> Any:
        self.k = k
        return backend.xp.tril(x, k)

    def backward(self, grad: Any) -> tuple:
        return (backend.xp.tril(grad, self.k),)


class Triu(Function):
    """∂C/∂x = triu(∂C/∂out, k): the entries kept pass their gradient on, the zeroed ones none"""

    def forward(self, x: Any, k: int) -> Any:
        self.k = k
        return backend.xp.triu(x, k)

    def backward(self, grad: Any) -> tuple:
        return (backend.xp.triu(grad, self.k),)


class Diag(Function):
    """vector → matrix: ∂C/∂v = diagonal k of ∂C/∂out;
    matrix → vector: ∂C/∂A = zeros with ∂C/∂out on diagonal k"""

    def forward(self, x: Any, k: int) -> Any:
        self.shape, self.k = x.shape, k
        if x.ndim == 1:
            return backend.xp.diag(x, k)
        return backend.xp.diagonal(x, k).copy()  # NumPy's diagonal is a read-only view

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        if len(self.shape) == 1:
            band = xp.diagonal(grad, self.k)
            # NumPy's diagonal is a read-only view: the gradient gets an array of its own.
            return (band.copy() if isinstance(band, backend.ndarray) else band,)
        if not isinstance(grad, backend.ndarray):  # recording a graph: no writes into arrays
            return (_on_diagonal(grad, self.shape, self.k),)
        full = xp.zeros(self.shape, dtype=grad.dtype)
        steps = xp.arange(grad.shape[0])
        # Diagonal k starts at row -k (below the main one) or at column k (above it).
        full[steps + max(-self.k, 0), steps + max(self.k, 0)] = grad
        return (full,)


def _on_diagonal(values: Tensor, shape: tuple[int, int], k: int) -> Tensor:
    """A matrix of ``shape``, zero but for ``values`` along its diagonal k, from differentiable
    operations: the square matrix that ``diag`` makes of the vector, cut or padded to shape."""
    rows, cols = shape
    square = Diag.apply(values, k=k)  # size len(values) + |k|, the band at the same place
    size = square.shape[0]
    square = square[: min(rows, size), : min(cols, size)]
    # A band that ends before the matrix does: rows or columns of zeros after it.
    if size < rows:
        zeros = backend.xp.zeros((rows - size, square.shape[1]), dtype=values.dtype)
        square = cat([square, Tensor._make(zeros, False, None)], 0)
    if size < cols:
        zeros = backend.xp.zeros((rows, cols - size), dtype=values.dtype)
        square = cat([square, Tensor._make(zeros, False, None)], 1)
    return square


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle of each matrix in the last two dimensions: entries (i, j) with
    j - i <= ``diagonal`` kept, the others set to 0.

    ```pycon
    >>> import chainrule as cr
    >>> cr.tril(cr.ones(3, 3)).tolist()
    [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]

    ```
    """
    _check_matrices(input, "tril")
    return Tril.apply(input, k=diagonal)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle of each matrix in the last two dimensions: entries (i, j) with
    j - i >= ``diagonal`` kept, the others set to 0.

    ```pycon
    >>> import chainrule as cr
    >>> cr.triu(cr.ones(3, 3), diagonal=1).tolist()
    [[0.0, 1.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]

    ```
    """
    _check_matrices(input, "triu")
    return Triu.apply(input, k=diagonal)


def _check_matrices(input: Tensor, op: str) -> None:  # noqa: A002
    if input.ndim < 2:
        raise OpError(f"{op}: input must have at least 2 dimensions, got shape {input.shape}")


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """A vector of n elements → the square matrix of size n + |diagonal| with the vector on
    that diagonal; a matrix → the vector of its elements on that diagonal (0 above the main
    one, negative below).

    ```pycon
    >>> import chainrule as cr
    >>> cr.diag(cr.tensor([1.0, 2.0])).tolist()
    [[1.0, 0.0], [0.0, 2.0]]
    >>> cr.diag(cr.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [1.0, 4.0]

    ```
    """
    if input.ndim not in (1, 2):
        raise OpError(f"diag: expects a vector or a matrix, got shape {input.shape}")
    return Diag.apply(input, k=diagonal)


def outer(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    """The outer product of two vectors: out[i, j] = input[i] · vec2[j] (composed: the rule is
    mul's).

    ```pycon
    >>> import chainrule as cr
    >>> cr.outer(cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0, 5.0])).tolist()
    [[3.0, 4.0, 5.0], [6.0, 8.0, 10.0]]

    ```
    """
    if input.ndim != 1 or vec2.ndim != 1:
        raise OpError(f"outer: expects two vectors, got shapes {input.shape} and {vec2.shape}")
    return mul(unsqueeze(input, 1), unsqueeze(vec2, 0))


# ---- batched and scaled products ---------------------------------------------------------------


class AddMatMul(Function):
    """out = β·M + α·(A·B):  ∂C/∂M = β·∂C/∂out (summed over M's broadcast axes),
    ∂C/∂A = α·∂C/∂out·Bᵀ,  ∂C/∂B = α·Aᵀ·∂C/∂out  (for a stack: per matrix)"""

    def forward(self, m: Any, a: Any, b: Any, beta: Any, alpha: Any) -> Any:
        _, need_a, need_b = self.needs_input_grad or (False, False, False)
        out = a @ b
        if alpha != 1:
            out *= alpha
        if beta != 0:  # β = 0 ignores M entirely: a nan or inf in it does not reach out
            out += m if beta == 1 else m * beta
        # Each factor is kept only for the other's gradient (see Mul).
        self.saved = (a if need_b else None, b if need_a else None)
        self.shape, self.beta, self.alpha = m.shape, beta, alpha
        return out

    def backward(self, grad: Any) -> tuple:
        a, b = self.saved
        need_m, need_a, need_b = self.needs_input_grad
        swap = backend.xp.swapaxes
        grad_m = unbroadcast(grad * self.beta, self.shape) if need_m else None
        scaled = grad * self.alpha if self.alpha != 1 else grad
        grad_a = scaled @ swap(b, -1, -2) if need_a else None
        grad_b = swap(a, -1, -2) @ scaled if need_b else None
        return grad_m, grad_a, grad_b


def bmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """A batch of matrix products: (b, n, m) · (b, m, p) → (b, n, p), without broadcasting.

    ```pycon
    >>> import chainrule as cr
    >>> cr.bmm(cr.ones(4, 2, 3), cr.ones(4, 3, 5)).shape
    chainrule.Size([4, 2, 5])

    ```
    """
    _check_product("bmm", input, mat2, batched=True)
    return MatMul.apply(input, mat2)


def addmm(
    input: Tensor,  # noqa: A002
    mat1: Tensor,
    mat2: Tensor,
    *,
    beta: float = 1,
    alpha: float = 1,
) -> Tensor:
    """β·input + α·(mat1 · mat2), for mat1 (n, m) and mat2 (m, p); input broadcasts to (n, p).
    With β = 0 the input is ignored (nan and inf in it included).

    ```pycon
    >>> import chainrule as cr
    >>> bias = cr.tensor([10.0])
    >>> cr.addmm(bias, cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0], [4.0]]), alpha=2).tolist()
    [[32.0]]

    ```
    """
    _check_product("addmm", mat1, mat2, batched=False)
    return _add_product("addmm", input, mat1, mat2, beta, alpha)


def baddbmm(
    input: Tensor,  # noqa: A002
    batch1: Tensor,
    batch2: Tensor,
    *,
    beta: float = 1,
    alpha: float = 1,
) -> Tensor:
    """β·input + α·bmm(batch1, batch2), for batch1 (b, n, m) and batch2 (b, m, p); input
    broadcasts to (b, n, p). With β = 0 the input is ignored (nan and inf in it included).

    ```pycon
    >>> import chainrule as cr
    >>> cr.baddbmm(cr.zeros(4, 2, 5), cr.ones(4, 2, 3), cr.ones(4, 3, 5))[0, 0, 0].item()
    3.0

    ```
    """
    _check_product("baddbmm", batch1, batch2, batched=True)
    return _add_product("baddbmm", input, batch1, batch2, beta, alpha)


def _add_product(op: str, input: Tensor, a: Tensor, b: Tensor, beta: Any, alpha: Any) -> Tensor:  # noqa: A002
    target = (*a.shape[:-1], b.shape[-1])
    shape = input.shape
    lead = len(target) - len(shape)
    if lead < 0 or any(n not in (1, target[lead + i]) for i, n in enumerate(shape)):
        raise OpError(
            f"{op}: input of shape {shape} does not broadcast to the product's shape {target}"
        )
    if input.dtype != a.dtype:
        raise TypeError(f"{op}: input has dtype {input.dtype}, but the matrices {a.dtype}")
    if a.dtype.kind in "iub":  # scaling integers: PyTorch truncates β and α to integers
        beta, alpha = int(beta), int(alpha)
    return AddMatMul.apply(input, a, b, beta=beta, alpha=alpha)


def _check_product(op: str, a: Tensor, b: Tensor, *, batched: bool) -> None:
    rank = 3 if batched else 2
    kind = "3-D stacks of matrices" if batched else "matrices"
    if a.ndim != rank or b.ndim != rank:
        raise OpError(f"{op}: expects two {kind}, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2] or (batched and a.shape[0] != b.shape[0]):
        raise OpError(f"{op}: shapes {a.shape} and {b.shape} cannot be multiplied")
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: the matrices must have one dtype, got {a.dtype} and {b.dtype}")


# ---- einsum ------------------------------------------------------------------------------------


class EinsumPlan(NamedTuple):
    """An einsum equation checked against the operands' shapes, in NumPy's spelling.

    Ellipsis dimensions get labels of their own, and axes of size 1 that broadcast against a
    larger size are squeezed out of their operand (``kept``: its shape without them), so that
    NumPy sees one size per label.
    """

    inputs: tuple[str, ...]
    output: str
    kept: tuple[tuple[int, ...], ...]
    sizes: dict[str, int]
    spare: str  # labels no operand uses, for the gradient's renaming


class Einsum(Function):
    """∂C/∂xₖ = einsum of ∂C/∂out with every other operand, into xₖ's labels

    A label repeated in xₖ (its diagonal, as in 'ii->i') is renamed in the gradient and tied
    to its original by an identity matrix; a label only xₖ has (summed in the forward) gets a
    vector of ones, which spreads the gradient along it.
    """

    copies = True  # a result that NumPy gives as a view of the operand is copied

    def forward(self, *arrays: Any, plan: EinsumPlan) -> Any:
        self.plan = plan
        self.shapes = tuple(x.shape for x in arrays)
        arrays = tuple(x.reshape(shape) for x, shape in zip(arrays, plan.kept))
        summed = set("".join(plan.inputs)) - set(plan.output)
        if len(arrays) == 1 and summed and arrays[0].dtype.kind in "biu":
            arrays = (arrays[0].astype("int64"),)  # an integer sum gives int64, as PyTorch's
        # Operand j is kept only for the gradients of the others (see Mul).
        needs = self.needs_input_grad or [False] * len(arrays)
        self.saved = tuple(
            x if any(need for k, need in enumerate(needs) if k != j) else None
            for j, x in enumerate(arrays)
        )
        if len(arrays) == 1 and plan.inputs[0] == plan.output:
            out = arrays[0][...]  # the identity; NumPy's einsum gives a 0-d operand as a scalar
        else:
            spec = _spec(plan.inputs, plan.output)
            out = backend.xp.einsum(spec, *arrays, optimize=len(arrays) > 1)
        if self.copies and len(arrays) == 1 and backend.xp.may_share_memory(out, arrays[0]):
            out = out.copy()
        return out

    def saved_in_graph(self, output: Tensor) -> tuple:
        # The saved operands are the inputs with broadcast axes squeezed: the inputs then.
        return tuple(
            None if kept is None else as_input(value, kept)
            for value, kept in zip(self.inputs, self.saved)
        )

    def backward(self, grad: Any) -> tuple:
        return tuple(
            self._grad_of(k, grad) if need else None for k, need in enumerate(self.needs_input_grad)
        )

    def _grad_of(self, k: int, grad: Any) -> Any:
        xp, plan = backend.xp, self.plan
        terms = [grad] + [x for j, x in enumerate(self.saved) if j != k]
        specs = [plan.output] + [s for j, s in enumerate(plan.inputs) if j != k]
        target, spare = [], iter(plan.spare)
        for label in plan.inputs[k]:
            if label in target:
                fresh = next(spare)
                terms.append(xp.eye(plan.sizes[label], dtype=grad.dtype))
                specs.append(label + fresh)
                label = fresh
            target.append(label)
        present = set("".join(specs))
        for label in dict.fromkeys(target):
            if label not in present:
                terms.append(xp.ones(plan.sizes[label], dtype=grad.dtype))
                specs.append(label)
        out = xp.einsum(_spec(specs, "".join(target)), *terms, optimize=len(terms) > 1)
        return out.reshape(self.shapes[k])  # the squeezed broadcast axes back, as size 1


class EinsumView(ViewFunction, Einsum):
    """An einsum of one operand that sums nothing (a transpose, a diagonal): as in PyTorch,
    its result is a view of the operand, which an in-place change of either updates."""

    copies = False


def _spec(inputs: Any, output: str) -> str:
    return ",".join(inputs) + "->" + output


def einsum(*args: Any) -> Tensor:
    """Sums of products over labelled axes, by an equation: ``einsum('ij,jk->ik', a, b)`` is
    a·b, ``'ii->'`` the trace, ``'...ij->...ji'`` a batched transpose.

    The operands may also come as one list (``einsum('ij,jk', [a, b])``) or in the sublist
    form (``einsum(a, [0, 1], b, [1, 2], [0, 2])``). Without ``->`` the output holds the
    ellipsis dimensions, then every label used once, in alphabetical order (A-Z before a-z).
    A label's size may be 1 in some operands: they broadcast.

    ```pycon
    >>> import chainrule as cr
    >>> cr.einsum("ii", cr.tensor([[1.0, 2.0], [3.0, 4.0]])).item()
    5.0

    ```
    """
    equation, operands = _einsum_arguments(args)
    for i, x in enumerate(operands):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum: operand {i} must be a tensor, got {type(x).__name__}")
    dtypes = {x.dtype for x in operands}
    if len(dtypes) > 1:
        found = ", ".join(str(x.dtype) for x in operands)
        raise TypeError(f"einsum: the operands must have one dtype, got {found}")
    plan = _plan(equation, [x.shape for x in operands])
    if len(operands) > 1 and operands[0].dtype.kind == "f":
        operands, plan = _reduce_alone(operands, plan)
    if len(operands) == 1 and set(plan.inputs[0]) == set(plan.output):
        return EinsumView.apply(operands[0], plan=plan)
    return Einsum.apply(*operands, plan=plan)


def _reduce_alone(operands: list[Tensor], plan: EinsumPlan) -> tuple[list, EinsumPlan]:
    """Each operand's diagonals taken and the labels only it has summed, before the operands
    meet, as PyTorch does: the contraction then saves these results for backward rather than
    the operands themselves, so an operand may change in place afterwards, as in PyTorch."""
    inputs, kept = list(plan.inputs), list(plan.kept)
    for k, term in enumerate(plan.inputs):
        elsewhere = set(plan.output).union(*(t for j, t in enumerate(plan.inputs) if j != k))
        labels = "".join(c for c in dict.fromkeys(term) if c in elsewhere)
        if labels == term:
            continue
        alone = plan._replace(inputs=(term,), output=labels, kept=(plan.kept[k],))
        op = EinsumView if set(labels) == set(term) else Einsum
        operands[k] = op.apply(operands[k], plan=alone)
        inputs[k], kept[k] = labels, tuple(plan.sizes[c] for c in labels)
    return operands, plan._replace(inputs=tuple(inputs), kept=tuple(kept))


def _einsum_arguments(args: tuple) -> tuple[str, list]:
    if not args:
        raise TypeError("einsum: expects an equation and operands")
    if isinstance(args[0], str):
        operands = list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
        return args[0], operands
    # Sublists of ints in [0, 52) and Ellipsis: 0-25 are A-Z and 26-51 a-z, so that the
    # implicit output keeps the numeric order.
    pairs, output = args[: len(args) // 2 * 2], args[len(args) // 2 * 2 :]

    def letters(sublist: Any) -> str:
        if any(s is not Ellipsis and not 0 <= int(s) < len(_LABELS) for s in sublist):
            raise OpError(f"einsum: sublist {sublist} has a subscript outside [0, 52)")
        return "".join("..." if s is Ellipsis else _LABELS[int(s)] for s in sublist)

    terms = ",".join(letters(pairs[i + 1]) for i in range(0, len(pairs), 2))
    equation = terms + ("->" + letters(output[0]) if output else "")
    return equation, list(pairs[0::2])


_LABELS = string.ascii_uppercase + string.ascii_lowercase


def _plan(equation: str, shapes: list[tuple[int, ...]]) -> EinsumPlan:
    equation = equation.replace(" ", "")
    left, arrow, right = equation.partition("->")
    terms = [_tokens(term, f"operand {i}") for i, term in enumerate(left.split(","))]
    if len(terms) != len(shapes):
        raise OpError(
            f"einsum: the equation '{equation}' names {len(terms)} operands, got {len(shapes)}"
        )
    used = set(left) | set(right)
    free = [c for c in _LABELS if c not in used]
    ellipsis_rank = 0
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term) - ("..." in term)
        if len(shape) < named or ("..." not in term and len(shape) != named):
            raise OpError(
                f"einsum: operand {i} has shape {shape}, but its subscripts "
                f"'{''.join(term)}' name {named} dimensions"
            )
        ellipsis_rank = max(ellipsis_rank, len(shape) - named)
    if ellipsis_rank > len(free):
        raise OpError(f"einsum: too many dimensions in the ellipsis ({ellipsis_rank})")
    dots, free = "".join(free[:ellipsis_rank]), "".join(free[ellipsis_rank:])
    labels = [_expand(term, len(shape), dots) for term, shape in zip(terms, shapes)]
    sizes = _label_sizes(labels, shapes)
    output = _output(arrow, right, labels, dots)
    inputs, kept = [], []
    for term, shape in zip(labels, shapes):
        keep = [a for a, (c, n) in enumerate(zip(term, shape)) if n == sizes[c] or n != 1]
        inputs.append("".join(term[a] for a in keep))
        kept.append(tuple(shape[a] for a in keep))
    spare_needed = max((len(t) - len(set(t)) for t in inputs), default=0)
    if spare_needed > len(free):
        raise OpError("einsum: too many labels in the equation")
    return EinsumPlan(tuple(inputs), output, tuple(kept), sizes, free)


def _tokens(term: str, where: str) -> list[str]:
    """The labels of one term's subscripts (``where``: which term), '...' as one token."""
    tokens, i = [], 0
    while i < len(term):
        if term.startswith("...", i):
            if "..." in tokens:
                raise OpError(f"einsum: {where} has more than one ellipsis")
            tokens.append("...")
            i += 3
            continue
        if term[i] not in _LABELS:
            raise OpError(
                f"einsum: invalid subscript {term[i]!r} in {where}: subscripts are "
                "letters a-z and A-Z, and '...'"
            )
        tokens.append(term[i])
        i += 1
    return tokens


def _expand(term: list[str], rank: int, dots: str) -> str:
    """The operand's labels, its ellipsis replaced by the last dimensions' labels of ``dots``."""
    if "..." not in term:
        return "".join(term)
    count = rank - (len(term) - 1)
    at = term.index("...")
    return "".join(term[:at]) + dots[len(dots) - count :] + "".join(term[at + 1 :])


def _label_sizes(labels: list[str], shapes: list[tuple[int, ...]]) -> dict[str, int]:
    """Each label's size: equal within an operand, equal or 1 (broadcast) across operands."""
    sizes: dict[str, int] = {}
    for i, (term, shape) in enumerate(zip(labels, shapes)):
        own: dict[str, int] = {}
        for c, n in zip(term, shape):
            if own.setdefault(c, n) != n:
                raise OpError(
                    f"einsum: subscript {c} is repeated in operand {i} (shape {shape}) with "
                    f"different sizes {own[c]} and {n}"
                )
            if sizes.get(c, 1) == 1:
                sizes[c] = n
            elif n not in (1, sizes[c]):
                raise OpError(
                    f"einsum: subscript {c} has size {n} in operand {i} (shape {shape}), "
                    f"which does not broadcast with size {sizes[c]} in an earlier operand"
                )
    return sizes


def _output(arrow: str, right: str, labels: list[str], dots: str) -> str:
    if not arrow:  # implicit: the ellipsis, then the labels used once, in order
        counts = "".join(labels)
        return dots + "".join(
            sorted(c for c in set(counts) if c not in dots and counts.count(c) == 1)
        )
    if "->" in right:
        raise OpError("einsum: the equation has more than one '->'")
    output = "".join(dots if t == "..." else t for t in _tokens(right, "the output"))
    for c in output:
        if output.count(c) > 1:
            raise OpError(f"einsum: output subscript {c} appears more than once")
        if not any(c in term for term in labels):
            raise OpError(f"einsum: output subscript {c} does not appear in any operand")
    return output
