"""Module: the base class of every layer and network.

A module holds state (parameters, buffers, submodules) and a ``forward`` that computes with it;
the math itself lives in :mod:`chainrule.nn.functional`. Assigning a :class:`Parameter`, a
module or (through :meth:`Module.register_buffer`) a buffer to an attribute registers it, which
gives ``parameters()`` and dotted ``state_dict`` names such as ``"0.weight"``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from chainrule import backend, devices, dtypes
from chainrule.autograd import module_hooks
from chainrule.autograd.grad_mode import no_grad
from chainrule.autograd.hooks import RemovableHandle
from chainrule.autograd.module_hooks import ModuleHooks
from chainrule.fp_errors import SILENT as SILENT_FP
from chainrule.fp_errors import restore as restore_fp
from chainrule.fp_errors import silence as silence_fp
from chainrule.fp_errors import state as fp_state
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


class Module:
    """Base class of layers and networks; subclasses define ``forward``.

    ```pycon
    >>> class TwoLayer(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = Linear(2, 4)
    ...         self.out = Linear(4, 1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).sigmoid())

    ```
    """

    training: bool
    # None, or the ModuleHooks of a module with hooks: __call__ pays one test for the others.
    _call_hooks: ModuleHooks | None = None

    def __init__(self) -> None:
        # Registered things are kept in these dicts *and* in the instance dict, so that reading
        # self.weight is a plain attribute lookup on the hot path.
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if fp_state() is SILENT_FP:  # called by a module: the outermost call has silenced
            if self._call_hooks is None:
                return self.forward(*args, **kwargs)
            return self._call_hooks.call(self, args, kwargs)
        # The outermost call silences NumPy's floating-point warnings, as PyTorch computes 1/0
        # and log 0 without a word, and gives the user's error state back on the way out.
        # fp_errors.enter() inlined: this runs on every call of every layer.
        token = silence_fp()
        try:
            if self._call_hooks is None:
                return self.forward(*args, **kwargs)
            return self._call_hooks.call(self, args, kwargs)
        finally:
            restore_fp(token)

    # ---- hooks (PyTorch's signatures; each returns a handle whose remove() unregisters) -------

    def register_forward_pre_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, args)`` before each ``forward``; a returned value (a tuple, or
        one value that is wrapped in a tuple) replaces the positional arguments. With
        ``with_kwargs``: ``hook(module, args, kwargs)`` returning None or ``(args, kwargs)``."""
        return module_hooks.register(self, "forward_pre", hook, prepend, with_kwargs)

    def register_forward_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each ``forward``; a returned value
        replaces the output. With ``with_kwargs``: ``hook(module, args, kwargs, output)``."""
        return module_hooks.register(self, "forward", hook, prepend, with_kwargs)

    def register_full_backward_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when backward has computed the
        gradients with respect to this call's inputs.

        ``grad_input`` has one entry per positional argument: ∂C/∂input for a tensor (zeros if
        none reached it), None for anything else, or all None when no input requires grad
        (then the hook runs as soon as ``grad_output`` is known). ``grad_output`` has one entry
        per output tensor (None where no gradient reached it). A returned tuple replaces
        ``grad_input`` in the rest of the backward pass. A module called twice runs it twice.
        """
        return module_hooks.register(self, "backward", hook, prepend, False)

    def register_full_backward_pre_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` when backward has computed the gradients with
        respect to this call's outputs, before they flow into the module; a returned tuple
        replaces ``grad_output``."""
        return module_hooks.register(self, "backward_pre", hook, prepend, False)

    # ---- registration ------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        # A new value for a registered name keeps the name's kind and its place in the order
        # (as in PyTorch: replacing a layer does not move it to the end of the state_dict).
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            if name not in params:
                self._forget(name)
            params[name] = value
        elif name in params:
            self._check_assignment(name, value, (), "a Parameter")
            params[name] = None
        elif isinstance(value, Module):
            if name not in modules:
                self._forget(name)
            modules[name] = value
        elif name in modules:
            self._check_assignment(name, value, (), "a Module")
            modules[name] = None
        elif name in buffers:
            self._check_assignment(name, value, Tensor, "a Tensor")
            buffers[name] = value
        object.__setattr__(self, name, value)

    def _check_assignment(self, name: str, value: Any, allowed: Any, expected: str) -> None:
        if value is not None and not isinstance(value, allowed):
            raise TypeError(
                f"{type(self).__name__}: cannot assign {type(value).__name__} to {name!r} "
                f"({expected} or None is expected)"
            )

    def __delattr__(self, name: str) -> None:
        self._forget(name)
        object.__delattr__(self, name)

    def _forget(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self._non_persistent.discard(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None, a declared but absent parameter such as a bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"{type(self).__name__}.register_parameter: {name!r} must be a Parameter or "
                f"None, got {type(param).__name__}"
            )
        self._forget(name)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register state that is saved with the model but not trained (e.g. running means)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"{type(self).__name__}.register_buffer: {name!r} must be a Tensor or None, got "
                f"{type(tensor).__name__}"
            )
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a submodule under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self._forget(name)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    # ---- traversal ---------------------------------------------------------------------------

    def named_modules(
        self, prefix: str = "", memo: set | None = None
    ) -> Iterator[tuple[str, Module]]:
        """This module and every submodule below it, each once, with dotted names."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules, each once (a module registered under two names: the first)."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(
        self, registry: str, prefix: str, recurse: bool
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Every parameter (each once, even if shared) with its dotted name."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # ---- state ---------------------------------------------------------------------------------

    def state_dict(self, prefix: str = "") -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name, as tensors sharing memory.

        Shared state appears under every name it has (as in PyTorch), so a model with tied
        layers saves and loads the same keys as its PyTorch twin.
        """
        state: OrderedDict[str, Tensor] = OrderedDict()
        self._save_to(state, prefix)
        return state

    def _save_to(self, state: OrderedDict[str, Tensor], prefix: str) -> None:
        dot = f"{prefix}." if prefix else ""
        for name, param in self._parameters.items():
            if param is not None:
                state[dot + name] = param.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent:
                state[dot + name] = buffer.detach()
        for name, module in self._modules.items():
            if module is not None:
                module._save_to(state, dot + name)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> Any:
        """Copy values (tensors or arrays) into this module's parameters and buffers in place.

        With ``strict``, a missing or unexpected key is an error naming the keys; a value of
        the wrong shape is always an error naming the key and both shapes. Returns the missing
        and unexpected keys.
        """
        own = self.state_dict()
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict for {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        with no_grad():
            for key, target in own.items():
                if key not in state_dict:
                    continue
                value = state_dict[key]
                array = value.array if isinstance(value, Tensor) else backend.as_array(value)
                if tuple(array.shape) != target.shape:
                    raise ValueError(
                        f"load_state_dict for {type(self).__name__}: {key!r} has shape "
                        f"{tuple(array.shape)} in the state dict but {target.shape} in the model"
                    )
                if type(array) is not type(target.array):  # another device: copied over
                    array = backend.transfer(array, backend.module_of(target.array))
                target.array[...] = array
        return _LoadResult(missing, unexpected)

    # ---- modes and conversions -------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch norm uses batch statistics) recursively."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Set evaluation mode recursively."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (to None, or to zeros in place)."""
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad.zero_()

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and on this module."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move the parameters and buffers (and gradients) to a device, and convert the
        floating ones to a dtype, in place, with ``Tensor.to``'s arguments: ``to(dtype)``,
        ``to(device)``, ``to(device, dtype)``, ``to(tensor)``. Returns the module.

        The parameters stay the same objects (an optimiser made before still holds them).
        """
        from chainrule.ops.conversion import parse_to_device

        dtype, _, device = parse_to_device(args, kwargs, "Module.to")
        if dtype is not None and not dtypes.is_floating(dtype):
            raise TypeError(
                f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}"
            )
        if device is not None:
            self._move(devices.module_for(device, "Module.to"))
        if dtype is not None:
            self._cast(dtype)
        return self

    def _place(self, device: Any) -> None:
        """Move the state that ``__init__`` made on the CPU (where the seeded draws happen) to
        ``device``, or to the default device when it is None: PyTorch's ``device=`` argument
        of a layer, and ``set_default_device``."""
        wanted = devices.check(device, type(self).__name__)
        if wanted.type != "cpu":
            self._move(devices.module_for(wanted, type(self).__name__))

    def _move(self, module: Any) -> None:
        """Every parameter, gradient and buffer copied into ``module``'s memory, in place."""
        for param in self.parameters():
            param.array = backend.transfer(param.array, module)
            if param.grad is not None:
                param.grad.array = backend.transfer(param.grad.array, module)
        for owner in self.modules():
            for buffer in owner._buffers.values():
                if buffer is not None:
                    buffer.array = backend.transfer(buffer.array, module)

    def _cast(self, dtype: Any) -> None:
        for param in self.parameters():
            if param.is_floating_point():
                param.array = param.array.astype(dtype)
                if param.grad is not None:
                    param.grad = param.grad.to(dtype)
        for module in self.modules():
            for buffer in module._buffers.values():
                if buffer is not None and buffer.is_floating_point():
                    buffer.array = buffer.array.astype(dtype)

    def cpu(self) -> Module:
        """Move the parameters and buffers to the CPU, in place; returns the module."""
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        """Move the parameters and buffers to the CUDA GPU (through CuPy), in place; returns
        the module. Without CuPy, an error that says how to install it."""
        return self.to(devices.check(devices.cuda_device(device), "Module.cuda"))

    def float(self) -> Module:
        """Floating parameters and buffers to float32, in place."""
        self._cast(dtypes.float32)
        return self

    def double(self) -> Module:
        """Floating parameters and buffers to float64, in place."""
        self._cast(dtypes.float64)
        return self

    def half(self) -> Module:
        """Floating parameters and buffers to float16, in place."""
        self._cast(dtypes.float16)
        return self

    def bfloat16(self) -> Module:
        """Floating parameters and buffers to bfloat16 (needs ``ml_dtypes``), in place."""
        self._cast(dtypes.bfloat16_dtype())
        return self

    # ---- printing ----------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The layer's own settings, shown inside its repr (e.g. ``in_features=2``)."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + _indent(repr(module)) for name, module in self.named_children()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"


class _LoadResult(tuple):
    """``(missing_keys, unexpected_keys)``, also readable by those names as in PyTorch."""

    def __new__(cls, missing: list[str], unexpected: list[str]) -> _LoadResult:
        return super().__new__(cls, (missing, unexpected))

    @property
    def missing_keys(self) -> list[str]:
        return self[0]

    @property
    def unexpected_keys(self) -> list[str]:
        return self[1]


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")
