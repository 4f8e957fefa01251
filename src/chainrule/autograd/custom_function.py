"""Differentiable functions of one's own, with PyTorch's protocol: ``chainrule.autograd.Function``.

A subclass writes ``forward`` and ``backward`` as static methods on Tensors::

    class Exp(Function):
        '''d/dx exp(x) = exp(x)'''

        @staticmethod
        def forward(ctx, x):
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, grad_output):
            (out,) = ctx.saved_tensors
            return grad_output * out

    y = Exp.apply(x)

``forward`` runs with gradients off; ``backward`` receives one gradient per output of forward
and returns one per argument of forward (None for arguments that need none, such as numbers).
Both may use any chainrule operation. The newer style, a ``forward`` without ``ctx`` and a
``setup_context(ctx, inputs, output)``, works too.

The operations of :mod:`chainrule.ops` use a lower-level protocol on arrays
(:class:`chainrule.autograd.function.Function`); this one is built on it. ``apply`` records one
node of that protocol, a :class:`BackwardNode` (``y.grad_fn``, named ``ExpBackward``), whose
backward wraps the arrays the engine hands it in Tensors, calls the user's backward and checks
what comes back. A function with several differentiable outputs gets a small
:class:`OutputSlot` node per output: the engine hands each slot its output's gradient, and
the slots pass them all to the shared node, which the walk reaches after every slot (it is
numbered before them).
"""

from __future__ import annotations

import weakref
from typing import Any

from chainrule import backend
from chainrule.autograd import views
from chainrule.autograd.anomaly_mode import AnomalyMode
from chainrule.autograd.function import FREED
from chainrule.autograd.function import Function as OpFunction
from chainrule.autograd.grad_mode import current_mode, pause_grad, restore_mode
from chainrule.autograd.versions import clock, memory_root, note_write
from chainrule.ops.broadcast import unbroadcast
from chainrule.tensor import Tensor

_new = object.__new__


