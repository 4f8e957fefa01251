"""How tensors print: PyTorch's ``set_printoptions`` and ``get_printoptions``.

The options are PyTorch's, with its defaults and profiles: ``precision`` (digits after the
point), ``threshold`` (more elements than this are summarised with "..."), ``edgeitems`` (the
elements kept at each end of a summarised dimension), ``linewidth`` (characters per line before
a row wraps) and ``sci_mode`` (True: always scientific notation; False: never; None: chosen by
the values). :meth:`Tensor.__repr__ <chainrule.Tensor.__repr__>` reads them through
:func:`format_values`.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from typing import Any

import numpy

from chainrule import dtypes


@dataclass
class PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


_PROFILES = {
    "default": PrintOptions(),
    "short": PrintOptions(precision=2, edgeitems=2),
    "full": PrintOptions(threshold=math.inf),
}

OPTIONS = PrintOptions()


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set how tensors print, as PyTorch's options do. ``profile`` ("default", "short" or
    "full") sets precision, threshold, edgeitems and linewidth first; the options given then
    override it. ``sci_mode`` is always set: leaving it out returns it to automatic.

    ```pycon
    >>> import chainrule as cr
    >>> cr.set_printoptions(precision=2)
    >>> cr.tensor([1.12345])
    tensor([1.12])
    >>> cr.set_printoptions(profile="default")

    ```
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(
                f"set_printoptions: profile must be one of {sorted(_PROFILES)}, got {profile!r}"
            )
        chosen = _PROFILES[profile]
        OPTIONS.precision, OPTIONS.threshold = chosen.precision, chosen.threshold
        OPTIONS.edgeitems, OPTIONS.linewidth = chosen.edgeitems, chosen.linewidth
    if precision is not None:
        OPTIONS.precision = precision
    if threshold is not None:
        OPTIONS.threshold = threshold
    if edgeitems is not None:
        OPTIONS.edgeitems = edgeitems
    if linewidth is not None:
        OPTIONS.linewidth = linewidth
    OPTIONS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """The current options, as keyword arguments for :func:`set_printoptions`.

    ```pycon
    >>> import chainrule as cr
    >>> cr.get_printoptions()["precision"]
    4

    ```
    """
    return asdict(OPTIONS)


def format_values(array: numpy.ndarray, prefix: str) -> str:
    """The values of ``array`` as the body of a tensor's repr, under the current options;
    continuation lines are indented by the width of ``prefix`` ("tensor(")."""
    floating = dtypes.is_floating(array.dtype)
    threshold = OPTIONS.threshold
    options: dict[str, Any] = {
        "separator": ", ",
        "prefix": prefix,
        "precision": OPTIONS.precision,
        "floatmode": "maxprec_equal" if floating else "maxprec",
        "threshold": sys.maxsize if threshold == math.inf else int(threshold),
        "edgeitems": OPTIONS.edgeitems,
        "max_line_width": OPTIONS.linewidth,
    }
    if floating and OPTIONS.sci_mode:
        digits = OPTIONS.precision
        options["formatter"] = {"float_kind": lambda value: f"{value:.{digits}e}"}
    elif floating and OPTIONS.sci_mode is False:
        options["suppress_small"] = True
    return numpy.array2string(array, **options)
