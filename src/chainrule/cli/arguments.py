"""argparse value types shared by the subcommands: finite numbers with a lower bound."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any


def number(kind: type, minimum: float, strict: bool) -> Callable[[str], Any]:
    """An argparse type: a finite ``kind`` (int or float) above (or from) ``minimum``."""
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            bound = f"above {minimum}" if strict else f"of at least {minimum}"
            raise argparse.ArgumentTypeError(f"expected a finite number {bound}, got {text}")
        return value

    return parse


positive_int = number(int, 1, strict=False)
positive_float = number(float, 0.0, strict=True)
non_negative_int = number(int, 0, strict=False)