class FunctionCtx:
    """The ``ctx`` of a custom :class:`Function`: what forward leaves for backward.

    Besides the methods below, any attribute may be set on it (``ctx.scale = 2.0``); the
    function's node (``output.grad_fn``) shows those attributes too.

    ```pycon
    >>> import chainrule as cr
    >>> class Cube(cr.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x**3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x**2 * g
    >>> x = cr.tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad.tolist()
    [12.0]

    ```
    """

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._to_save: tuple = ()
        self._saved: list | None = []
        self._non_differentiable: list[Tensor] = []
        self._dirty: list[Tensor] = []
        self._node: Any = None

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep ``tensors`` (inputs, outputs or intermediates, or None) for backward, where
        ``ctx.saved_tensors`` gives them back; an in-place change made to one of them in the
        meantime makes backward refuse to run, as in PyTorch."""
        for position, value in enumerate(tensors):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"save_for_backward: argument {position} is a {type(value).__name__}; "
                    "only Tensors (or None) can be saved, keep other values as ctx attributes"
                )
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to :meth:`save_for_backward`, as backward should see them."""
        if self._saved is None:
            raise RuntimeError(
                "saved_tensors: the tensors saved by this function were freed by a backward "
                "pass; pass retain_graph=True to the first backward to go through the graph "
                "again or to read them afterwards"
            )
        if self._node is None:  # forward has not finished, or no graph was recorded
            return tuple(self._to_save)
        return tuple(_unpack(entry, self._node) for entry in self._saved)

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        """Outputs of forward that get no gradient: they do not require grad, and backward
        receives zeros for them (or None after ``set_materialize_grads(False)``)."""
        self._non_differentiable.extend(tensors)

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Inputs that forward changed in place and returns: the returned tensor is the input
        itself, whose history continues through this function."""
        self._dirty.extend(tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """With True (the default) backward receives zeros for outputs that got no gradient;
        with False it receives None for them."""
        self.materialize_grads = bool(value)


class _SavedOutput:
    """A saved output of forward, kept as its array and position: the output tensor itself
    refers to the node, which refers to this ctx, and a cycle would hold the graph."""

    __slots__ = ("array", "position")

    def __init__(self, array: Any, position: int) -> None:
        self.array, self.position = array, position


def _unpack(entry: Any, node_ref: weakref.ref) -> Any:
    if not isinstance(entry, _SavedOutput):
        return entry
    node = node_ref()
    grad_fn = node.grad_fn_of(entry.position) if node is not None else None
    return Tensor._make(entry.array, grad_fn is not None, grad_fn)


# ---- the graph nodes ---------------------------------------------------------------------------


class BackwardNode(OpFunction):
    """The graph node of one call of a custom Function (``output.grad_fn``).

    Each Function subclass gets its own subclass of this, named ``<Function>Backward``.
    ``inputs`` are the arguments of forward (keyword arguments last); ``output_meta`` holds the
    shape and dtype of each tensor output (None for other outputs), to make zero gradients.
    """

    function: type  # the user's Function subclass
    ctx: FunctionCtx
    output_meta: list
    # The differentiable outputs: with one, its position; with several, the grad_fn of each,
    # an OutputSlot, held weakly (each slot holds this node: no cycle to keep the graph alive).
    single: int | None
    slots: dict[int, weakref.ref]
    gradients: dict  # position -> (walk mark, array), filled by the output slots

    # ---- the engine's view: saved arrays, freed after backward ---------------------------------

    @property  # type: ignore[override]
    def saved(self) -> Any:
        saved = self.ctx._saved
        if saved is None:
            return FREED
        return tuple(entry.array for entry in saved if isinstance(entry, (Tensor, _SavedOutput)))

    @saved.setter
    def saved(self, value: Any) -> None:
        if value is FREED:
            self.ctx._saved = None
            return
        # An in-place change of a saved output hands back private copies of the saved arrays.
        arrays = iter(value)
        self.ctx._saved = [
            _with_array(entry, next(arrays)) if isinstance(entry, (Tensor, _SavedOutput)) else entry
            for entry in self.ctx._saved or []
        ]

    def backward(self, grad: Any) -> tuple:
        """Hand the output gradients, as Tensors, to the user's backward; check its answer."""
        grad_outputs = self._grad_outputs(grad)
        token = pause_grad()
        try:
            result = self.function.backward(self.ctx, *grad_outputs)
        finally:
            restore_mode(token)
        return self._input_gradients(result)

    def backward_in_graph(self, grad: Tensor) -> tuple:
        """The user's backward run with gradients on, for a backward that records a graph
        (``create_graph=True``): its operations on the saved tensors and the incoming
        gradients are recorded, so the result can be differentiated again, as in PyTorch."""
        from chainrule.autograd import graph_numpy
        from chainrule.autograd.grad_mode import enable_grad

        if self.single is not None:
            given = {self.single: grad}
        else:
            given = {i: g for i, (mark, g) in self.gradients.items() if mark is self.visit}
            self.gradients = {}
        grad_outputs = []
        for position, meta in enumerate(self.output_meta):
            g = given.get(position)
            if g is None and meta is not None and self.ctx.materialize_grads:
                g = backend.xp.zeros(meta[0], dtype=meta[1])
            if g is not None and not isinstance(g, Tensor):
                g = Tensor._make(backend.as_array(g), False, None)
            grad_outputs.append(g)
        with enable_grad():
            result = self.function.backward(self.ctx, *grad_outputs)
        if not isinstance(result, (tuple, list)):
            result = (result,)
        expected = len(self.inputs)
        result = tuple(result[:expected]) if len(result) > expected else tuple(result)
        if len(result) != expected or not all(g is None or isinstance(g, Tensor) for g in result):
            # The first-order checks word every mistake: run them on the arrays.
            self._input_gradients([g.array if isinstance(g, Tensor) else g for g in result])
        grads = []
        for position, (value, g) in enumerate(zip(self.inputs, result)):
            if g is None or not self.needs_input_grad[position]:
                grads.append(None)
            elif tuple(g.shape) != tuple(value.array.shape):
                _conformed(g.array, value.array.shape, position, self.name(), set())
                with graph_numpy.active(self.name()):
                    grads.append(unbroadcast(g, value.array.shape))
            else:
                grads.append(g)
        return tuple(grads)

    def _grad_outputs(self, grad: Any) -> list:
        if self.single is not None:
            arrays = {self.single: grad}
        else:
            # Only what the slots delivered in this walk: an earlier walk cut short by an
            # error may have left gradients behind.
            arrays = {i: g for i, (mark, g) in self.gradients.items() if mark is self.visit}
            self.gradients = {}
        grads = []
        for position, meta in enumerate(self.output_meta):
            array = arrays.get(position)
            if array is None and meta is not None and self.ctx.materialize_grads:
                shape, dtype = meta
                array = backend.xp.zeros(shape, dtype=dtype)
            grads.append(None if array is None else Tensor._make(array, False, None))
        return grads

    def _input_gradients(self, result: Any) -> tuple:
        name = self.name()
        if not isinstance(result, (tuple, list)):
            result = (result,)
        expected = len(self.inputs)
        if len(result) > expected and all(g is None for g in result[expected:]):
            result = result[:expected]
        if len(result) != expected:
            raise RuntimeError(
                f"{name}: backward returned {len(result)} gradient(s), but forward took "
                f"{expected} argument(s); return one per argument, None for those that "
                "need no gradient"
            )
        kept = self._user_memory()
        arrays = []
        for position, (value, grad) in enumerate(zip(self.inputs, result)):
            if grad is None or not self.needs_input_grad[position]:
                arrays.append(None)
                continue
            if not isinstance(grad, Tensor):
                raise RuntimeError(
                    f"{name}: backward returned a {type(grad).__name__} as the gradient of "
                    f"argument {position}; expected a Tensor or None"
                )
            arrays.append(_conformed(grad.array, value.array.shape, position, name, kept))
        return tuple(arrays)

    def _user_memory(self) -> set[int]:
        """Ids of the memory the user's tensors hold (inputs, saved tensors, ctx attributes):
        a gradient returned on such memory is copied, since the engine may add into it."""
        tensors = [value for value in self.inputs if isinstance(value, Tensor)]
        tensors += [value for value in vars(self.ctx).values() if isinstance(value, Tensor)]
        arrays = [t.array for t in tensors] + list(self.saved)
        return {id(memory_root(array)) for array in arrays}

    # ---- what PyTorch's grad_fn shows ---------------------------------------------------------

    def grad_fn_of(self, position: int) -> OpFunction | None:
        """The grad_fn of output ``position`` (None where it has none, or no longer lives)."""
        if position == self.single:
            return self
        slot = self.slots.get(position)
        return None if slot is None else slot()

    def name(self) -> str:
        return type(self).__name__

    def __getattr__(self, attribute: str) -> Any:
        # Attributes set on ctx in forward (``ctx.scale``) are read through the node too.
        ctx = self.__dict__.get("ctx")
        if ctx is None or attribute.startswith("__"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attribute!r}")
        try:
            return getattr(ctx, attribute)
        except AttributeError:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {attribute!r}"
            ) from None


