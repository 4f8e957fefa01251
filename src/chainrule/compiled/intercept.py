"""The entry points a recording watches besides operations and backward passes.

Operations and backward passes report themselves (``Function.apply`` and ``engine.backward``
look at ``chainrule.autograd.function.recorder``). The rest is watched only while a step is
recorded, by wrapping the methods below and restoring them afterwards, so that eager mode pays
nothing for it:

- ``Module.__call__``: module calls are the units a replay can run as a whole, eagerly, when
  what happens inside them cannot be put on the tape (compiled/recorder.py);
- ``step`` and ``zero_grad`` of every optimiser, ``zero_grad`` of modules, ``step`` of every
  learning-rate schedule, and assignments to ``tensor.grad``: they are replayed by calling them
  again, which reads the current learning rate and state;
- reads of a tensor's values (``item``, ``bool``, ``float``, ``numpy``...): Python code that
  looks at values may decide differently on the next step, which a replay would not notice;
- draws from the default random generator, which a replay must draw again, in order.

The wrappers act only for the thread that records and pass every other call straight through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule import random as chainrule_random
from chainrule.nn.module import Module
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.schedules.base import LRScheduler
from chainrule.tensor import Tensor

# Tensor methods that hand a tensor's values to Python code.
VALUE_READS = (
    "item",
    "tolist",
    "numpy",
    "__bool__",
    "__float__",
    "__int__",
    "__index__",
    "__array__",
)


class Interception:
    """A context manager: while inside, the entry points above report to ``recorder``, which
    must have ``watching()``, ``module_call``, ``whole_call``, ``value_read`` and
    ``random_draw``."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self._restore: list[tuple[type, str, Any]] = []
        self._generator: Any = None

    def __enter__(self) -> Interception:
        recorder = self.recorder
        self._patch(Module, "__call__", _module_call(recorder))
        for cls in _family(Optimizer):
            for name in ("step", "zero_grad"):
                if name in cls.__dict__:
                    self._patch(cls, name, _whole_call(recorder, cls.__dict__[name]))
        for cls in _family(LRScheduler):
            if "step" in cls.__dict__:
                self._patch(cls, "step", _whole_call(recorder, cls.__dict__["step"]))
        for cls in _family(Module):
            if "zero_grad" in cls.__dict__:
                self._patch(cls, "zero_grad", _whole_call(recorder, cls.__dict__["zero_grad"]))
        grad = Tensor.__dict__["grad"]
        self._patch(Tensor, "grad", property(grad.fget, _whole_call(recorder, grad.fset)))
        for name in VALUE_READS:
            self._patch(Tensor, name, _value_read(recorder, name, Tensor.__dict__[name]))
        self._generator = chainrule_random.DEFAULT.numpy
        chainrule_random.DEFAULT.numpy = WatchedGenerator(self._generator, recorder)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for cls, name, original in reversed(self._restore):
            setattr(cls, name, original)
        self._restore.clear()
        default = chainrule_random.DEFAULT
        if isinstance(default.numpy, WatchedGenerator):
            default.numpy = self._generator
        else:  # the step seeded the generator anew (manual_seed): that one stays
            self.recorder.reseeded()

    def _patch(self, cls: type, name: str, replacement: Callable[..., Any]) -> None:
        self._restore.append((cls, name, cls.__dict__[name]))
        setattr(cls, name, replacement)


def _family(cls: type) -> list[type]:
    """``cls`` and all its subclasses."""
    found, stack = [], [cls]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(current.__subclasses__())
    return found


def _module_call(recorder: Any) -> Callable[..., Any]:
    original = Module.__call__

    def call(self: Module, *args: Any, **kwargs: Any) -> Any:
        if not recorder.watching():
            return original(self, *args, **kwargs)
        return recorder.module_call(self, original, args, kwargs)

    call.__name__ = "__call__"
    return call


def _whole_call(recorder: Any, function: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not recorder.watching():
            return function(self, *args, **kwargs)
        return recorder.whole_call(function, self, args, kwargs)

    method.__name__ = function.__name__
    return method


def _value_read(recorder: Any, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        if recorder.watching():
            recorder.value_read(name)
        return function(self, *args, **kwargs)

    method.__name__ = name
    return method


class WatchedGenerator:
    """The default generator's NumPy generator, reporting each draw to the recorder."""

    def __init__(self, generator: Any, recorder: Any) -> None:
        self._generator, self._recorder = generator, recorder

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._generator, name)
        if name.startswith("_") or not callable(value) or name == "bit_generator":
            return value
        recorder = self._recorder

        def draw(*args: Any, **kwargs: Any) -> Any:
            if recorder.watching():
                recorder.random_draw(name)
            return value(*args, **kwargs)

        return draw
