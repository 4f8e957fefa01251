"""Write the names (and keyword parameters) of CuPy's public API to a JSON file.

chainrule's CuPy emulator (``chainrule/cuda_emulator``) offers only what CuPy offers, so that
code which passes the tests on the emulator does not meet a missing name on a real GPU. Run
this in an environment with CuPy installed (no GPU is needed) to refresh the list::

    python scripts/extract_cupy_api.py src/chainrule/cuda_emulator/cupy_api.json
"""

from __future__ import annotations

import inspect
import json
import sys
import types


def _parameters(function: object) -> list[str] | None:
    """The parameter names of ``function``, or None where Python cannot tell (C functions)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None  # takes any keyword
    return [name for name in signature.parameters if name != "self"]


def _namespace(module: types.ModuleType) -> dict:
    names = {}
    for name in dir(module):
        if name.startswith("_"):
            continue
        value = getattr(module, name)
        if isinstance(value, types.ModuleType):
            continue
        entry: dict = {"kind": type(value).__name__}
        if callable(value) and not isinstance(value, type):
            entry["parameters"] = _parameters(value)
            methods = [m for m in ("at", "reduce", "accumulate", "outer", "reduceat")]
            if type(value).__name__ == "ufunc":
                entry["methods"] = [m for m in methods if hasattr(value, m)]
        names[name] = entry
    return names


def main(path: str) -> None:
    import cupy
    import cupy.lib.stride_tricks
    import cupy.linalg

    api = {
        "version": cupy.__version__,
        "cupy": _namespace(cupy),
        "linalg": _namespace(cupy.linalg),
        "lib.stride_tricks": _namespace(cupy.lib.stride_tricks),
        "ndarray": sorted(
            n
            for n in dir(cupy.ndarray)
            if not n.startswith("__")
            or n
            in ("__array_ufunc__", "__array_function__", "__dlpack__", "__cuda_array_interface__")
        ),
    }
    with open(path, "w") as file:
        json.dump(api, file, indent=0, sort_keys=True)
        file.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
