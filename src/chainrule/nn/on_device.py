"""Array code written against ``backend.xp``, run outside an operation on the data's device.

Inside ``Function.apply`` the array module follows the inputs (NumPy, or CuPy for GPU data).
The bookkeeping of layers runs outside it (batch statistics for the running averages, the
positions of max pooling's maxima), where ``backend.xp`` is NumPy: :func:`computed_on` runs
such a helper with the array module of the data it works on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy

from chainrule import backend

T = TypeVar("T")


def computed_on(array: Any, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` with ``backend.xp`` the array module of ``array`` while it runs
    (a direct call for a NumPy array).

    ```pycon
    >>> import numpy
    >>> from chainrule import backend
    >>> computed_on(numpy.ones(2), lambda: backend.xp.__name__)
    'numpy'

    ```
    """
    if type(array) is numpy.ndarray:
        return fn(*args, **kwargs)
    previous = backend.use(backend.module_of(array))
    try:
        return fn(*args, **kwargs)
    finally:
        backend.restore(previous)