def _with_array(entry: Any, array: Any) -> Any:
    if isinstance(entry, _SavedOutput):
        return _SavedOutput(array, entry.position)
    return Tensor._make(array, entry._requires_grad, entry._ctx)


def _conformed(grad: Any, shape: tuple, position: int, name: str, kept: set[int]) -> Any:
    """``grad`` summed to ``shape`` when ``shape`` broadcasts to it, as PyTorch accepts, in
    memory the engine may write into."""
    if grad.shape != shape:
        try:
            compatible = backend.xp.broadcast_shapes(shape, grad.shape) == grad.shape
        except ValueError:
            compatible = False
        if not compatible:
            raise RuntimeError(
                f"{name}: backward returned a gradient of shape {tuple(grad.shape)} for "
                f"argument {position}, which has shape {tuple(shape)}; the gradient must "
                "have the argument's shape"
            )
        grad = unbroadcast(grad, shape)
    if not backend.writeable(grad) or id(memory_root(grad)) in kept:
        grad = grad.copy()
    return grad


class OutputSlot(OpFunction):
    """The grad_fn of one output of a custom Function with several: it passes the output's
    gradient to the shared :class:`BackwardNode` (its only input is a hidden 0-d tensor made
    by that node) and shows that node's name, attributes and next functions."""

    hub: BackwardNode
    position: int

    def backward(self, grad: Any) -> tuple:
        self.hub.gradients[self.position] = (self.visit, grad)
        return (backend.xp.zeros((), dtype=self.inputs[0].array.dtype),)

    def name(self) -> str:
        return self.hub.name()

    @property
    def next_functions(self) -> tuple:
        return self.hub.next_functions

    def __getattr__(self, attribute: str) -> Any:
        hub = self.__dict__.get("hub")
        if hub is None or attribute.startswith("__"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attribute!r}")
        return getattr(hub, attribute)


