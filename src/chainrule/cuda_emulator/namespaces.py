"""The emulator's namespaces: CuPy's names, each backed by NumPy's function of that name."""

from __future__ import annotations

import types
from typing import Any

import numpy

from chainrule.cuda_emulator.array import API, ufunc, wrap_function


class Namespace:
    """Looks up ``name`` in NumPy's ``source`` module, offering it only if CuPy has it."""

    def __init__(self, label: str, source: Any, names: dict, special: dict) -> None:
        self.label, self.source, self.names, self.special = label, source, names, special

    def lookup(self, name: str) -> Any:
        if name in self.special:
            return self.special[name]
        entry = self.names.get(name)
        if entry is None or not hasattr(self.source, name):
            raise AttributeError(
                f"module {self.label!r} has no attribute {name!r} (chainrule's CuPy emulator "
                f"offers CuPy {API['version']}'s names that NumPy also has)"
            )
        value = getattr(self.source, name)
        if isinstance(value, numpy.ufunc):
            return ufunc(name, value, entry.get("methods", []))
        if callable(value) and not isinstance(value, type) and entry["kind"] != "type":
            return wrap_function(name, value, entry.get("parameters"))
        return value


def _module(label: str, source: Any, names: dict) -> types.ModuleType:
    module = types.ModuleType(label)
    namespace = Namespace(label, source, names, {})
    module.__getattr__ = namespace.lookup  # type: ignore[method-assign]
    return module


linalg = _module("cupy.linalg", numpy.linalg, API["linalg"])
lib = types.ModuleType("cupy.lib")
lib.stride_tricks = _module(  # type: ignore[attr-defined]
    "cupy.lib.stride_tricks", numpy.lib.stride_tricks, API["lib.stride_tricks"]
)


class _Stream:
    def synchronize(self) -> None:
        """Nothing to wait for: the emulator computes synchronously."""


class _DeviceContext:
    """``cupy.cuda.Device(i)``: only device 0 exists in the emulator."""

    def __init__(self, device: int = 0) -> None:
        if int(device) != 0:
            raise RuntimeError(f"cudaErrorInvalidDevice: device {device} (the emulator has one)")
        self.id = 0

    def use(self) -> None:
        """Make it current (it always is)."""

    def synchronize(self) -> None:
        """Nothing to wait for."""

    def __enter__(self) -> _DeviceContext:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


cuda = types.ModuleType("cupy.cuda")
cuda.Device = _DeviceContext  # type: ignore[attr-defined]
cuda.Stream = types.SimpleNamespace(null=_Stream())  # type: ignore[attr-defined]
cuda.runtime = types.SimpleNamespace(  # type: ignore[attr-defined]
    getDeviceCount=lambda: 1,
    getDeviceProperties=lambda index: {"name": b"chainrule CuPy emulator (CPU)"},
)
