"""The base class of every differentiable operation: a forward and its vector-Jacobian product.

An operation subclasses :class:`Function` and writes two methods side by side::

    class Exp(Function):
        '''d/dx exp(x) = exp(x)'''

        def forward(self, x):
            out = xp.exp(x)
            self.saved = (out,)
            return out

        def backward(self, grad):
            (out,) = self.saved
            return (grad * out,)

``forward`` receives arrays (and Python scalars or options) and returns one array; it keeps
what ``backward`` needs in ``self.saved`` (freed after the backward pass) and small options as
attributes. ``backward`` receives ∂C/∂out and returns ∂C/∂input for each forward input, or
``None`` where ``self.needs_input_grad`` says no gradient is wanted. Both are pure functions of
arrays: no global state, so the same code runs on NumPy and CuPy arrays.

The instance itself is the graph node: it remembers its ``inputs`` (tensors and constants) so
that the engine can walk backwards without knowing what any operation does.
"""

from __future__ import annotations

import numbers
import operator
import weakref
from typing import Any

import numpy as _numpy

from chainrule import backend
from chainrule.autograd.anomaly_mode import AnomalyMode
from chainrule.autograd.grad_mode import current_mode
from chainrule.autograd.versions import clock
from chainrule.tensor import Tensor

# Array types other than the active module's that an operation may return: another module's
# (a copy between devices). ``backend._modules`` itself, so that registering CuPy adds to it.
_arrays = backend.array_types


class _Freed(tuple):
    """Marks a node whose saved arrays were released by a backward pass."""


FREED = _Freed()

_new = object.__new__

# Set while ``chainrule.compile`` records a step (chainrule/compiled/recorder.py): it sees every
# operation that runs. None otherwise, which costs each operation one global lookup.
recorder: Any = None


