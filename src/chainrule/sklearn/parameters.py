"""Checks of the estimators' constructor parameters, run at the start of ``fit``.

scikit-learn's convention: ``__init__`` stores the parameters untouched and ``fit`` checks
them, so that ``set_params`` and ``clone`` never fail. A bad value raises
:class:`InvalidParameterError`, a ValueError and a TypeError at once, as scikit-learn's
error of the same name is, naming the estimator, the parameter, what it must be and the value.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy

from chainrule import devices


class InvalidParameterError(ValueError, TypeError):
    """A constructor parameter has a value of the wrong type or outside its range."""


@dataclass(frozen=True)
class Constraint:
    """What a parameter must be, in words and as a test."""

    description: str
    accepts: Callable[[Any], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, numpy.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, numpy.bool_))


def one_of(*options: str) -> Constraint:
    return Constraint(
        f"one of {', '.join(map(repr, options))}",
        lambda value: isinstance(value, str) and value in options,
    )


def boolean() -> Constraint:
    return Constraint("a bool", lambda value: isinstance(value, (bool, numpy.bool_)))


def integer(low: int) -> Constraint:
    return Constraint(f"an int >= {low}", lambda value: _is_int(value) and value >= low)


def real(
    low: float, high: float = numpy.inf, *, low_open: bool = False, high_open=True
) -> Constraint:
    left, right = ("(" if low_open else "["), (")" if high_open else "]")

    def accepts(value: Any) -> bool:
        if not _is_real(value) or numpy.isnan(value):
            return False
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        return bool(above and below)

    return Constraint(f"a real number in {left}{low}, {high}{right}", accepts)


def either(*constraints: Constraint) -> Constraint:
    return Constraint(
        " or ".join(c.description for c in constraints),
        lambda value: any(c.accepts(value) for c in constraints),
    )


def verbosity() -> Constraint:
    return Constraint(
        "a bool or an int", lambda value: isinstance(value, (bool, numpy.bool_)) or _is_int(value)
    )


def layer_sizes() -> Constraint:
    def accepts(value: Any) -> bool:
        if _is_int(value):
            return value >= 1
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            return False
        return all(_is_int(size) and size >= 1 for size in value)

    return Constraint("an int >= 1 or a sequence of ints >= 1", accepts)


def random_state() -> Constraint:
    return Constraint(
        "None, an int or a numpy.random.RandomState",
        lambda value: (
            value is None or _is_int(value) or isinstance(value, numpy.random.RandomState)
        ),
    )


def device() -> Constraint:
    """'cpu' or 'cuda' ('cuda:0'), as a string or a ``chainrule.device``: where the network
    computes. Whether "cuda" is usable (CuPy and a GPU) is checked when it is used."""

    def accepts(value: Any) -> bool:
        if not isinstance(value, (str, devices.device)):
            return False
        try:
            wanted = devices.device(value)
        except (RuntimeError, TypeError):  # not a device name: 'bogus', 'cuda:x'
            return False
        return wanted.type in ("cpu", "cuda")

    return Constraint("'cpu' or 'cuda' (a str or a chainrule.device)", accepts)


def check_parameters(estimator: Any, constraints: dict[str, Constraint]) -> None:
    """Raise InvalidParameterError for the first parameter of ``estimator`` that breaks its
    constraint."""
    for name, constraint in constraints.items():
        value = getattr(estimator, name)
        if not constraint.accepts(value):
            raise InvalidParameterError(
                f"{type(estimator).__name__}: the {name!r} parameter must be "
                f"{constraint.description}, got {value!r}"
            )
