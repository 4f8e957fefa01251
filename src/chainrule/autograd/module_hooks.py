"""Hooks around one call of a module: forward pre-hooks, forward hooks and backward hooks.

A module with hooks keeps a :class:`ModuleHooks` and ``Module.__call__`` hands it the call;
a module without keeps ``None`` there and pays one ``is None`` test.

Backward hooks need the gradients with respect to the module's tensor inputs and outputs.
The call puts an identity operation on each of them (:class:`BackwardHookFunction`, PyTorch's
name), so that those gradients are the gradients of tensors in the graph, and watches them
with tensor hooks. All the identities on one side are made together, after every operation
that could send them a gradient (the outputs) or before every operation that could (the
inputs); so when the walk reaches the first of them, the gradients of all of them are
complete, and the module's hooks can see them together and replace them.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import current_mode
from chainrule.autograd.hooks import HookTable, RemovableHandle, hook_name
from chainrule.tensor import Tensor


class ModuleHooks:
    """The hooks registered on one module, by kind, each in the order they run."""

    def __init__(self) -> None:
        self.forward_pre = HookTable()  # values: (hook, with_kwargs)
        self.forward = HookTable()  # values: (hook, with_kwargs)
        self.backward = HookTable()
        self.backward_pre = HookTable()

    def add(self, kind: str, hook: Any, prepend: bool, with_kwargs: bool = False) -> Any:
        if not callable(hook):
            raise TypeError(f"register_{kind}_hook: expected a callable, got {type(hook)}")
        table = getattr(self, kind)
        entry = (hook, with_kwargs) if kind.startswith("forward") else hook
        return table.add(entry, prepend)

    def call(self, module: Any, args: tuple, kwargs: dict) -> Any:
        """Run ``module.forward(*args, **kwargs)`` with every hook in its place."""
        for hook, with_kwargs in list(self.forward_pre.values()):
            if with_kwargs:
                result = hook(module, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            f"forward pre-hook {hook_name(hook)!r} of {type(module).__name__} "
                            "registered with_kwargs=True must return None or (args, kwargs)"
                        )
                    args, kwargs = result
            else:
                result = hook(module, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        boundary = None
        if (self.backward or self.backward_pre) and current_mode().grad:
            boundary = _Boundary(module, list(self.backward.values()), self.backward_pre)
            args = boundary.wrap_inputs(args)
        output = module.forward(*args, **kwargs)
        for hook, with_kwargs in list(self.forward.values()):
            if with_kwargs:
                result = hook(module, args, kwargs, output)
            else:
                result = hook(module, args, output)
            if result is not None:
                output = result
        if boundary is not None:
            output = boundary.wrap_outputs(output)
        return output


class BackwardHookFunction(Function):
    """∂C/∂x = ∂C/∂out: the identity, marking a module's inputs and outputs in the graph."""

    def forward(self, x: Any) -> Any:
        return x

    def backward(self, grad: Any) -> tuple:
        return (grad,)


class _Boundary:
    """One call's identity nodes and the gradients seen at them during one backward pass.

    It keeps the identity nodes, not the tensors they made, and the output side's only weakly:
    those tensors' hooks refer to this object, and the graph leads from the outputs back to
    the inputs, so strong references would make a cycle that holds the graph until a GC pass.
    """

    def __init__(self, module: Any, hooks: list, pre_hooks: HookTable) -> None:
        self.module = module
        self.hooks = hooks
        self.pre_hooks = list(pre_hooks.values())
        self.inputs: tuple = ()
        self.input_nodes: tuple = ()
        self.output_refs: tuple = ()
        self.grad_output: tuple = ()
        # How many watched tensors of each side are still to be reached in this backward.
        self.inputs_left = 0
        self.outputs_left = 0

    # ---- forward: mark the tensors ---------------------------------------------------------------

    def wrap_inputs(self, args: tuple) -> tuple:
        self.inputs = args
        marked, self.input_nodes = _mark(args, self._on_input)
        return marked

    def wrap_outputs(self, output: Any) -> Any:
        several = isinstance(output, (tuple, list))
        marked, nodes = _mark(tuple(output) if several else (output,), self._on_output)
        self.output_refs = tuple(None if node is None else weakref.ref(node) for node in nodes)
        return type(output)(marked) if several else marked[0]

    # ---- backward: see the gradients -------------------------------------------------------------

    def _on_output(self, position: int, grad: Tensor) -> Tensor | None:
        if self.outputs_left:  # a later output of the same pass: its gradient was seen already
            self.outputs_left -= 1
            return None
        nodes = tuple(None if ref is None else ref() for ref in self.output_refs)
        grads = _gradients(nodes, position, grad, None)
        for hook in self.pre_hooks:
            result = hook(self.module, grads)
            if result is not None:
                grads = _check_replacement(hook, result, grads, "grad_output", self.module)
        self.grad_output = grads
        if not any(self.input_nodes):
            # No input wants a gradient: the hooks fire now, as PyTorch's do.
            grad_input = (None,) * len(self.inputs)
            for hook in self.hooks:
                result = hook(self.module, grad_input, grads)
                if result is not None and any(g is not None for g in result):
                    raise RuntimeError(
                        f"full backward hook {hook_name(hook)!r} of {type(self.module).__name__}: "
                        "no input of this call requires grad, so the hook must return None"
                    )
        self.outputs_left = _apply(nodes, position, grads)
        return grads[position]

    def _on_input(self, position: int, grad: Tensor) -> Tensor | None:
        if self.inputs_left:
            self.inputs_left -= 1
            return None
        grads = _gradients(self.input_nodes, position, grad, self.inputs)
        for hook in self.hooks:
            result = hook(self.module, grads, self.grad_output)
            if result is not None:
                grads = _check_replacement(hook, result, grads, "grad_input", self.module)
        self.inputs_left = _apply(self.input_nodes, position, grads)
        return grads[position]


