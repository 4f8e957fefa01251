"""Anomaly detection: stop at the first operation whose result is NaN or infinite.

While detection is on, every operation remembers where in the user's code it was created (a
few frames of the call stack, leaving out chainrule's own), and

- forward: the first operation whose output holds NaN or ±inf raises :class:`AnomalyError`
  naming the operation, its inputs' shapes and dtypes, and the user's file, line and source;
- backward: the first node whose vector-Jacobian product holds NaN or ±inf raises, naming the
  operation, the shapes, and where its forward was created. Any other error raised by the
  backward of such a node gets that creation site added as a note.

This is PyTorch's ``torch.autograd.detect_anomaly`` extended to the forward pass::

    with detect_anomaly():
        loss = model(x).log().mean()  # AnomalyError: log produced -inf ... at train.py:12
        loss.backward()

Nodes created while detection is on are checked in backward whether or not it is still on.
With detection off, an operation pays one flag test.
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

import chainrule
from chainrule import backend
from chainrule.autograd.anomaly_mode import AnomalyMode
from chainrule.autograd.grad_mode import current_mode, restore_mode, set_mode
from chainrule.tensor import Tensor

F = TypeVar("F", bound=Callable[..., Any])

_PACKAGE_DIR = os.path.dirname(os.path.abspath(chainrule.__file__)) + os.sep
_FRAMES_KEPT = 4


class AnomalyError(RuntimeError):
    """NaN or infinity appeared in an operation's output or gradient; the message says which
    operation, on what inputs, and where in the user's code it was created.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([float("nan"), 1.0])
    >>> try:
    ...     with cr.autograd.detect_anomaly():
    ...         y = x + 1
    ... except AnomalyError:
    ...     print("caught")
    caught

    ```
    """


def is_anomaly_enabled() -> bool:
    """True while operations are watched in this thread (inside ``detect_anomaly`` or after
    enabling it).

    ```pycon
    >>> import chainrule as cr
    >>> with cr.autograd.detect_anomaly():
    ...     print(cr.inspect.is_anomaly_enabled())
    True

    ```
    """
    return current_mode().anomaly


def is_anomaly_check_nan_enabled() -> bool:
    """True while watched operations are also checked for NaN and infinity (in this thread)."""
    mode = current_mode()
    return mode.anomaly and mode.check_nan


def _set(enabled: bool, check_nan: bool) -> Any:
    AnomalyMode.watch = _watch
    return set_mode(anomaly=bool(enabled), check_nan=bool(check_nan))


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """Turn anomaly detection on inside a ``with`` block (or a decorated function), and restore
    the previous setting on exit. With ``check_nan=False`` only creation sites are recorded
    (they are added to errors raised in backward). Like the gradient mode, it is per thread.

    ```pycon
    >>> import chainrule as cr
    >>> with detect_anomaly():
    ...     print(cr.inspect.is_anomaly_enabled())
    True
    >>> cr.inspect.is_anomaly_enabled()
    False

    ```
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        self._tokens: list[Any] = []

    def __enter__(self) -> None:
        self._tokens.append(_set(True, self.check_nan))

    def __exit__(self, *exc_info: object) -> None:
        restore_mode(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class set_detect_anomaly:  # noqa: N801 - PyTorch's name
    """Turn anomaly detection on or off now, in this thread; used in a ``with`` block, the
    previous setting comes back on exit.

    ```pycon
    >>> import chainrule as cr
    >>> with cr.autograd.set_detect_anomaly(True):
    ...     print(cr.inspect.is_anomaly_enabled())
    True
    >>> cr.inspect.is_anomaly_enabled()
    False

    ```
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._token = _set(mode, check_nan)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        restore_mode(self._token)


# ---- what each operation does while detection is on --------------------------------------------


def _watch(node: Any, inputs: tuple, out: Any) -> None:
    """Record where ``node`` was created; check its output; make its backward check itself."""
    frames = _user_frames(sys._getframe(2))  # above this function and Function.apply
    node.created_at = frames
    check_nan = current_mode().check_nan
    if check_nan and not _is_finite(out):
        raise AnomalyError(_forward_message(node, inputs, out, frames))
    # An instance attribute shadows the class's backward for this node only: the engine calls
    # node.backward as always and knows nothing of anomaly mode. A weak reference: no cycle.
    node.backward = functools.partial(_checked_backward, weakref.ref(node), check_nan)


def _checked_backward(node_ref: weakref.ref, check_nan: bool, grad: Any) -> tuple:
    node = node_ref()
    try:
        input_grads = type(node).backward(node, grad)
    except Exception as error:
        if hasattr(error, "add_note"):  # Python 3.11+
            where = _format_frames(node.created_at)
            error.add_note(f"The forward of the failing {_name(node)} was created at:\n{where}")
        raise
    if check_nan:
        for index, input_grad in enumerate(input_grads):
            if input_grad is not None and not _is_finite(input_grad):
                raise AnomalyError(_backward_message(node, grad, index, input_grad))
    return input_grads


def _is_finite(array: Any) -> bool:
    if array.dtype.kind not in "fc":
        return True
    return bool(backend.xp.isfinite(array).all())


# ---- where: the user's frames ------------------------------------------------------------------


def _user_frames(frame: FrameType | None) -> list[tuple[str, int, str]]:
    """Up to a few (file, line, function) of the call stack outside chainrule, innermost first."""
    frames = []
    while frame is not None and len(frames) < _FRAMES_KEPT:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_DIR):
            frames.append((filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    return frames


def _format_frames(frames: list[tuple[str, int, str]]) -> str:
    """The frames as a traceback reads, most recent call last."""
    if not frames:
        return "  (no frame outside chainrule)"
    lines = []
    for filename, lineno, function in reversed(frames):
        lines.append(f'  File "{filename}", line {lineno}, in {function}')
        source = linecache.getline(filename, lineno).strip()
        if source:
            lines.append(f"    {source}")
    return "\n".join(lines)


def _site(frames: list[tuple[str, int, str]]) -> str:
    """The innermost user frame as ``file:line`` and its source line."""
    if not frames:
        return "an unknown place (no frame outside chainrule)"
    filename, lineno, _ = frames[0]
    source = linecache.getline(filename, lineno).strip()
    return f"{os.path.basename(filename)}:{lineno}" + (f": `{source}`" if source else "")


# ---- what: the messages ------------------------------------------------------------------------


def _name(node: Any) -> str:
    return type(node).op_name()


def _describe(value: Any) -> str:
    if isinstance(value, Tensor) or (hasattr(value, "shape") and hasattr(value, "dtype")):
        return f"shape {tuple(value.shape)} {value.dtype}"
    text = repr(value)
    return text if len(text) < 40 else text[:37] + "..."


def _kinds(array: Any) -> str:
    """Which non-finite values ``array`` holds, e.g. ``NaN and -inf``."""
    xp = backend.xp
    kinds = [
        name
        for name, present in (
            ("NaN", xp.isnan(array).any()),
            ("inf", xp.isposinf(array).any()),
            ("-inf", xp.isneginf(array).any()),
        )
        if present
    ]
    return " and ".join(kinds)


def _forward_message(node: Any, inputs: tuple, out: Any, frames: list) -> str:
    arrays = [v.array if isinstance(v, Tensor) else v for v in inputs]
    tensor_inputs = [a for a in arrays if hasattr(a, "dtype")]
    if all(_is_finite(a) for a in tensor_inputs):
        cause = "its inputs were finite, so this operation made the anomaly"
    else:
        cause = "an input already held NaN or inf (it came in with the data or a parameter)"
    inputs_text = ", ".join(_describe(v) for v in inputs)
    return (
        f"{_name(node)} produced {_kinds(out)} in its output of shape {tuple(out.shape)} "
        f"(inputs: {inputs_text}); {cause}. Created at {_site(frames)}\n"
        f"{_format_frames(frames)}"
    )


def _backward_message(node: Any, grad: Any, index: int, input_grad: Any) -> str:
    value = node.inputs[index] if index < len(node.inputs) else None
    shape = _describe(value) if value is not None else str(tuple(input_grad.shape))
    incoming = "finite" if _is_finite(grad) else f"already {_kinds(grad)}"
    frames = node.created_at
    return (
        f"backward of {_name(node)} returned {_kinds(input_grad)} in the gradient for its "
        f"input {index} ({shape}); the incoming gradient ∂C/∂out of shape {tuple(grad.shape)} "
        f"was {incoming}. The forward of this {_name(node)} was created at {_site(frames)}\n"
        f"{_format_frames(frames)}"
    )
