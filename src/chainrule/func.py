"""Function transforms in the style of ``torch.func`` and JAX: a function in, a function out.

``grad(f)`` is the function x ↦ ∂f/∂x of a scalar function f; ``jacrev(f)`` the function
x ↦ ∂f/∂x of any f; ``hessian(f)`` is ``jacrev(jacrev(f))``; ``vjp(f, *primals)`` returns
f(primals) and the function v ↦ vᵀ ∂f/∂primals; ``jvp(f, primals, tangents)`` returns f and
∂f/∂primals · tangents (by the double-vjp trick). The transforms compose:
``grad(grad(f))(x)`` is f''(x) for a scalar function of a scalar.

How nesting works without levels: each transform differentiates with respect to private
copies of its arguments. A copy is a fresh leaf, or, where the argument itself requires grad
(an outer transform is differentiating with respect to it), a view of it that keeps the link.
The gradient with respect to the copy counts only the paths through the copy, so a function
that also uses the argument directly (a closure) is not confused. The backward pass records a
graph (``create_graph``) only where something outside the transform can still differentiate
the result: the output's graph reaches a tensor that requires grad other than the copies.

Arguments may be tensors or nests of tuples, lists and dicts of tensors (a parameter dict
from :func:`functional_call`, for instance); gradients come back in the same nests. An input
that the output does not depend on gets a zero gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chainrule.autograd.functional import _one_hot
from chainrule.autograd.grad_mode import enable_grad, is_grad_enabled
from chainrule.creation import ones_like as _ones_like
from chainrule.creation import zeros_like
from chainrule.tensor import Tensor

__all__ = [
    "functional_call",
    "grad",
    "grad_and_value",
    "hessian",
    "jacfwd",
    "jacrev",
    "jvp",
    "vjp",
]


# ---- nests of tensors ----------------------------------------------------------------------------


def _flatten(tree: Any) -> tuple[list, Any]:
    """(the leaves of ``tree`` in order, a description to rebuild it with :func:`_rebuild`)."""
    if isinstance(tree, (tuple, list)):
        leaves: list = []
        specs = []
        for item in tree:
            item_leaves, spec = _flatten(item)
            leaves += item_leaves
            specs.append((len(item_leaves), spec))
        return leaves, (type(tree), specs)
    if isinstance(tree, dict):
        leaves, spec = _flatten(list(tree.values()))
        return leaves, (dict, list(tree.keys()), spec)
    return [tree], None


def _rebuild(spec: Any, leaves: Sequence) -> Any:
    if spec is None:
        return leaves[0]
    if spec[0] is dict:
        _, keys, inner = spec
        return dict(zip(keys, _rebuild(inner, leaves)))
    kind, specs = spec
    items, start = [], 0
    for count, item_spec in specs:
        items.append(_rebuild(item_spec, leaves[start : start + count]))
        start += count
    return kind(items) if kind in (tuple, list) else kind(*items)


def _tensors(leaves: list, api: str, what: str) -> list[Tensor]:
    for leaf in leaves:
        if not isinstance(leaf, Tensor):
            raise TypeError(f"{api}: {what} must hold only Tensors, found a {type(leaf).__name__}")
    return leaves


# ---- the machinery shared by the transforms ------------------------------------------------------


def _argnums(argnums: int | tuple[int, ...], count: int, api: str) -> tuple[int, ...]:
    numbers = argnums if isinstance(argnums, tuple) else (argnums,)
    if not numbers:
        raise ValueError(f"{api}: argnums must not be empty")
    checked = []
    for number in numbers:
        if not isinstance(number, int) or isinstance(number, bool):
            raise TypeError(f"{api}: argnums must be an int or a tuple of ints, got {argnums!r}")
        if not -count <= number < count:
            raise ValueError(f"{api}: argnums={number}, but the function got {count} arguments")
        checked.append(number % count)
    if len(set(checked)) != len(checked):
        raise ValueError(f"{api}: argnums must not repeat, got {argnums!r}")
    return tuple(checked)


class _Scope:
    """One transform's private copies of the arguments it differentiates with respect to."""

    def __init__(self, args: tuple, argnums: tuple[int, ...], api: str) -> None:
        self.linked = is_grad_enabled()  # under no_grad, the results are cut from outside
        self.specs, self.copies = [], []
        args = list(args)
        for number in argnums:
            leaves, spec = _flatten(args[number])
            copies = [self._copy(t) for t in _tensors(leaves, api, f"argument {number}")]
            args[number] = _rebuild(spec, copies)
            self.specs.append(spec)
            self.copies.append(copies)
        self.args = tuple(args)
        self.flat = [c for copies in self.copies for c in copies]
        self.ids = {id(c) for c in self.flat}

    def _copy(self, value: Tensor) -> Tensor:
        if self.linked and value.requires_grad:
            return value.view_as(value)
        return value.detach().requires_grad_(True)

    def reaches_outside(self, outputs: Sequence[Tensor]) -> bool:
        """Whether the graph of ``outputs`` reaches a tensor that requires grad other than the
        copies: then something outside can still differentiate the results."""
        if not self.linked:
            return False
        seen: set = set()
        stack = [o for o in outputs if isinstance(o, Tensor) and o.requires_grad]
        while stack:
            tensor = stack.pop()
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            node = tensor.grad_fn
            if node is None:
                if id(tensor) not in self.ids:
                    return True
                continue
            if id(tensor) in self.ids:
                # a view of an argument that requires grad: outside by construction
                return True
            stack.extend(v for v in node.inputs if isinstance(v, Tensor) and v.requires_grad)
        return False

    def pull_back(
        self, outputs: Sequence[Tensor], cotangents: Sequence[Tensor], create_graph: bool
    ) -> list[Tensor]:
        """Σₖ cotangents[k]ᵀ ∂outputs[k]/∂copy for every copy (zeros where unused)."""
        return _pull_back(outputs, cotangents, self.flat, create_graph)

    def shaped(self, flat_grads: Sequence[Tensor], several: bool) -> Any:
        """Flat gradients regrouped as the differentiated arguments were given."""
        grouped, start = [], 0
        for spec, copies in zip(self.specs, self.copies):
            grouped.append(_rebuild(spec, flat_grads[start : start + len(copies)]))
            start += len(copies)
        return tuple(grouped) if several else grouped[0]


