"""Tensor: an n-dimensional array that remembers how it was computed.

A tensor wraps an array of the active array module (``.array``; ``.data`` is, as in PyTorch, a
detached tensor on the same memory). When it is the result of an
operation on tensors that require gradients, it points to that operation's graph node
(``.grad_fn``); ``backward()`` walks those nodes in reverse and leaves ∂C/∂x in the ``.grad``
of every leaf tensor that requires it.

The operations themselves live in :mod:`chainrule.ops`; the methods bound to this class at the
bottom of the file are thin names for them, with PyTorch's spelling.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy

from chainrule import backend, devices, dtypes, printing
from chainrule.autograd.hooks import RemovableHandle, TensorHooks
from chainrule.size import Size

# A Size from an array's shape, known to hold ints: tuple's constructor, skipping Size's checks.
_new_size = tuple.__new__


class Tensor:
    """An array with a gradient: ``array`` (the data), ``grad`` (a Tensor or None), and
    ``requires_grad``. Create tensors with :func:`chainrule.tensor` and friends.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.tolist()
    [2.0, 4.0]

    ```
    """

    # _hooks: None, or the TensorHooks (hooks, retain_grad) that the engine applies to the grad.
    # _view_link and _live_views are set only on views and on their bases (autograd/views.py);
    # the others are set on every tensor.
    __slots__ = (
        "__weakref__",
        "_ctx",
        "_grad",
        "_hooks",
        "_live_views",
        "_requires_grad",
        "_view_link",
        "array",
    )

    # NumPy must hand mixed expressions (ndarray + Tensor) to Tensor's reflected operators.
    __array_ufunc__ = None

    def __init__(self, *args: Any, requires_grad: bool = False, device: Any = None) -> None:
        """PyTorch's legacy constructor, for scripts that call it: ``Tensor([1, 2])`` copies
        data into the default float dtype, ``Tensor(2, 3)`` is an uninitialised 2×3 tensor
        (zeros here), ``Tensor()`` is empty, ``Tensor(t)`` shares ``t``'s memory and dtype.
        Prefer :func:`chainrule.tensor`, which infers the dtype.

        An array (NumPy, or the backend's) keeps its dtype and its memory, unlike PyTorch,
        which converts it to the default float dtype: chainrule's own code wraps arrays so.
        """
        devices.check(device, "Tensor")
        data = args[0] if len(args) == 1 else None
        if isinstance(data, Tensor):
            array = data.array
        elif isinstance(data, (numpy.ndarray, numpy.generic)) or backend.is_array(data):
            array = backend.as_array(data)
        else:
            array = _legacy.legacy_array(args, dtypes.get_default_dtype(), "Tensor")
        dtypes.check_dtype(array.dtype, "Tensor")
        self.array = array
        self._grad: Tensor | None = None
        self._ctx = None
        self._hooks = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, data: Any, requires_grad: bool, ctx: Any) -> Tensor:
        """Wrap an array without checks: the fast path for operation results."""
        out = object.__new__(cls)
        out.array = data
        out._grad = None
        out._requires_grad = requires_grad
        out._ctx = ctx
        out._hooks = None
        return out

    # ---- gradient bookkeeping -----------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor record a graph and ``backward`` fills its grad."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self._ctx is not None and not flag:
            raise RuntimeError(
                "requires_grad: only leaf tensors can stop requiring grad; use .detach() to get "
                "a tensor outside the graph"
            )
        if flag and not dtypes.is_floating(self.array.dtype):
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients, this one is "
                f"{self.array.dtype}; convert it first, e.g. t.float()"
            )
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return the tensor."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self) -> Tensor | None:
        """∂C/∂self accumulated by ``backward`` (leaves, and tensors that ``retain_grad()``)."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is None:
            self._grad = None
            return
        if not isinstance(value, Tensor):
            raise TypeError(f"grad: expected a Tensor or None, got {type(value).__name__}")
        if value.shape != self.shape:
            raise ValueError(
                f"grad: assigned gradient has shape {value.shape} but the tensor has shape "
                f"{self.shape}"
            )
        self._grad = value

    @property
    def grad_fn(self) -> Any:
        """The graph node of the operation that produced this tensor (None for a leaf)."""
        return self._ctx

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by a recorded operation."""
        return self._ctx is None

    def retain_grad(self) -> None:
        """Keep ∂C/∂self in ``.grad`` during backward even though this is not a leaf.

        The gradient kept is the one after this tensor's hooks have run (as in PyTorch).
        """
        if self._ctx is not None:
            self._hook_table().retains_grad = True

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor whose ``.grad`` backward fills (see ``retain_grad``)."""
        return self._hooks is not None and self._hooks.retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` each time backward has computed ∂C/∂self in full.

        For a leaf the hook runs before the gradient is added to ``.grad``; for a non-leaf it
        runs before the gradient flows on into the operation that made this tensor. A returned
        tensor (same shape and dtype) replaces the gradient; ``None`` keeps it. Hooks run in
        the order they were registered. Returns a handle whose ``remove()`` unregisters it.

        ```pycon
        >>> import chainrule
        >>> w = chainrule.tensor([1.0, 2.0], requires_grad=True)
        >>> handle = w.register_hook(lambda grad: grad * 2)
        >>> (3 * w).sum().backward()
        >>> w.grad  # ∂C/∂w = 3, doubled by the hook
        tensor([6., 6.])
        >>> handle.remove()

        ```
        """
        if not self._requires_grad:
            raise RuntimeError(
                "register_hook: cannot register a hook on a tensor that doesn't require gradient"
            )
        return self._hook_table().add(hook)

    def _hook_table(self) -> TensorHooks:
        if self._hooks is None:
            self._hooks = TensorHooks()
        return self._hooks

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Any = None,
    ) -> None:
        """Accumulate ∂self/∂leaf, weighted by ``gradient``, into every leaf's ``.grad``.

        ``gradient`` (∂C/∂self) may be omitted for a single-element tensor, where it is 1.
        The graph's saved arrays are freed afterwards unless ``retain_graph`` is true (it
        defaults to ``create_graph``). With ``create_graph`` the backward pass records a graph
        of its own, so each ``.grad`` can be differentiated again; with ``inputs``, only those
        tensors' ``.grad`` is filled.
        """
        if create_graph or inputs is not None:
            from chainrule.autograd import gradients

            gradients.backward(
                [self], None if gradient is None else [gradient], retain_graph, create_graph, inputs
            )
            return
        _engine.backward(self, gradient, bool(retain_graph))

    # ---- new tensors with this one's dtype (PyTorch's new_* methods) ---------------------------

    def new_zeros(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """Zeros of ``size``, with this tensor's dtype unless ``dtype`` is given."""
        return _creation().zeros(
            *size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad
        )

    def new_ones(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """Ones of ``size``, with this tensor's dtype unless ``dtype`` is given."""
        return _creation().ones(
            *size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad
        )

    def new_empty(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """An uninitialised tensor of ``size``, with this tensor's dtype by default."""
        return _creation().empty(
            *size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad
        )

    def new_full(
        self,
        size: Any,
        fill_value: Any,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """``size`` filled with ``fill_value``, with this tensor's dtype by default."""
        return _creation().full(
            size, fill_value, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad
        )

    def new_tensor(
        self, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """A copy of ``data`` with this tensor's dtype by default."""
        return _creation().tensor(
            data, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad
        )

    def detach(self) -> Tensor:
        """The same data (shared, not copied) outside the graph."""
        # A view, not the array itself: the same memory (and so the same versions), but an
        # array object of its own, so that an operation given both x and x.detach() can tell
        # which of the two each saved array came from (a backward recording a graph maps the
        # saved arrays back to the input tensors by identity).
        return Tensor._make(self.array.view(), False, None)

    def detach_(self) -> Tensor:
        """Make this tensor a leaf outside the graph, in place, and return it."""
        if self._ctx is not None and getattr(self, "_view_link", None) is not None:
            raise RuntimeError(
                "detach_(): cannot detach a view in place; use .detach() for a new tensor"
            )
        self._ctx = None
        self._requires_grad = False
        return self

    @property
    def data(self) -> Tensor:
        """PyTorch's ``.data``: a tensor on the same memory, outside the graph, that never
        requires grad. ``p.data.add_(...)`` and ``p.grad.data.zero_()`` change ``p`` itself."""
        return Tensor._make(self.array, False, None)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(
                f"data: assigned data must be a Tensor, got {type(value).__name__}; wrap an "
                "array with chainrule.tensor(...) first"
            )
        self.array = value.array

    # ---- array facts ---------------------------------------------------------------------------

    @property
    def shape(self) -> Size:
        """The size of each dimension, as a :class:`~chainrule.size.Size` (a tuple)."""
        return _new_size(Size, self.array.shape)

    @property
    def dtype(self) -> numpy.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def device(self) -> devices.device:
        """Where the data lives: ``device(type='cpu')`` for a NumPy array, ``device(type='cuda',
        index=0)`` for a CuPy one. It equals the string that names it (``"cpu"``) too."""
        if type(self.array) is numpy.ndarray:
            return devices.CPU
        return devices.of_array(self.array)

    @property
    def is_cuda(self) -> bool:
        """Whether the data is on a CUDA GPU (never, on the NumPy backend)."""
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self.device.type == "cpu"

    def get_device(self) -> int:
        """The index of the GPU holding the data, or -1 for the CPU (as PyTorch)."""
        index = self.device.index
        return -1 if index is None else index

    def cpu(self, memory_format: Any = None) -> Tensor:
        """The tensor on the CPU: itself if it is there, else a copy (in the graph: the
        gradient goes back to the GPU)."""
        return self.to("cpu")

    def cuda(self, device: Any = None, non_blocking: bool = False, **kwargs: Any) -> Tensor:
        """The tensor on the CUDA GPU (through CuPy): itself if it is there, else a copy that
        stays in the graph. Without CuPy, an error that says how to install it."""
        return self.to(devices.check(devices.cuda_device(device), "cuda"))

    def dim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None) -> Any:
        """The shape as a :class:`~chainrule.size.Size`, or its length along ``dim``."""
        return _new_size(Size, self.array.shape) if dim is None else self.array.shape[dim]

    def numel(self) -> int:
        return int(self.array.size)

    nelement = numel

    def ndimension(self) -> int:
        return self.array.ndim

    def stride(self, dim: int | None = None) -> Any:
        """The step in memory, in elements, from one index to the next along each dimension
        (a tuple), or along ``dim``."""
        itemsize = self.array.itemsize
        steps = tuple(step // itemsize for step in self.array.strides)
        if dim is None:
            return steps
        if not -len(steps) <= dim < len(steps):
            raise IndexError(
                f"stride: dim {dim} is out of range for a tensor with {len(steps)} dimensions"
            )
        return steps[dim]

    def element_size(self) -> int:
        """The size of one element in bytes."""
        return self.array.itemsize

    def is_floating_point(self) -> bool:
        return dtypes.is_floating(self.array.dtype)

    def numpy(self) -> numpy.ndarray:
        """The data as a NumPy array (shared). As in PyTorch, call ``detach()`` first if the
        tensor requires grad."""
        if self._requires_grad:
            raise RuntimeError(
                "numpy(): this tensor requires grad; use tensor.detach().numpy() to get its data"
            )
        if type(self.array) is not numpy.ndarray:
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                "copy the tensor to host memory first."
            )
        return self.array

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._requires_grad:
            from chainrule.autograd import graph_numpy

            graph_numpy.refuse_detach(self)
        if self.array.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted to a Python number, this one "
                f"has shape {self.shape}"
            )
        return self.array.item()

    def tolist(self) -> Any:
        return self.array.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> numpy.ndarray:
        if self._requires_grad:
            from chainrule.autograd import graph_numpy

            graph_numpy.refuse_detach(self)
        if type(self.array) is not numpy.ndarray and backend.device_type_of(self.array) != "cpu":
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                "copy the tensor to host memory first."
            )
        # NumPy 2 trusts an __array__ that takes ``copy`` to honour copy=True itself.
        return numpy.array(backend.to_numpy(self.array), dtype=dtype, copy=copy)

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"bool(): a tensor with {self.array.size} values is ambiguous; use .any() or .all()"
            )
        return bool(self.array.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "biu":
            raise TypeError(f"only integer tensors can be used as an index, not {self.dtype}")
        return int(self.item())

    def __format__(self, spec: str) -> str:
        if self.array.size == 1 and spec:
            return format(self.item(), spec)
        return format(repr(self), spec)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        array = backend.to_numpy(self.array)
        if array.dtype.itemsize == 2 and dtypes.is_floating(array.dtype):
            # PyTorch prints half floats as floats of full width (NumPy prints float16 with
            # fewer digits, and bfloat16 as if an integer type).
            array = array.astype(numpy.float32)
        body = printing.format_values(array, prefix="tensor(")
        extras = []
        default_dtypes = (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_)
        dtype = self.array.dtype
        if array.size == 0:
            # As PyTorch: an empty tensor shows its size unless 1-d, and any other dtype than
            # the default float (an empty list of ints is not told from one of floats).
            if array.ndim != 1:
                extras.append(f"size={array.shape}")
            if dtype != dtypes.get_default_dtype():
                extras.append(f"dtype=chainrule.{dtype}")
        elif dtype not in default_dtypes:
            extras.append(f"dtype=chainrule.{dtype}")
        if type(self.array) is not numpy.ndarray and backend.device_type_of(self.array) != "cpu":
            extras.insert(0, f"device='{self.device}'")
        if self._ctx is not None:
            extras.append(f"grad_fn={self._ctx!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"


# The operations and the engine are defined in modules that need this class: import them last.
from chainrule import legacy as _legacy  # noqa: E402
from chainrule.autograd import engine as _engine  # noqa: E402
from chainrule.ops import tensor_methods  # noqa: E402

tensor_methods.bind(Tensor)


def _creation() -> Any:
    # creation.py builds on this module, so the new_* methods reach it at call time.
    from chainrule import creation

    return creation