class Function:
    """A differentiable operation and, once applied, the graph node that records it.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.autograd.function import Function
    >>> class Cube(Function):
    ...     def forward(self, x):
    ...         self.saved = (x,)
    ...         return x**3
    ...     def backward(self, grad):
    ...         (x,) = self.saved
    ...         return (3 * x**2 * grad,)
    >>> x = cr.tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).backward()
    >>> x.grad.tolist()
    [12.0]

    ```
    """

    saved: tuple = ()
    inputs: tuple = ()
    needs_input_grad: list = []  # noqa: RUF012 - replaced per node, never mutated
    # Scratch space of the engine's reverse walk: the search mark and the gradient summed so
    # far for this node's output.
    visit: object = None
    pending: Any = None
    # Set on the node of an in-place change: the tensor as it was before (autograd/engine.py).
    previous: Tensor | None = None
    # The public names of the leading positional inputs that must be tensors (or numbers), for
    # the message that refuses a string or an object there; later inputs are options.
    argument_names: tuple[str, ...] = ("input",)
    # The array module that ran forward, when not NumPy (a GPU's): backward runs in it too.
    module: Any = None
    # (view, input) pairs: the views forward got for inputs that share one array object with
    # an earlier input (see _separate_shared).
    aliases: tuple = ()
    # True where the derivative is piecewise constant in the inputs (ReLU, |x|, max pooling):
    # a backward recording a graph then ties the gradients it gives to the inputs that
    # require grad, with derivative 0 (chainrule.autograd.ties), so that a second derivative
    # is zeros and not "unused", as PyTorch's backward formulas for these operations give.
    ties_gradients: bool = False

    def forward(self, *args: Any, **options: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no forward")

    def backward(self, grad: Any) -> tuple:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        """Run ``forward`` on the arrays inside ``inputs``; record a node if a gradient is due."""
        if backend.on_devices and backend.xp is _numpy:
            module = _device_module(cls, inputs)
            if module is not None:
                return _apply_on_device(cls, module, inputs, options)
        node = _new(cls)
        mode = current_mode()
        if mode.grad:
            arrays = []
            needs = []
            for value in inputs:
                if isinstance(value, Tensor):
                    arrays.append(value.array)
                    needs.append(value._requires_grad)
                else:
                    arrays.append(value)
                    needs.append(False)
            # Set before forward, so that a forward saves only what the wanted gradients need
            # (an array nobody saved may then be changed in place, as in PyTorch).
            node.needs_input_grad = needs
            recorded = True in needs
            if recorded and len(arrays) > 1:
                _separate_shared(node, arrays, inputs)
        else:  # no graph: the arrays are all that forward needs
            arrays = [value.array if isinstance(value, Tensor) else value for value in inputs]
            recorded = False
        try:
            # Most operations take no options, and a call without ** is measurably cheaper.
            out = node.forward(*arrays, **options) if options else node.forward(*arrays)
        except (ValueError, IndexError, TypeError, AttributeError) as error:
            refused = _refused_input(cls, inputs, error)
            if refused is not None:  # a string or an object where a tensor goes: say just that
                raise refused from None
            raise _with_context(cls, inputs, error) from error
        if type(out) is not backend.ndarray and type(out) not in _arrays:
            scalar, out = out, backend.xp.asarray(out)
            for kept in node.saved:  # a loop, not any(): this runs for every scalar loss
                if kept is scalar:
                    # NumPy gives a scalar for a 0-d result: keep the array that the output
                    # holds instead, so that a backward recording a graph can tell the output.
                    node.saved = tuple(out if k is scalar else k for k in node.saved)
                    break
        if mode.anomaly:
            AnomalyMode.watch(node, inputs, out)
        # Tensor._make written out: this runs once per operation.
        result = _new(Tensor)
        result.array = out
        result._grad = None
        result._hooks = None
        if recorded:
            node.sequence_number = next(clock)
            node.inputs = inputs
            result._requires_grad = True
            result._ctx = node
        else:
            result._requires_grad = False
            result._ctx = None
        if recorder is not None:
            recorder.operation(node, inputs, options, result)
        return result

    def saved_in_graph(self, output: Tensor) -> Any:
        """``self.saved`` for a backward that records a graph (``create_graph=True``): each
        saved array that is an input's array becomes that input tensor, and the output's array
        the ``output`` tensor, so the backward's arithmetic reaches them. Integer and bool
        arrays (indices, masks) stay constants: nothing differentiates through them.

        An operation that saves a float array computed in its forward overrides this to
        rebuild that array from its input tensors with chainrule operations; until it does,
        the default raises rather than treat the array as a constant, which would drop a term
        of the second derivative.
        """
        return saved_as_tensors(self, self.saved, output)

    @classmethod
    def op_name(cls) -> str:
        """The operation's name in messages: ``Mul`` -> ``mul``."""
        return cls.__name__.lower()

    def name(self) -> str:
        """The node's name, as ``grad_fn.name()`` gives it in PyTorch: ``MulBackward``."""
        return f"{type(self).__name__}Backward"

    @property
    def next_functions(self) -> tuple:
        """The graph one step back, as PyTorch shows it: a ``(node, 0)`` pair for each tensor
        input, where the node is the input's ``grad_fn``, an :class:`AccumulateGrad` for a
        leaf that requires grad, and None for a tensor that does not.

        Built on demand from ``inputs``, so the reverse walk pays nothing for it; a backward
        without ``retain_graph`` releases the inputs, and with them this tuple.
        """
        born = self.sequence_number
        return tuple(
            (_graph_neighbour(value, born), 0) for value in self.inputs if isinstance(value, Tensor)
        )

    def __repr__(self) -> str:
        return f"<{self.name()}>"


def _separate_shared(node: Function, arrays: list, inputs: tuple) -> None:
    """Give forward a view (same memory) wherever two different inputs hold one array object:
    ``x * x.data``, two ``from_numpy`` of one array, ``nn.Parameter(t)`` beside ``t``.

    A backward that records a graph tells the saved arrays' inputs apart by the arrays'
    identity (:func:`saved_as_tensors`); with one object for a tensor that requires grad and
    a constant, the constant's saved array would be taken for the tensor, and the derivative
    of the derivative would gain a term that is not there. Each view is noted in
    ``node.aliases`` with its input. The same tensor twice (``x * x``) keeps its one array:
    both are x.
    """
    if len(arrays) == 2:  # most operations: one comparison, no dictionary
        first, second = arrays
        if first is second and inputs[0] is not inputs[1] and type(second) in _arrays:
            arrays[1] = second.view()
            node.aliases = ((arrays[1], inputs[1]),)
        return
    if len(arrays) == 3:  # Linear, addcmul, where: three comparisons, no dictionary
        first, second, third = arrays
        if first is not second and first is not third and second is not third:
            return
    seen: dict[int, int] = {}
    aliases = []
    for i, array in enumerate(arrays):
        if type(array) not in _arrays:
            continue
        j = seen.setdefault(id(array), i)
        if j != i and inputs[j] is not inputs[i]:
            arrays[i] = array.view()
            aliases.append((arrays[i], inputs[i]))
    if aliases:
        node.aliases = tuple(aliases)


def _device_module(cls: type, inputs: tuple) -> Any:
    """The array module of ``inputs``' arrays when they live on a GPU, None for the CPU.

    Tensors on two devices are an error, as in PyTorch, except a CPU tensor of one element,
    which PyTorch lets stand for a number. Plain NumPy arrays among the inputs are constants
    that chainrule's own functions made (indices, masks): they are copied to the GPU.
    """
    found = None
    host = None
    for value in inputs:
        if isinstance(value, Tensor):
            array = value.array
            if type(array) is _numpy.ndarray:
                if array.ndim > 0 and host is None:
                    host = value
                continue
            module = backend.module_of(array)
            if module is not _numpy:
                found = module
    if found is not None and host is not None:
        raise RuntimeError(
            f"{cls.op_name()}: Expected all tensors to be on the same device, but found at "
            f"least two devices, cuda:0 and cpu! (an input of shape {tuple(host.shape)} is on "
            "the CPU; move it with .to(device))"
        )
    return found


def _apply_on_device(cls: type, module: Any, inputs: tuple, options: dict) -> Tensor:
    """``cls.apply`` with ``module`` (CuPy's API) as the array module, host inputs moved."""
    moved = tuple(
        _to_module(value, module)
        if (isinstance(value, Tensor) and type(value.array) is _numpy.ndarray)
        or type(value) is _numpy.ndarray
        else value
        for value in inputs
    )
    previous = backend.use(module)
    try:
        result = cls.apply(*moved, **options)
    finally:
        backend.restore(previous)
    node = result._ctx
    if node is not None and node.module is None and type(node) is cls:
        node.module = module
    return result


def _to_module(value: Any, module: Any) -> Any:
    if isinstance(value, Tensor):
        # A one-element CPU tensor standing for a number: copied, and a gradient still reaches
        # it through the copy's own node.
        return (
            value.to("cuda")
            if value._requires_grad
            else Tensor._make(backend.transfer(value.array, module), False, None)
        )
    return backend.transfer(value, module)


def saved_as_tensors(node: Function, saved: Any, output: Tensor) -> Any:
    """``saved`` (a tuple, possibly nested, of arrays and options) with the arrays of ``node``'s
    input tensors and of its ``output`` replaced by those tensors (see
    :meth:`Function.saved_in_graph`)."""
    if isinstance(saved, (tuple, list)):
        return type(saved)(saved_as_tensors(node, value, output) for value in saved)
    if isinstance(saved, backend.xp.generic) and saved.dtype.kind in "fc":
        raise RuntimeError(
            f"create_graph: the backward of {type(node).__name__} uses a scalar computed in its "
            f"forward; {type(node).__name__} does not support differentiating its derivative yet"
        )
    if not isinstance(saved, backend.ndarray):
        return saved
    if saved is output.array:
        return output
    for view, value in node.aliases:  # an input whose array another input holds too
        if view is saved:
            return value if isinstance(value, Tensor) and value._requires_grad else saved
    for value in node.inputs:
        if value is saved:  # a constant array given as an operand
            return saved
        if isinstance(value, Tensor) and value.array is saved:
            return value if value._requires_grad else saved
    if saved.dtype.kind not in "fc":
        return saved
    for value in node.inputs:
        # An input converted to another dtype by promotion: the same values, cast again.
        if (
            isinstance(value, Tensor)
            and value.array.shape == saved.shape
            and value.array.dtype != saved.dtype
            and backend.xp.array_equal(value.array.astype(saved.dtype), saved, equal_nan=True)
        ):
            return value.to(saved.dtype) if value._requires_grad else saved
    raise RuntimeError(
        f"create_graph: the backward of {type(node).__name__} uses an array of shape "
        f"{saved.shape} computed in its forward, which is neither an input nor the output; "
        f"{type(node).__name__} does not support differentiating its derivative yet"
    )


class AccumulateGrad:
    """Where a path of the graph ends: the node that adds a leaf's gradient to its ``.grad``.

    ``variable`` is the leaf. One object stands for each leaf while the leaf lives (graph
    printers tell nodes apart by identity); it refers to the leaf only weakly.
    """

    __slots__ = ("__weakref__", "_variable")

    next_functions: tuple = ()

    def __init__(self, variable: Tensor) -> None:
        key = id(variable)
        # The leaf's death removes this node from the table, before its id can be reused.
        self._variable = weakref.ref(variable, lambda _: _accumulators.pop(key, None))

    @property
    def variable(self) -> Tensor | None:
        """The leaf tensor whose gradient this node accumulates."""
        return self._variable()

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


# id(leaf) -> its AccumulateGrad. Keyed by id: a WeakKeyDictionary would compare tensors
# with ==, which is element-wise for tensors.
_accumulators: dict[int, AccumulateGrad] = {}


def _graph_neighbour(value: Tensor, born: float) -> Any:
    """The node an input ``value`` of a node numbered ``born`` leads to, or None."""
    node = value._ctx
    while node is not None and node.sequence_number > born:
        value = node.previous  # changed in place since: the version the node used
        node = value._ctx
    if node is not None:
        return node
    if not value._requires_grad:
        return None
    accumulator = _accumulators.get(id(value))
    if accumulator is None:
        accumulator = _accumulators[id(value)] = AccumulateGrad(value)
    return accumulator


class OpError(ValueError):
    """A bad-input error that an operation raised with a message that already says where."""


class ArgumentTypeError(TypeError):
    """An argument of a type the operation does not take (a string where a tensor goes, a float
    for a dimension). A TypeError, as PyTorch raises; the operators of :class:`Tensor` turn it
    into ``NotImplemented``, so that Python reports the unsupported operand."""


def not_a_tensor(
    op: str, argument: str, value: Any, expected: str = "Tensor", element: int | None = None
) -> ArgumentTypeError:
    """The error for ``value`` given as ``argument`` of ``op`` where a tensor goes (or as its
    ``element``-th item): ``exp: argument 'input' must be Tensor, not numpy.ndarray; wrap it
    with chainrule.from_numpy(array)``."""
    hint = ""
    if isinstance(value, backend.ndarray):
        hint = "; wrap it with chainrule.from_numpy(array)"
    elif isinstance(value, (list, tuple, numbers.Number)) and expected == "Tensor":
        hint = "; make one with chainrule.tensor(...)"
    if element is not None:
        return ArgumentTypeError(
            f"{op}: expected Tensor as element {element} of argument '{argument}', but got "
            f"{type_name(value)}{hint}"
        )
    return ArgumentTypeError(
        f"{op}: argument '{argument}' must be {expected}, not {type_name(value)}{hint}"
    )


def as_index(value: Any, op: str, argument: str, expected: str = "int") -> int:
    """``value`` as an int, for a dimension or a size: Python and NumPy ints and 0-d integer
    tensors pass (anything with ``__index__``); bools, floats and strings do not, as in PyTorch."""
    if type(value) is int:
        return value
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise ArgumentTypeError(
        f"{op}: argument '{argument}' must be {expected}, not {type_name(value)}"
    )


def type_name(value: Any) -> str:
    """The name of ``value``'s type as PyTorch's messages give it: ``str``, ``numpy.ndarray``."""
    kind = type(value)
    if kind.__module__ == "builtins" or isinstance(value, Tensor):
        return kind.__name__
    # NumPy's classes live in private submodules (numpy._core.multiarray): name the package.
    return f"{kind.__module__.split('.')[0]}.{kind.__name__}"


def _refused_input(cls: type, inputs: tuple, error: Exception) -> ArgumentTypeError | None:
    """On a failed forward: the error naming the first tensor input that no array operation
    takes (a string, an object, a list), or None when the failure lies elsewhere.

    Only the inputs named in ``argument_names`` are looked at: the later ones are options
    (kernel sizes, index tuples). None counts where it is the input itself, or where the error
    is about None (a bias may be None)."""
    if isinstance(error, ArgumentTypeError):  # raised by forward, which knew the argument
        return error
    if not isinstance(error, (TypeError, AttributeError)):
        return None
    for position, (argument, value) in enumerate(zip(cls.argument_names, inputs)):
        if value is None and position > 0 and "NoneType" not in str(error):
            continue  # an optional input left out: the failure lies elsewhere
        if not _is_operand(value):
            return not_a_tensor(cls.op_name(), argument, value)
    return None


def _is_operand(value: Any) -> bool:
    """A tensor, a number or a numeric array: what the array operations take."""
    if isinstance(value, backend.ndarray):
        return value.dtype.kind in "biufc"
    return isinstance(value, (Tensor, numbers.Number))


def _with_context(cls: type, inputs: tuple, error: Exception) -> Exception:
    """Re-raise an array library's error with the operation's name and the input shapes."""
    if isinstance(error, OpError) or getattr(error, "_chainrule_context", False):
        return error
    shapes = ", ".join(_describe(value) for value in inputs)
    text, prefix = str(error), f"{cls.op_name()}: "
    # A message that names the operation already keeps its one name: "where: condition ..."
    message = f"{'' if text.startswith(prefix) else prefix}{text} (inputs: {shapes})"
    # Keep the error's own class where it can be built from a message (NumPy's AxisError can);
    # some NumPy errors need other constructor arguments, so fall back to the builtin base.
    try:
        wrapped = type(error)(message)
    except TypeError:
        base = next(k for k in (IndexError, ValueError, TypeError) if isinstance(error, k))
        wrapped = base(message)
    wrapped._chainrule_context = True  # type: ignore[attr-defined]
    return wrapped


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return str(tuple(value.shape))
    if hasattr(value, "shape"):
        return f"array of shape {tuple(value.shape)}"
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."