def _pull_back(
    outputs: Sequence[Tensor],
    cotangents: Sequence[Tensor],
    inputs: Sequence[Tensor],
    create_graph: bool,
) -> list[Tensor]:
    """Σₖ cotangents[k]ᵀ ∂outputs[k]/∂inputs[i] for every input, zeros where no output that
    requires grad depends on it. The graph is kept, so that it can be pulled back again."""
    from chainrule.autograd.gradients import grad as autograd_grad

    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    found: Sequence = (None,) * len(inputs)
    if pairs:
        found = autograd_grad(
            [o for o, _ in pairs],
            list(inputs),
            [c for _, c in pairs],
            retain_graph=True,
            create_graph=create_graph,
            allow_unused=True,
        )
    return [zeros_like(t) if g is None else g for g, t in zip(found, inputs)]


def _released(tree: Any, keep: bool) -> Any:
    """``tree`` with its tensors detached, unless ``keep`` (something outside differentiates)."""
    if keep:
        return tree
    leaves, spec = _flatten(tree)
    return _rebuild(spec, [t.detach() if isinstance(t, Tensor) else t for t in leaves])


def _split_aux(result: Any, has_aux: bool, api: str) -> tuple[Any, Any]:
    if not has_aux:
        return result, None
    if not (isinstance(result, tuple) and len(result) == 2):
        raise RuntimeError(f"{api}: with has_aux=True the function must return (output, aux)")
    return result


# ---- gradients of scalar functions ---------------------------------------------------------------


