"""What a trace keeps of one layer: the common part of every layer family's record.

Each family (dense, recurrent, normalisation, embedding; :mod:`chainrule.inspect.families`)
records its own arrays in a dataclass derived from :class:`Record`. Every record names its
arrays in ``ARRAYS`` and offers the five the trace table shows for any layer: ``a_in`` (what
came in), ``z`` (what went out), ``delta`` (∂C/∂z), ``grad_weight`` and ``grad_bias``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy


class Summary(NamedTuple):
    """Summary statistics of one array."""

    mean: float
    std: float
    min: float
    max: float
    norm: float  # the Euclidean (Frobenius) norm of the whole array


def summarize(array: numpy.ndarray) -> Summary:
    """Mean, standard deviation, minimum, maximum and norm of ``array`` (computed in float64)."""
    values = numpy.asarray(array, dtype=numpy.float64)
    if values.size == 0:
        return Summary(0.0, 0.0, 0.0, 0.0, 0.0)
    return Summary(
        float(values.mean()),
        float(values.std()),
        float(values.min()),
        float(values.max()),
        float(numpy.linalg.norm(values.ravel())),
    )


@dataclass
class Record:
    """One traced layer: its place, its name and its module; the arrays are the family's."""

    # The arrays of the record by attribute name, in the order tables list them, with labels.
    ARRAYS: ClassVar[dict[str, str]] = {}
    # The arrays the HTML page summarises in its statistics table (None: all of ARRAYS).
    SUMMARY: ClassVar[tuple[str, ...] | None] = None

    index: int  # l − 1: the position among the traced layers, in forward order
    name: str  # the module's path in model.named_modules() (with .l{k} for a stacked layer)
    module: str  # repr of the module
    kind: str  # the family's word for the layer: "linear", "lstm", "batchnorm"...

    @property
    def number(self) -> int:
        """l, the layer's number in the equations (1 for the first traced layer)."""
        return self.index + 1

    @property
    def type_name(self) -> str:
        """The module's class name, e.g. ``"LSTM"``."""
        return self.module.split("(")[0]

    def arrays(self) -> dict[str, numpy.ndarray]:
        """The recorded arrays by attribute name (absent ones left out)."""
        found = {name: getattr(self, name, None) for name in self.ARRAYS}
        return {name: array for name, array in found.items() if array is not None}

    def stats(self) -> dict[str, Summary]:
        """Summary statistics of every recorded array."""
        return {name: summarize(array) for name, array in self.arrays().items()}

    @property
    def norms(self) -> dict[str, float]:
        """‖array‖ of every recorded array, by attribute name."""
        return {name: summary.norm for name, summary in self.stats().items()}

    def norm(self, field_name: str) -> float | None:
        """‖array‖ of one array (``"delta"``, ``"grad_weight"``...), None where it is absent."""
        array = getattr(self, field_name, None)
        return None if array is None else summarize(array).norm

    @property
    def activation_text(self) -> str:
        """The table's last column: what follows the layer (dense layers name an activation)."""
        return "-"


@dataclass
class Call:
    """One module call seen by the trace's forward hooks."""

    name: str  # the module's path in model.named_modules()
    module: Any  # the Module
    args: tuple  # its positional arguments
    output: Any  # what it returned
    activation: Call | None = None  # an elementwise activation module applied right after

    @property
    def input(self) -> Any:
        """The first positional argument (the layer's input), None without one."""
        return self.args[0] if self.args else None