def _mark(values: tuple, on_grad: Callable) -> tuple[tuple, tuple]:
    """Each tensor that requires grad replaced by its identity, watched by ``on_grad``; and the
    identity nodes (None where a value was left as it is)."""
    marked, nodes = [], []
    for position, value in enumerate(values):
        node = None
        if isinstance(value, Tensor) and value.requires_grad:
            value = BackwardHookFunction.apply(value)
            value.register_hook(functools.partial(on_grad, position))
            node = value._ctx
        marked.append(value)
        nodes.append(node)
    return tuple(marked), tuple(nodes)


def _gradients(nodes: tuple, position: int, grad: Tensor, inputs: tuple | None) -> tuple:
    """The gradients at all identity nodes of one side, read when the first is reached.

    The others' gradients are complete but still waiting on their node (the engine keeps a
    node's summed gradient in ``pending``). Where nothing arrived the entry is None, or, for
    a tensor among the ``inputs``, zeros (PyTorch materialises those).
    """
    grads: list[Tensor | None] = []
    for i, node in enumerate(nodes):
        if i == position:
            grads.append(grad)
        elif node is not None and node.pending is not None:
            # A copy: the hook may keep it, and the engine may later store the original as .grad.
            grads.append(Tensor._make(node.pending.copy(), False, None))
        elif inputs is not None and isinstance(inputs[i], Tensor):
            grads.append(Tensor._make(backend.xp.zeros_like(inputs[i].array), False, None))
        else:
            grads.append(None)
    return tuple(grads)


def _apply(nodes: tuple, position: int, grads: tuple) -> int:
    """Put the (possibly replaced) gradients back on the waiting identity nodes; return how
    many of those the walk will still reach."""
    waiting = 0
    for i, node in enumerate(nodes):
        if i != position and node is not None and node.pending is not None:
            new = grads[i]
            node.pending = None if new is None else new.array
            waiting += new is not None
    return waiting


def _check_replacement(hook: Any, result: Any, grads: tuple, what: str, module: Any) -> tuple:
    where = f"backward hook {hook_name(hook)!r} of {type(module).__name__}"
    if isinstance(result, Tensor):
        result = (result,)
    if not isinstance(result, (tuple, list)) or len(result) != len(grads):
        raise RuntimeError(
            f"{where}: returned {type(result).__name__} for {what}; expected None or a tuple "
            f"of {len(grads)} tensors or Nones"
        )
    for old, new in zip(grads, result):
        if new is not None and not isinstance(new, Tensor):
            raise TypeError(f"{where}: {what} entries must be Tensors or None, got {type(new)}")
        if new is not None and old is not None and new.shape != old.shape:
            raise RuntimeError(
                f"{where}: replaced a {what} entry of shape {tuple(old.shape)} with one of "
                f"shape {tuple(new.shape)}"
            )
    return tuple(result)


def register(module: Any, kind: str, hook: Any, prepend: bool, with_kwargs: bool) -> Any:
    """Add a hook of ``kind`` to ``module``, giving it a hook table on first use."""
    hooks = module.__dict__.get("_call_hooks")
    if hooks is None:
        hooks = ModuleHooks()
        object.__setattr__(module, "_call_hooks", hooks)
    handle: RemovableHandle = hooks.add(kind, hook, prepend, with_kwargs)
    return handle
