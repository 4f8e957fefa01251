"""Derivatives of whole functions: ``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp``, ``vhp``.

PyTorch's ``torch.autograd.functional`` under the same names and with the same conventions.
Each takes a function ``func`` of one tensor or a tuple of tensors ``inputs`` and evaluates a
derivative of ``func`` there:

- ``vjp``: vᵀ J, one backward pass (J = ∂func/∂inputs, v shaped like the outputs);
- ``jvp``: J v, by the double-vjp trick: uᵀ J is linear in the cotangent u, so the gradient
  of (uᵀ J) · v with respect to u is J v (two backward passes, no forward mode needed);
- ``jacobian``: J itself, one backward pass per output element ("reverse-mode") or one
  double-vjp per input element ("forward-mode");
- ``hessian``: the jacobian of the gradient of a scalar function;
- ``vhp``/``hvp``: vᵀ H and H v for a scalar function, without forming H.

A single tensor in gives single results out; a tuple in gives tuples out (and a jacobian of a
tuple of outputs is a tuple, over outputs, of tuples over inputs). The inputs are detached
copies that require grad, so nothing is added to any ``.grad``; results carry a graph only with
``create_graph=True``. An input that an output does not depend on gets zeros, or raises with
``strict=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chainrule import backend
from chainrule.autograd.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from chainrule.creation import ones_like, zeros_like
from chainrule.tensor import Tensor

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]

_STRATEGIES = ("reverse-mode", "forward-mode")


# ---- arguments and results -----------------------------------------------------------------------


def _as_tuple(values: Any, what: str, api: str) -> tuple[bool, tuple[Tensor, ...]]:
    """(whether ``values`` was a tuple, its tensors as a tuple)."""
    is_tuple = isinstance(values, (tuple, list))
    values = tuple(values) if is_tuple else (values,)
    for i, value in enumerate(values):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{api}: {what} must be a Tensor or a tuple of Tensors, but entry {i} is a "
                f"{type(value).__name__}"
            )
    return is_tuple, values


def _private(values: tuple[Tensor, ...], create_graph: bool, need_graph: bool) -> tuple:
    """Copies of ``values`` to differentiate with respect to: detached (requiring grad when
    ``need_graph``), or, with ``create_graph``, still linked to a value that requires grad, so
    that the results can be differentiated with respect to it."""
    copies = []
    for value in values:
        if create_graph and value.requires_grad:
            copies.append(value.view_as(value))
        else:
            copies.append(value.detach().requires_grad_(need_graph))
    return tuple(copies)


def _released(values: tuple, create_graph: bool) -> tuple:
    if create_graph:
        return values
    return tuple(_released(v, False) if isinstance(v, tuple) else v.detach() for v in values)


def _shaped(values: tuple, is_tuple: bool | tuple[bool, bool]) -> Any:
    """``values`` as the caller gave its arguments: a tuple, or its only element."""
    if isinstance(is_tuple, tuple):  # (outputs were a tuple, inputs were a tuple)
        outer, inner = is_tuple
        values = tuple(_shaped(v, inner) for v in values)
        return values if outer else values[0]
    return values if is_tuple else values[0]


def _check_v(v: tuple[Tensor, ...], like: tuple[Tensor, ...], is_tuple: bool, api: str) -> None:
    if len(v) != len(like):
        raise RuntimeError(
            f"{api}: v holds {len(v)} tensors but there are {len(like)} "
            + ("outputs" if api in ("vjp",) else "inputs")
            + " to match"
        )
    for i, (el_v, el_like) in enumerate(zip(v, like)):
        if tuple(el_v.shape) != tuple(el_like.shape):
            where = f"entry {i} of v" if is_tuple else "v"
            raise RuntimeError(
                f"{api}: {where} has shape {tuple(el_v.shape)} but should have shape "
                f"{tuple(el_like.shape)}"
            )


def _v_or_one(v: Any, like: tuple[Tensor, ...], is_tuple: bool, create_graph: bool, api: str):
    """The vector ``v`` checked against ``like``; None only where ``like`` is one number."""
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise RuntimeError(
                f"{api}: v may be None only when {'the output' if api == 'vjp' else 'the input'}"
                " is a single Tensor with a single element; pass v"
            )
        return (ones_like(like[0]),)
    _, v = _as_tuple(v, "v", api)
    v = _private(v, create_graph, need_graph=False)
    _check_v(v, like, is_tuple, api)
    return v


def _strict_outputs(outputs: tuple[Tensor, ...], strict: bool, api: str) -> None:
    if not strict:
        return
    for i, output in enumerate(outputs):
        if not output.requires_grad:
            raise RuntimeError(
                f"{api}: output {i} of the function does not depend on any input in a "
                "differentiable way, which strict=True forbids"
            )


def _single_output(outputs: tuple[Tensor, ...], is_tuple: bool, api: str) -> Tensor:
    if is_tuple or len(outputs) != 1:
        raise RuntimeError(f"{api}: the function should return a single Tensor, not a tuple")
    if outputs[0].numel() != 1:
        raise RuntimeError(
            f"{api}: the function should return a single-element Tensor, got shape "
            f"{tuple(outputs[0].shape)}"
        )
    return outputs[0]


# ---- the vector-jacobian product that everything is built from -------------------------------


def _vjp(
    outputs: Sequence[Tensor | None],
    inputs: Sequence[Tensor],
    cotangents: Sequence[Tensor | None] | None,
    create_graph: bool,
    retain_graph: bool | None = None,
) -> tuple[Tensor | None, ...]:
    """Σₖ cotangents[k]ᵀ ∂outputs[k]/∂inputs[i] for each input; None where no output that
    requires grad depends on the input (outputs that are None or constant are skipped)."""
    from chainrule.autograd.gradients import grad

    if cotangents is None:
        cotangents = [None] * len(outputs)
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad(
        [o for o, _ in pairs],
        list(inputs),
        [c for _, c in pairs],
        retain_graph=retain_graph,
        create_graph=create_graph,
        allow_unused=True,
    )


def _zeros_for_none(
    grads: tuple, like: tuple[Tensor, ...], strict: bool, create_graph: bool, what: str
) -> tuple[Tensor, ...]:
    """``grads`` with zeros (shaped like ``like``) where they are None; with ``strict``, a
    missing gradient (or, with ``create_graph``, one without a graph) raises instead."""
    filled = []
    for i, (g, ref) in enumerate(zip(grads, like)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"{what} does not depend on entry {i}, which strict=True forbids"
                )
            g = zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(
                f"{what} with respect to entry {i} is constant, so it has no graph to return "
                "with create_graph=True; strict=True forbids that"
            )
        filled.append(g)
    return tuple(filled)


# ---- the public functions ------------------------------------------------------------------------


def vjp(
    func: Callable[..., Any],
    inputs: Tensor | tuple[Tensor, ...],
    v: Tensor | tuple[Tensor, ...] | None = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(func(inputs), vᵀ J): the vector-jacobian product, J = ∂func/∂inputs.

    ``v`` is shaped like the outputs (one tensor per output); it may be None only when the
    output has one element. The product has the inputs' shapes and structure.
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _private(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "the function's outputs", "vjp")
        _strict_outputs(outputs, strict, "vjp")
        v = _v_or_one(v, outputs, is_outputs_tuple, create_graph, "vjp")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _vjp(outputs, inputs, v, create_graph)
        grads = _zeros_for_none(grads, inputs, strict, create_graph, "vjp: the output")
    return (
        _shaped(_released(outputs, create_graph), is_outputs_tuple),
        _shaped(_released(grads, create_graph), is_inputs_tuple),
    )


def jvp(
    func: Callable[..., Any],
    inputs: Tensor | tuple[Tensor, ...],
    v: Tensor | tuple[Tensor, ...] | None = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(func(inputs), J v): the jacobian-vector product, J = ∂func/∂inputs.

    ``v`` is shaped like the inputs; it may be None only when the input has one element. The
    product has the outputs' shapes and structure. Computed by the double-vjp trick: g(u) =
    uᵀ J is linear in the cotangent u, so ∂(g(u) · v)/∂u = J v (two backward passes).
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _private(inputs, create_graph, need_graph=True)
        v = _v_or_one(v, inputs, is_inputs_tuple, create_graph, "jvp")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "the function's outputs", "jvp")
        _strict_outputs(outputs, strict, "jvp")
        # u's value does not matter (g is linear in it): zeros, as a leaf to differentiate by
        u = tuple(zeros_like(out, requires_grad=True) for out in outputs)
        g = _vjp(outputs, inputs, u, create_graph=True)
        if strict and any(el is None for el in g):
            i = next(i for i, el in enumerate(g) if el is None)
            raise RuntimeError(
                f"jvp: the outputs do not depend on input {i}, which strict=True forbids"
            )
    with set_grad_enabled(create_graph or is_grad_enabled()):
        products = _vjp(g, u, v, create_graph)
        products = _zeros_for_none(products, outputs, strict, create_graph, "jvp: J v")
    return (
        _shaped(_released(outputs, create_graph), is_outputs_tuple),
        _shaped(_released(products, create_graph), is_outputs_tuple),
    )


def jacobian(
    func: Callable[..., Any],
    inputs: Tensor | tuple[Tensor, ...],
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """``J[i][j]`` = ∂outputs[i]/∂inputs[j], of shape ``outputs[i].shape + inputs[j].shape``.

    One tensor for one output and one input; a tuple over inputs (or over outputs) where only
    the inputs (or only the outputs) are a tuple; a tuple over outputs of tuples over inputs
    where both are. ``strategy="reverse-mode"`` takes one backward pass per output element;
    ``"forward-mode"`` one double-vjp column per input element (cheaper when the inputs are
    fewer than the outputs), with or without ``vectorize`` and ``create_graph``.
    ``vectorize=True`` is accepted and runs the same loop (chainrule has no vmap): the results
    are identical, only not batched.
    """
    if strategy not in _STRATEGIES:
        raise ValueError(
            f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}"
        )
    if vectorize and strict:
        raise RuntimeError("jacobian: strict=True and vectorize=True are not supported together")
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _private(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "the function's outputs", "jacobian")
        _strict_outputs(outputs, strict, "jacobian")
        if strategy == "reverse-mode":
            jac = _jacobian_by_rows(outputs, inputs, create_graph, strict)
        else:
            jac = _jacobian_by_columns(outputs, inputs, create_graph, strict)
    return _shaped(_released(jac, create_graph), (is_outputs_tuple, is_inputs_tuple))


def _one_hot(like: Tensor, k: int) -> Tensor:
    """The k-th standard basis vector (in ``like``'s flattened order), shaped like ``like``."""
    basis = backend.xp.zeros(like.array.size, dtype=like.array.dtype)
    basis[k] = 1
    return Tensor._make(basis.reshape(like.array.shape), False, None)


def _entries(rows: list, out: Tensor, inp: Tensor, axis: int) -> Tensor:
    """Rows (or columns) of one block stacked into shape out.shape + inp.shape."""
    from chainrule import stack, zeros

    shape = tuple(out.shape) + tuple(inp.shape)
    if not rows:  # an empty output or input
        return zeros(shape, dtype=inp.dtype)
    return stack(rows, dim=axis).reshape(shape)


def _jacobian_by_rows(outputs: tuple, inputs: tuple, create_graph: bool, strict: bool) -> tuple:
    """One vjp per output element: row k of block (i, j) is e_kᵀ ∂outputs[i]/∂inputs[j]."""
    jac = []
    for i, out in enumerate(outputs):
        rows: list[list] = [[] for _ in inputs]
        for k in range(out.numel()):
            grads = _vjp((out,), inputs, (_one_hot(out, k),), create_graph, retain_graph=True)
            what = f"jacobian: output {i}"
            grads = _zeros_for_none(grads, inputs, strict, create_graph, what)
            for j, g in enumerate(grads):
                rows[j].append(g.reshape(-1))
        jac.append(tuple(_entries(rows[j], out, inp, 0) for j, inp in enumerate(inputs)))
    return tuple(jac)


def _jacobian_by_columns(outputs: tuple, inputs: tuple, create_graph: bool, strict: bool):
    """One double-vjp per input element: column m of block (i, j) is ∂outputs[i]/∂inputs[j]
    times e_m, the gradient of uᵀ J with respect to u in the direction e_m."""
    u = tuple(zeros_like(out, requires_grad=True) for out in outputs)
    g = _vjp(outputs, inputs, u, create_graph=True)
    columns: list[list[list]] = [[[] for _ in inputs] for _ in outputs]
    for j, inp in enumerate(inputs):
        if g[j] is None and strict:
            raise RuntimeError(
                f"jacobian: the outputs do not depend on input {j}, which strict=True forbids"
            )
        for m in range(inp.numel()):
            if g[j] is None:
                found = (None,) * len(outputs)
            else:
                found = _vjp((g[j],), u, (_one_hot(inp, m),), create_graph, retain_graph=True)
            what = f"jacobian: column {m} of input {j}"
            found = _zeros_for_none(found, outputs, strict, create_graph, what)
            for i, column in enumerate(found):
                columns[i][j].append(column.reshape(-1))
    return tuple(
        tuple(_entries(columns[i][j], out, inp, 1) for j, inp in enumerate(inputs))
        for i, out in enumerate(outputs)
    )


def hessian(
    func: Callable[..., Any],
    inputs: Tensor | tuple[Tensor, ...],
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
) -> Any:
    """``H[i][j]`` = ∂²func/∂inputs[i]∂inputs[j] of a function with one output element, of shape
    inputs[i].shape + inputs[j].shape: one tensor for one input, a tuple of tuples for a tuple.

    The jacobian (strategy ``outer_jacobian_strategy``) of the gradient, which is itself taken
    in reverse mode with ``create_graph``. ``vectorize`` runs the same loop (see
    :func:`jacobian`).
    """
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in _STRATEGIES:
        raise ValueError(
            "hessian: outer_jacobian_strategy must be 'reverse-mode' or 'forward-mode', got "
            f"{outer_jacobian_strategy!r}"
        )

    def scalar_func(*values: Tensor) -> Tensor:
        is_tuple, outputs = _as_tuple(func(*values), "the function's outputs", "hessian")
        _strict_outputs(outputs, strict, "hessian")
        return _single_output(outputs, is_tuple, "hessian").reshape(())

    def gradient(*values: Tensor) -> tuple[Tensor, ...]:
        grads = jacobian(scalar_func, values, create_graph=True)
        if strict:
            for i, g in enumerate(grads):
                if not g.requires_grad:
                    raise RuntimeError(
                        f"hessian: the gradient with respect to input {i} is constant (the "
                        "function is linear in it), which strict=True forbids"
                    )
        return grads

    hess = jacobian(
        gradient,
        inputs,
        create_graph=create_graph,
        strict=strict,
        vectorize=vectorize,
        strategy=outer_jacobian_strategy,
    )
    return hess if is_inputs_tuple else hess[0][0]


def _gradient_of_scalar(
    func: Callable[..., Any], inputs: Any, v: Any, create_graph: bool, strict: bool, api: str
) -> tuple:
    """The common start of vhp and hvp: (inputs, v, output, ∂output/∂inputs with a graph)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", api)
    inputs = _private(inputs, create_graph, need_graph=True)
    v = _v_or_one(v, inputs, is_inputs_tuple, create_graph, api)
    is_tuple, outputs = _as_tuple(func(*inputs), "the function's outputs", api)
    _strict_outputs(outputs, strict, api)
    output = _single_output(outputs, is_tuple, api)
    jac = _vjp((output,), inputs, None, create_graph=True)
    if strict:
        for i, g in enumerate(jac):
            if g is None or not g.requires_grad:
                raise RuntimeError(
                    f"{api}: the gradient with respect to input {i} is constant or missing (the "
                    "function is at most linear in it), which strict=True forbids"
                )
    return is_inputs_tuple, inputs, v, output, jac


def vhp(
    func: Callable[..., Any],
    inputs: Tensor | tuple[Tensor, ...],
    v: Tensor | tuple[Tensor, ...] | None = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Tensor, Any]:
    """(func(inputs), vᵀ H) for a function with one output element: the gradient of the
    gradient's dot product with ``v``. ``v`` and the product are shaped like the inputs."""
    with enable_grad():
        is_tuple, inputs, v, output, jac = _gradient_of_scalar(
            func, inputs, v, create_graph, strict, "vhp"
        )
    with set_grad_enabled(create_graph or is_grad_enabled()):
        product = _vjp(jac, inputs, v, create_graph)
        product = _zeros_for_none(product, inputs, strict, create_graph, "vhp: the gradient")
    return _released((output,), create_graph)[0], _shaped(
        _released(product, create_graph), is_tuple
    )


def hvp(
    func: Callable[..., Any],
    inputs: Tensor | tuple[Tensor, ...],
    v: Tensor | tuple[Tensor, ...] | None = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Tensor, Any]:
    """(func(inputs), H v) for a function with one output element; ``v`` and the product are
    shaped like the inputs. H v = (vᵀ Hᵀ)ᵀ is a jacobian-vector product of the gradient,
    taken by the double-vjp trick (one backward more than :func:`vhp`, which gives the same
    numbers wherever H is symmetric, i.e. for twice continuously differentiable functions)."""
    with enable_grad():
        is_tuple, inputs, v, output, jac = _gradient_of_scalar(
            func, inputs, v, create_graph, strict, "hvp"
        )
        u = tuple(zeros_like(t, requires_grad=True) for t in inputs)
        twice = _vjp(jac, inputs, u, create_graph=True)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        product = _vjp(twice, u, v, create_graph)
        product = _zeros_for_none(product, inputs, strict, create_graph, "hvp: the gradient")
    return _released((output,), create_graph)[0], _shaped(
        _released(product, create_graph), is_tuple
    )
