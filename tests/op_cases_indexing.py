"""Cases of the operation table (tests/op_cases.py): gather, scatter, index_select, masked_fill/select, sort, topk, kthvalue, cumsum, cumprod."""

from __future__ import annotations

from op_cases import A, NOGRAD, ONE, X3, case, normal  # noqa: F401
