"""Cases of the operation table (tests/op_cases.py): repeat, repeat_interleave, tile, roll, flip."""

from __future__ import annotations

from op_cases import A, NOGRAD, ONE, X3, case, normal  # noqa: F401
