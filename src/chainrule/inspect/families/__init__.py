"""The registry of layer families the tracer records and the explainer writes out.

Each family module defines one :class:`~chainrule.inspect.families.base.Family`; the tracer asks
:func:`family_of` for a module's family and the explainer :func:`family_of_record` for a
record's. Adding a kind of layer means adding one module and one line to ``FAMILIES``.
"""

from __future__ import annotations

from typing import Any

from chainrule.inspect.families import dense, embedding, normalization, recurrent
from chainrule.inspect.families.base import Context, Family
from chainrule.inspect.records import Record

FAMILIES: tuple[Family, ...] = (
    dense.FAMILY,
    recurrent.SEQUENCES,
    recurrent.CELLS,
    normalization.FAMILY,
    embedding.FAMILY,
)


def family_of(module: Any) -> Family | None:
    """The family that records ``module``, None for a module no family knows."""
    for family in FAMILIES:
        if isinstance(module, family.modules):
            return family
    return None


def family_of_record(record: Record) -> Family:
    """The family that made ``record``."""
    for family in FAMILIES:
        if isinstance(record, family.record_type):
            return family
    raise TypeError(f"no layer family records {type(record).__name__}")


def known_layers() -> str:
    """The class names of every module some family records, for messages."""
    return ", ".join(cls.__name__ for family in FAMILIES for cls in family.modules)


__all__ = ["FAMILIES", "Context", "Family", "family_of", "family_of_record", "known_layers"]