def grad_and_value(
    func: Callable[..., Any], argnums: int | tuple[int, ...] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """The function ``(*args) -> (∂func/∂args[argnums], func(*args))`` of a function that
    returns a 0-dim tensor; with ``has_aux``, func returns (output, aux) and the value is
    (output, aux). The gradient has the structure of the argument (a tuple of them for a
    tuple of argnums).

    ```pycon
    >>> import chainrule as cr
    >>> g, v = cr.func.grad_and_value(lambda x: (x**2).sum())(cr.tensor([1.0, 3.0]))
    >>> g.tolist(), v.item()
    ([2.0, 6.0], 10.0)

    ```
    """

    def transformed(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        numbers = _argnums(argnums, len(args), "grad")
        scope = _Scope(args, numbers, "grad")
        with enable_grad():
            output, aux = _split_aux(func(*scope.args, **kwargs), has_aux, "grad")
            if not isinstance(output, Tensor):
                raise TypeError(
                    f"grad: the function must return a Tensor, got {type(output).__name__}"
                )
            if output.ndim != 0:
                raise RuntimeError(
                    "grad: the function must return a 0-dim (scalar) Tensor, got shape "
                    f"{tuple(output.shape)}; use vjp or jacrev for other outputs"
                )
            keep = scope.reaches_outside([output])
            grads = scope.pull_back([output], [_ones_like(output)], create_graph=keep)
        gradient = scope.shaped(grads, isinstance(argnums, tuple))
        value = _released(output, keep)
        if has_aux:
            return gradient, (value, _released(aux, keep))
        return gradient, value

    return transformed


def grad(
    func: Callable[..., Any], argnums: int | tuple[int, ...] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """The function ``(*args) -> ∂func/∂args[argnums]`` of a function that returns a 0-dim
    tensor (with ``has_aux``: ``(gradient, aux)``). Composable: ``grad(grad(f))`` is f''.

    ```pycon
    >>> import chainrule as cr
    >>> f = lambda x: x**3
    >>> cr.func.grad(f)(cr.tensor(2.0)).item(), cr.func.grad(cr.func.grad(f))(cr.tensor(2.0)).item()
    (12.0, 12.0)

    ```
    """
    with_value = grad_and_value(func, argnums, has_aux)

    def transformed(*args: Any, **kwargs: Any) -> Any:
        gradient, value = with_value(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    return transformed


# ---- vector-jacobian and jacobian-vector products ------------------------------------------------


def vjp(func: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple:
    """(func(*primals), vjp_fn) where ``vjp_fn(cotangents)`` is the tuple of vᵀ ∂func/∂primals[i]
    for every primal, v = ``cotangents`` shaped like the output (the same nest of tensors).
    ``vjp_fn`` may be called many times. With ``has_aux``: (output, vjp_fn, aux).

    ```pycon
    >>> import chainrule as cr
    >>> out, vjp_fn = cr.func.vjp(lambda x: 3 * x, cr.tensor([1.0, 2.0]))
    >>> vjp_fn(cr.tensor([1.0, 0.5]))[0].tolist()
    [3.0, 1.5]

    ```
    """
    if not primals:
        raise ValueError("vjp: give at least one primal")
    scope = _Scope(primals, tuple(range(len(primals))), "vjp")
    with enable_grad():
        output, aux = _split_aux(func(*scope.args), has_aux, "vjp")
    out_leaves, out_spec = _flatten(output)
    _tensors(out_leaves, "vjp", "the function's output")
    keep = scope.reaches_outside(out_leaves)

    def vjp_fn(cotangents: Any) -> tuple:
        leaves, spec = _flatten(cotangents)
        _tensors(leaves, "vjp_fn", "cotangents")
        if spec != out_spec:
            raise RuntimeError(
                "vjp_fn: the cotangents must have the output's structure (the same nest of "
                "tuples, lists and dicts of tensors)"
            )
        for i, (v, out) in enumerate(zip(leaves, out_leaves)):
            if tuple(v.shape) != tuple(out.shape):
                raise RuntimeError(
                    f"vjp_fn: cotangent {i} has shape {tuple(v.shape)} but output {i} has "
                    f"shape {tuple(out.shape)}"
                )
        create_graph = keep or (scope.linked and any(v.requires_grad for v in leaves))
        with enable_grad():
            grads = scope.pull_back(out_leaves, leaves, create_graph)
        return scope.shaped(grads, several=True)

    result = (_released(output, keep), vjp_fn)
    return result + (_released(aux, keep),) if has_aux else result


def jvp(func: Callable[..., Any], primals: tuple, tangents: tuple, has_aux: bool = False) -> tuple:
    """(func(*primals), ∂func/∂primals · tangents), the tangents shaped like the primals.

    By the double-vjp trick: g(u) = uᵀ J is linear in the cotangent u, so the gradient of
    g(u) · tangents with respect to u is J · tangents. With ``has_aux``: (output, jvp, aux).

    ```pycon
    >>> import chainrule as cr
    >>> x, direction = cr.tensor([1.0, 2.0]), cr.tensor([1.0, 1.0])
    >>> out, change = cr.func.jvp(lambda t: t**2, (x,), (direction,))
    >>> change.tolist()
    [2.0, 4.0]

    ```
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples (one entry per argument)")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    scope = _Scope(tuple(primals), tuple(range(len(primals))), "jvp")
    directions, spec = _flatten(tuple(tangents))
    if spec != _flatten(tuple(primals))[1]:
        raise RuntimeError("jvp: the tangents must have the primals' structure")
    for i, (t, p) in enumerate(zip(_tensors(directions, "jvp", "tangents"), scope.flat)):
        if tuple(t.shape) != tuple(p.shape):
            raise RuntimeError(
                f"jvp: tangent {i} has shape {tuple(t.shape)} but its primal has shape "
                f"{tuple(p.shape)}"
            )
    with enable_grad():
        output, aux = _split_aux(func(*scope.args), has_aux, "jvp")
        out_leaves, out_spec = _flatten(output)
        _tensors(out_leaves, "jvp", "the function's output")
        keep = scope.reaches_outside(out_leaves) or (
            scope.linked and any(t.requires_grad for t in directions)
        )
        # u's value does not matter (g is linear in it): zeros, as leaves to differentiate by
        u = [zeros_like(out, requires_grad=True) for out in out_leaves]
        g = scope.pull_back(out_leaves, u, create_graph=True)
        changes = _pull_back(g, directions, u, create_graph=keep)
    result = (_released(output, keep), _rebuild(out_spec, changes))
    return result + (_released(aux, keep),) if has_aux else result


# ---- jacobians and hessians ----------------------------------------------------------------------


def jacrev(
    func: Callable[..., Any],
    argnums: int | tuple[int, ...] = 0,
    *,
    has_aux: bool = False,
    chunk_size: int | None = None,
) -> Callable[..., Any]:
    """The function ``(*args) -> ∂func/∂args[argnums]``, one backward pass per output element.

    For an output of shape (m...) and an argument of shape (n...), the jacobian has shape
    (m..., n...). A nest of outputs gives the same nest, each entry holding the jacobians
    with respect to the arguments (in the argument's structure; a tuple of them for a tuple
    of argnums). ``chunk_size`` is accepted and ignored (the rows are taken one at a time).
    With ``has_aux``: ``(jacobian, aux)``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.func.jacrev(lambda x: x * cr.tensor([2.0, 3.0]))(cr.tensor([1.0, 1.0])).tolist()
    [[2.0, 0.0], [0.0, 3.0]]

    ```
    """
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError(f"jacrev: chunk_size must be positive, got {chunk_size}")

    def transformed(*args: Any, **kwargs: Any) -> Any:
        from chainrule import stack, zeros

        numbers = _argnums(argnums, len(args), "jacrev")
        scope = _Scope(args, numbers, "jacrev")
        with enable_grad():
            output, aux = _split_aux(func(*scope.args, **kwargs), has_aux, "jacrev")
            out_leaves, out_spec = _flatten(output)
            _tensors(out_leaves, "jacrev", "the function's output")
            keep = scope.reaches_outside(out_leaves)
            blocks = []
            for out in out_leaves:
                rows = [
                    scope.pull_back([out], [_one_hot(out, k)], create_graph=keep)
                    for k in range(out.numel())
                ]
                per_arg = []
                for j, copy in enumerate(scope.flat):
                    shape = tuple(out.shape) + tuple(copy.shape)
                    if rows:
                        per_arg.append(stack([row[j].reshape(-1) for row in rows]).reshape(shape))
                    else:  # an empty output
                        per_arg.append(zeros(shape, dtype=copy.dtype))
                blocks.append(scope.shaped(per_arg, isinstance(argnums, tuple)))
        jacobian = _rebuild(out_spec, blocks)
        return (jacobian, _released(aux, keep)) if has_aux else jacobian

    return transformed


def jacfwd(
    func: Callable[..., Any],
    argnums: int | tuple[int, ...] = 0,
    has_aux: bool = False,
    *,
    randomness: str = "error",
) -> Callable[..., Any]:
    """Same jacobian as :func:`jacrev`, under ``torch.func.jacfwd``'s name: chainrule has no
    forward mode, so it is computed in reverse mode too (the values and the structure are the
    same; only the cost differs, one backward per output element). ``randomness`` is
    accepted for compatibility and ignored.

    ```pycon
    >>> import chainrule as cr
    >>> cr.func.jacfwd(lambda x: x.sum() * x)(cr.tensor([1.0, 2.0])).tolist()
    [[4.0, 1.0], [2.0, 5.0]]

    ```
    """
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """The function ``(*args) -> ∂²func/∂args[argnums]²``: ``jacrev(jacrev(func))``. For a
    scalar output and an argument of shape (n...), the Hessian has shape (n..., n...).

    ```pycon
    >>> import chainrule as cr
    >>> cr.func.hessian(lambda x: (x**3).sum())(cr.tensor([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]

    ```
    """
    return jacrev(jacrev(func, argnums), argnums)


# ---- calling a module with other parameters ------------------------------------------------------


def functional_call(
    module: Any,
    parameter_and_buffer_dicts: Mapping[str, Tensor] | Sequence[Mapping[str, Tensor]],
    args: Any = None,
    kwargs: Mapping[str, Any] | None = None,
    *,
    strict: bool = False,
) -> Any:
    """``module(*args, **kwargs)`` computed with the tensors of ``parameter_and_buffer_dicts``
    (dotted names, as in ``named_parameters()``) in place of the module's own parameters and
    buffers, which are put back afterwards. Differentiating the result with respect to those
    tensors gives per-model gradients and Hessians, e.g.
    ``hessian(lambda p: loss(functional_call(model, p, (x,)), y))(dict(model.named_parameters()))``.

    With ``strict`` every parameter and buffer must be given. A name that is not one of the
    module's parameters or buffers raises.

    ```pycon
    >>> import chainrule as cr
    >>> model = cr.nn.Linear(2, 1, bias=False)
    >>> w = {"weight": cr.tensor([[1.0, 2.0]])}
    >>> cr.func.functional_call(model, w, (cr.tensor([[3.0, 4.0]]),)).tolist()
    [[11.0]]

    ```
    """
    if isinstance(parameter_and_buffer_dicts, Mapping):
        replacements = dict(parameter_and_buffer_dicts)
    else:
        replacements = {}
        for mapping in parameter_and_buffer_dicts:
            for name, value in mapping.items():
                if name in replacements:
                    raise ValueError(f"functional_call: {name!r} is given twice")
                replacements[name] = value
    known = {name for name, _ in module.named_parameters()}
    known |= {name for name, _ in module.named_buffers()}
    unknown = sorted(set(replacements) - known)
    if unknown:
        raise ValueError(
            f"functional_call: {type(module).__name__} has no parameter or buffer named "
            f"{', '.join(map(repr, unknown))}"
        )
    if strict and set(replacements) != known:
        missing = ", ".join(map(repr, sorted(known - set(replacements))))
        raise ValueError(f"functional_call: strict=True, but these are not given: {missing}")
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    saved = [_swap(module, name, value) for name, value in replacements.items()]
    try:
        return module(*args, **(kwargs or {}))
    finally:
        for owner, registry, leaf, old in reversed(saved):
            registry[leaf] = old
            object.__setattr__(owner, leaf, old)


def _swap(module: Any, name: str, value: Tensor) -> tuple:
    """Put ``value`` where the parameter or buffer ``name`` is; return what undoes it."""
    if not isinstance(value, Tensor):
        raise TypeError(f"functional_call: {name!r} must be a Tensor, got {type(value).__name__}")
    *path, leaf = name.split(".")
    owner = module
    for part in path:
        owner = getattr(owner, part)
    registry = owner._parameters if leaf in owner._parameters else owner._buffers
    old = registry[leaf]
    if old is not None and tuple(old.shape) != tuple(value.shape):
        raise ValueError(
            f"functional_call: {name!r} has shape {tuple(old.shape)} but the given tensor has "
            f"shape {tuple(value.shape)}"
        )
    # Bypass Module.__setattr__: a plain tensor may stand where a Parameter is registered.
    registry[leaf] = value
    object.__setattr__(owner, leaf, value)
    return owner, registry, leaf, old
