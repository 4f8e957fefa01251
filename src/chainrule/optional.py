"""Optional dependencies: imported only when a feature needs them, with a clear message if absent.

chainrule's runtime needs NumPy and tqdm only. scikit-learn, matplotlib, safetensors, SciPy,
mnist1d and the rest are extras; a feature that needs one calls :func:`require` at the moment
of use, so ``import chainrule`` never pays for them and a missing one says how to install it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# module name -> the pip extra of chainrule that installs it
EXTRAS = {
    "scipy": "scipy",
    "sklearn": "sklearn",
    "matplotlib": "plot",
    "safetensors": "safetensors",
    "mnist1d": "mnist1d",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "mpi4py": "mpi",
    "numba": "numba",
}


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (dotted names allowed) or raise ImportError saying what needs it.

    ```pycon
    >>> require("numpy", "arrays").__name__
    'numpy'

    ```
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        extra = EXTRAS.get(top)
        hint = f'pip install "chainrule[{extra}]"' if extra else f"pip install {top}"
        raise ImportError(
            f"{purpose} needs the optional package {top!r}, which is not installed: {hint}"
        ) from error
