"""``chainrule.compile``: a step function recorded on its first calls and replayed after.

A :class:`CompiledStep` keeps one replay per kind of input: the shapes, dtypes and
``requires_grad`` of its tensors, its other arguments, and the gradient mode. The first call
of a kind runs the step eagerly and records it; the second runs it eagerly again and records it
once more, comparing with the first (compiled/recorder.py); if the two agree and everything the
step did could be put on the tape, the third and later calls run the replay
(compiled/program.py). A new kind of input records again; the last ``cache_size`` kinds are
kept (a smaller last batch of an epoch is a second kind, recorded once). Where a replay's guards
fail (a module switched to eval mode, a parameter frozen), the step is recorded anew, and a few
such variants of one kind are kept side by side; two recordings that differ are tried again
from the later one a few times before the kind is given up to eager mode.

A step that cannot be replayed runs eagerly on every call, with a warning (once per reason)
that says why; ``reasons`` holds them.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from chainrule import backend
from chainrule.autograd import function as function_module
from chainrule.autograd.grad_mode import current_mode
from chainrule.compiled import kernels as compiled_kernels
from chainrule.compiled.intercept import Interception
from chainrule.compiled.program import STALE, Program
from chainrule.compiled.recorder import First, Recorder
from chainrule.tensor import Tensor


def compile(  # noqa: A001 - PyTorch's name (torch.compile)
    step_fn: Callable[..., Any] | None = None,
    *,
    cache_size: int = 8,
    kernels: bool = False,
) -> Any:
    """``step_fn`` recorded on its first two calls and replayed on later ones: the same
    result, bit for bit, without tensors, graph nodes or a graph walk.

    ```pycon
    >>> import chainrule
    >>> from chainrule import nn, optim
    >>> _ = chainrule.manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    >>> loss_fn = nn.MSELoss()
    >>> optimizer = optim.SGD(model.parameters(), lr=0.1)
    >>> @chainrule.compile
    ... def step(x, y):
    ...     optimizer.zero_grad()
    ...     loss = loss_fn(model(x), y)
    ...     loss.backward()
    ...     optimizer.step()
    ...     return loss
    >>> x, y = chainrule.randn(16, 2), chainrule.randn(16, 1)
    >>> losses = [step(x, y).item() for _ in range(5)]  # eager, recorded, then 3 replays
    >>> losses[-1] < losses[0]
    True

    ```

    The replay runs the array operations the eager step ran: every operation's forward and
    backward, the gradients summed and stored as the engine did, and ``optimizer.step()``,
    ``optimizer.zero_grad()`` and ``scheduler.step()`` called again (so a changed learning rate
    is used). Random numbers are drawn anew, in the eager order. A module whose work is not all
    operations (Dropout and BatchNorm draw numbers or update buffers; CrossEntropyLoss with
    class weights or label smoothing weighs its targets) is called eagerly inside the replay.

    As in JAX and ``torch.compile``, the step's Python code runs only while recording: what it
    decides by values, by counters or by the time is fixed then. The first two calls are
    compared, and a step whose code decides differently, reads tensor values in Python
    (``item()``, ``if loss > 1``), changes tensors or gradients outside operations, sets an
    optimiser's learning rate itself, uses a ``chainrule.autograd.Function`` of its own or a
    tensor hook outside any module, or runs under anomaly detection, runs eagerly instead,
    with a warning that says why. Tensors from outside the step (parameters, buffers, tensors
    of the closure) are read anew on every call. A module switched to eval mode, given hooks,
    submodules or parameters, or a parameter frozen or converted, makes the step record again
    (one kind of input keeps a few such variants).

    A module (PyTorch's ``model = torch.compile(model)``) is returned as it is and runs
    eagerly, so that a ported script trains unchanged: compile its training step to replay it.

    The returned tensors carry no graph (their backward has run). ``cache_size`` kinds of
    input (shapes, dtypes, ``requires_grad``, other arguments, gradient mode) keep a replay.
    A call made while the replay runs (from another thread, or from inside the step) runs
    eagerly.

    ``kernels=True`` (it needs the ``numba`` package: ``pip install "chainrule[numba]"``) runs
    the operations of the usual layers (linear layers of up to 4,096 multiply-adds, sigmoid,
    tanh, ReLU, the squared error, cross-entropy against class indices) and the updates of
    plain SGD and of Adam and AdamW as machine code that numba compiles, one call per operation
    instead of a few NumPy passes, and a run of such operations (a small network's whole
    forward and backward pass) as one call. The results then agree with
    eager mode to a few units in the last place instead of bit for bit (sums run in another
    order, and ``exp``, ``log`` and ``tanh`` come from the C library); every other operation
    is replayed as without kernels.
    """
    if step_fn is None:
        return lambda fn: compile(fn, cache_size=cache_size, kernels=kernels)
    from chainrule.nn.module import Module

    if isinstance(step_fn, Module):
        # PyTorch's ``model = torch.compile(model)``: the model itself, run eagerly. A replay
        # of its forward alone would return outputs without a graph, so training would stop
        # at backward; what chainrule compiles is the whole step.
        return step_fn
    return CompiledStep(step_fn, cache_size, kernels=kernels)


# One recording at a time, in the whole process: recording wraps methods of library classes.
_RECORDING = threading.Lock()

# Replays kept for one kind of input (for the model in training and in eval mode, say), and
# the recordings that may differ from the one before before a kind runs eagerly for good.
VARIANTS = 4
RETRIES = 3


class _Kind:
    """What is known of one kind of input: the first recording of a variant (until the
    second), the replays, or the reason the step runs eagerly."""

    __slots__ = ("first", "mismatches", "programs", "reason")

    def __init__(self) -> None:
        self.first: First | None = None
        self.programs: list[Program] = []
        self.reason: str | None = None
        self.mismatches = 0


class CompiledStep:
    """``step_fn`` recorded on its first two calls for each kind of input and replayed after;
    see :func:`chainrule.compile`.

    ``recordings``, ``replays`` and ``eager_calls`` count the calls of each sort; ``reasons``
    lists why some kinds of input run eagerly (each also a warning, unless ``warn`` is false).
    """

    def __init__(
        self,
        step_fn: Callable[..., Any],
        cache_size: int = 8,
        *,
        warn: bool = True,
        kernels: bool = False,
    ) -> None:
        if not callable(step_fn):
            raise TypeError(f"chainrule.compile: expected a function, got {type(step_fn).__name__}")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"chainrule.compile: cache_size must be >= 1, got {cache_size!r}")
        if not isinstance(kernels, bool):
            raise TypeError(f"chainrule.compile: kernels must be True or False, got {kernels!r}")
        if kernels and not compiled_kernels.available():
            raise ImportError(
                "chainrule.compile(kernels=True) needs the optional package 'numba', which is "
                'not installed: pip install "chainrule[numba]"'
            )
        functools.update_wrapper(self, step_fn)
        self.kernels = kernels  # numba's kernels for the operations that have one
        self.step_fn = step_fn
        self.cache_size, self.warn = cache_size, warn
        self.recordings = self.replays = self.eager_calls = 0
        self.reasons: list[str] = []
        self._kinds: OrderedDict[Hashable, _Kind] = OrderedDict()
        # The replay that ran last, called straight with the arguments when they are tensors
        # only: it checks their kind itself (see Program), and the usual call skips the cache.
        self._last: Any = None
        self._last_count = -1
        # A replay's nodes hold one call's saved arrays: a call that finds a replay running
        # (in another thread, or from inside the step) runs eagerly instead.
        self._replaying = threading.Lock()

    def __repr__(self) -> str:
        name = getattr(self.step_fn, "__qualname__", repr(self.step_fn))
        return f"<chainrule.compile of {name}: {len(self._kinds)} kinds of input>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        replaying = self._replaying
        if not replaying.acquire(blocking=False):
            self.eager_calls += 1
            return self.step_fn(*args, **kwargs)
        try:
            if len(args) == self._last_count and not kwargs and function_module.recorder is None:
                result = self._last(*args)
                if result is not STALE:
                    self.replays += 1
                    return result
            return self._call(args, kwargs)
        finally:
            replaying.release()

    def _call(self, args: tuple, kwargs: dict) -> Any:
        inputs, key = _signature(args, kwargs)
        mode = current_mode()
        if key is None or mode.anomaly or function_module.recorder is not None:
            # Unhashable arguments, anomaly detection (which watches each operation), or a
            # compiled step called while another one records: plain eager mode.
            self.eager_calls += 1
            return self.step_fn(*args, **kwargs)
        key = (key, mode)
        kinds = self._kinds
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = _Kind()
            if len(kinds) > self.cache_size:
                kinds.popitem(last=False)
        else:
            kinds.move_to_end(key)
            for program in kind.programs:
                result = program.run(*inputs)
                if result is not STALE:
                    self.replays += 1
                    self._remember(program, args, kwargs)
                    return result
            if kind.reason is not None:
                self.eager_calls += 1
                return self.step_fn(*args, **kwargs)
        # New, or something every replay relied on has changed: record (again).
        return self._record(kind, inputs, args, kwargs)

    def _record(self, kind: _Kind, inputs: list, args: tuple, kwargs: dict) -> Any:
        if not _RECORDING.acquire(blocking=False):  # another thread records: be eager now
            self.eager_calls += 1
            return self.step_fn(*args, **kwargs)
        try:
            self.recordings += 1
            recorder = Recorder(inputs, kind.first)
            with Interception(recorder):
                function_module.recorder = recorder
                try:
                    result = self.step_fn(*args, **kwargs)
                finally:
                    function_module.recorder = None
        finally:
            _RECORDING.release()
        template = recorder.finish(result)
        if recorder.mismatch and kind.mismatches < RETRIES:
            kind.first = recorder.summary()  # the next call is compared with this one
            kind.mismatches += 1
        elif recorder.reasons:
            kind.first, kind.reason = None, recorder.reasons[0]
            self._explain(kind.reason)
        elif kind.first is None:
            kind.first = recorder.summary()
        else:
            kind.first = None
            program = Program(recorder, template, inputs, current_mode(), self.kernels)
            kind.programs.insert(0, program)
            del kind.programs[VARIANTS:]
            self._remember(program, args, kwargs)
        return result

    def _remember(self, program: Program, args: tuple, kwargs: dict) -> None:
        if program.checks_inputs and not kwargs and all(type(a) is Tensor for a in args):
            self._last, self._last_count = program.run, len(args)
        else:
            self._last, self._last_count = None, -1

    def _explain(self, reason: str) -> None:
        if reason in self.reasons:
            return
        self.reasons.append(reason)
        if not self.warn:
            return
        name = getattr(self.step_fn, "__qualname__", "the step")
        warnings.warn(
            f"chainrule.compile: {name} runs eagerly: {reason}", RuntimeWarning, stacklevel=4
        )

    def source(self) -> list[str]:
        """The text of every replay made so far (what the replay runs, for reading)."""
        return [program.source for kind in self._kinds.values() for program in kind.programs]


def _signature(args: tuple, kwargs: dict) -> tuple[list, Hashable | None]:
    """The step's tensors and arrays in order, and the key of their kind (None: unhashable)."""
    if not kwargs:  # the usual step(x, y) of distinct tensors: a flat key, without recursion
        key = []
        for value in args:
            if type(value) is not Tensor:
                break
            array = value.array
            # type(array): the device (NumPy's or a GPU's array), part of the kind.
            key.append((type(array), array.shape, array.dtype, value._requires_grad))
        else:
            if len({id(value) for value in args}) == len(args):
                return list(args), tuple(key)
    inputs: list = []
    try:
        key = (_key(args, inputs), _key(kwargs, inputs))
        hash(key)
    except TypeError:
        return inputs, None
    identities = [id(value) for value in inputs]
    if len(set(identities)) != len(identities):  # the same tensor twice: part of the kind
        key = (key, tuple(identities.index(i) for i in identities))
    return inputs, key


def _key(value: Any, inputs: list) -> Hashable:
    if isinstance(value, Tensor):
        inputs.append(value)
        array = value.array
        return (type(array), array.shape, array.dtype, value._requires_grad)
    if backend.is_array(value):
        inputs.append(value)
        return ("array", type(value), value.shape, value.dtype)
    if isinstance(value, (tuple, list)):
        return (type(value), tuple(_key(item, inputs) for item in value))
    if isinstance(value, dict):
        return (dict, tuple((k, _key(v, inputs)) for k, v in value.items()))
    return (type(value), value)
