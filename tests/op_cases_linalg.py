"""Cases of the operation table (tests/op_cases.py): einsum, bmm, baddbmm, addmm, outer, diag, tril/triu, norm."""

from __future__ import annotations

from op_cases import A, NOGRAD, ONE, X3, case, normal  # noqa: F401
