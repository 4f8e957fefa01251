"""Cases of the operation table (tests/op_cases.py): activations and losses added for the PyTorch-programs issue."""

from __future__ import annotations

from op_cases import A, NOGRAD, ONE, X3, case, normal  # noqa: F401