# ---- the user's base class ---------------------------------------------------------------------


class Function:
    """Base class of a differentiable function with a forward and a backward of one's own.

    Subclasses define static methods ``forward(ctx, *args, **kwargs)`` (or ``forward(*args,
    **kwargs)`` with ``setup_context(ctx, inputs, output)``) and ``backward(ctx,
    *grad_outputs)``, and are called through ``apply``: ``y = MyFunction.apply(x, 2.0)``.
    See the module's docstring for an example.

    ```pycon
    >>> import chainrule as cr
    >>> class Double(cr.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         return 2 * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         return 2 * g
    >>> x = cr.tensor([1.0, 3.0], requires_grad=True)
    >>> Double.apply(x).sum().backward()
    >>> x.grad.tolist()
    [2.0, 2.0]

    ```
    """

    _node_class: type[BackwardNode] = BackwardNode

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "vjp" in cls.__dict__ and "backward" not in cls.__dict__:
            cls.backward = cls.__dict__["vjp"]  # PyTorch's other name for backward
        name = f"{cls.__name__}Backward"
        cls._node_class = type(name, (BackwardNode,), {"function": cls, "__qualname__": name})

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        """The function's value; runs with gradients off."""
        raise NotImplementedError("a custom Function must define a static method forward")

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output: Any) -> None:
        """With a ``forward`` that takes no ``ctx``: fill ``ctx`` from the inputs and output."""
        raise NotImplementedError("setup_context is not defined")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Tensor) -> Any:
        """∂C/∂argument for each argument of forward, given ∂C/∂output for each output."""
        raise NotImplementedError(
            "a custom Function must define a static method backward to be differentiated"
        )

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward on ``args``; record the node whose backward is this class's backward
        when grad mode is on and a Tensor argument requires grad."""
        inputs = args + tuple(kwargs.values())
        record = current_mode().grad and any(
            isinstance(value, Tensor) and value._requires_grad for value in inputs
        )
        ctx = FunctionCtx(
            tuple(record and isinstance(v, Tensor) and v._requires_grad for v in inputs)
        )
        token = pause_grad()
        try:
            if cls.setup_context is not Function.setup_context:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, inputs, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        finally:
            restore_mode(token)
        several = isinstance(output, (tuple, list))
        outputs = list(output) if several else [output]
        _check_dirty(cls, ctx, inputs, outputs, record)
        if record:
            outputs = _record(cls, ctx, inputs, outputs)
        if not several:
            return outputs[0]
        if hasattr(output, "_fields"):  # a named tuple
            return type(output)(*outputs)
        return type(output)(outputs)


def _check_dirty(cls: type, ctx: FunctionCtx, inputs: tuple, outputs: list, record: bool) -> None:
    for tensor in ctx._dirty:
        if not any(tensor is value for value in inputs):
            raise RuntimeError(
                f"{cls.__name__}: mark_dirty was given a tensor that is not an input"
            )
        if not any(tensor is value for value in outputs):
            raise RuntimeError(f"{cls.__name__}: a tensor marked dirty must be returned by forward")
        if record and tensor._ctx is None and tensor._requires_grad:
            raise RuntimeError(
                f"{cls.__name__}: a leaf tensor that requires grad was changed in place "
                "(mark_dirty); change a clone() of it, or the leaf under no_grad()"
            )
        if record and views.link_of(tensor) is not None:
            raise RuntimeError(
                f"{cls.__name__}: chainrule cannot record an in-place change of a view "
                "(mark_dirty); change a clone() of it instead"
            )
        note_write(tensor.array, cls.__name__)


def _record(cls: type, ctx: FunctionCtx, inputs: tuple, outputs: list) -> list:
    """Make the node of this call and give the differentiable outputs their grad_fn."""
    node = _new(cls._node_class)
    node.ctx = ctx
    node.needs_input_grad = ctx.needs_input_grad
    node.gradients = {}
    node.output_meta = [(o.shape, o.dtype) if isinstance(o, Tensor) else None for o in outputs]
    # A dirty input becomes an output with this node's history: the node's own input is the
    # tensor as it was (its old history), as for chainrule's in-place operations.
    before = {id(t): Tensor._make(t.array, t._requires_grad, t._ctx) for t in ctx._dirty}
    node.inputs = tuple(before.get(id(v), v) if isinstance(v, Tensor) else v for v in inputs)
    node.sequence_number = next(clock)
    if current_mode().anomaly and AnomalyMode.watch is not None:
        first = next((o for o in outputs if isinstance(o, Tensor)), None)
        AnomalyMode.watch(node, inputs, first.array if first is not None else None)

    excluded = ctx._non_differentiable
    differentiable = [
        position
        for position, value in enumerate(outputs)
        if isinstance(value, Tensor)
        and value.dtype.kind == "f"
        and not any(value is t for t in excluded)
    ]
    grad_fns = _output_nodes(node, differentiable)
    node.single = differentiable[0] if len(differentiable) == 1 else None
    node.slots = {} if node.single is not None else {p: weakref.ref(n) for p, n in grad_fns.items()}
    raw = list(outputs)
    for position, value in enumerate(outputs):
        if not isinstance(value, Tensor):
            continue
        grad_fn = grad_fns.get(position)
        if id(value) in before and grad_fn is not None:
            _rebase(value, grad_fn, before[id(value)])
        elif grad_fn is not None:
            outputs[position] = Tensor._make(value.array, True, grad_fn)
        elif value._requires_grad:  # an input handed back, marked non-differentiable
            outputs[position] = Tensor._make(value.array, False, None)
    ctx._saved = [_pack(t, raw) for t in ctx._to_save]
    ctx._to_save = ()
    ctx._node = weakref.ref(node)
    return outputs


def _output_nodes(node: BackwardNode, differentiable: list[int]) -> dict:
    if len(differentiable) <= 1:
        return dict.fromkeys(differentiable, node)
    hidden = Tensor._make(backend.xp.zeros(()), True, node)
    slots = {}
    for position in differentiable:
        slot = _new(OutputSlot)
        slot.hub, slot.position = node, position
        slot.inputs = (hidden,)
        slot.needs_input_grad = [True]
        slot.sequence_number = next(clock)
        slots[position] = slot
    return slots


def _rebase(tensor: Tensor, grad_fn: OpFunction, before: Tensor) -> None:
    grad_fn.previous = before
    tensor._ctx = grad_fn
    tensor._requires_grad = True


def _pack(tensor: Tensor | None, outputs: list) -> Any:
    for position, value in enumerate(outputs):
        if tensor is not None and tensor is value:
            return _SavedOutput(tensor.array, position)
    return tensor
