"""The top-level facts about tensors against PyTorch: is_tensor, is_floating_point,
is_nonzero, numel; strides, contiguity and memory formats; type promotion (result_type,
promote_types, can_cast); and the print options that shape a tensor's repr."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

# ---- predicates and counts ---------------------------------------------------------------------


def test_predicates_and_counts() -> None:
    assert cr.is_tensor(cr.ones(1)) and cr.is_tensor(cr.nn.Parameter(cr.ones(1)))
    assert not cr.is_tensor([1.0]) and not cr.is_tensor(np.ones(1))
    assert cr.is_floating_point(cr.ones(1)) and not cr.is_floating_point(cr.tensor([1]))
    with pytest.raises(TypeError):
        cr.is_floating_point(1.0)
    assert cr.is_nonzero(cr.tensor([[0.5]])) and not cr.tensor(0).is_nonzero()
    for data in ([1, 2], []):
        with pytest.raises(RuntimeError, match="ambiguous"):
            cr.is_nonzero(cr.tensor(data))
        with pytest.raises(RuntimeError, match="ambiguous"):
            torch.is_nonzero(torch.tensor(data))
    assert cr.numel(cr.ones(2, 3)) == 6 == cr.ones(2, 3).nelement()
    with pytest.raises(TypeError):
        cr.numel([1])
    assert cr.ones(2, 3).ndimension() == 2
    assert cr.all(cr.tensor([True, True])).item() and not cr.any(cr.tensor([0, 0])).item()
    assert cr.ones(2).type_as(cr.tensor([1])).dtype == cr.int64


LAYOUTS: dict[str, Callable[[Any], Any]] = {
    "plain": lambda m: m.ones(2, 3, 4),
    "transposed": lambda m: m.ones(2, 3, 4).transpose(0, 2),
    "sliced": lambda m: m.ones(2, 3, 4)[:, ::2],
    "expanded": lambda m: m.ones(3, 1).expand(3, 4),
    "0d": lambda m: m.tensor(1.0),
    "column_t": lambda m: m.ones(3, 1).t(),
    "channels_last": lambda m: m.ones(2, 3, 4, 5).clone(memory_format=m.channels_last),
    "channels_last_3d": lambda m: m.ones(1, 2, 2, 3, 2).clone(memory_format=m.channels_last_3d),
    "channels_last_recontiguous": lambda m: (
        m.ones(2, 3, 4, 5).clone(memory_format=m.channels_last).contiguous()
    ),
    "preserve": lambda m: m.ones(2, 3, 4).transpose(0, 1).clone(),
    "contiguous_format": lambda m: m.ones(2, 3).t().clone(memory_format=m.contiguous_format),
    "int16": lambda m: m.ones(2, 3, dtype=m.int16),
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_strides_and_contiguity_match_torch(name: str) -> None:
    x, t = LAYOUTS[name](cr), LAYOUTS[name](torch)
    assert x.stride() == t.stride()
    assert all(x.stride(d) == t.stride(d) for d in range(-x.ndim, x.ndim))
    assert x.is_contiguous() == t.is_contiguous()
    if x.ndim == 4:
        channels = x.is_contiguous(memory_format=cr.channels_last)
        assert channels == t.is_contiguous(memory_format=torch.channels_last)
    assert x.element_size() == t.element_size()


def test_memory_format_errors() -> None:
    with pytest.raises(ValueError, match="rank 4"):
        cr.ones(2, 3).clone(memory_format=cr.channels_last)
    with pytest.raises(RuntimeError):
        torch.ones(2, 3).clone(memory_format=torch.channels_last)
    with pytest.raises(IndexError):
        cr.ones(2, 3).stride(2)
    y = cr.ones(2, 3, 4, 5).clone(memory_format=cr.channels_last)
    assert y.contiguous(memory_format=cr.channels_last) is y


DTYPE_NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def test_promote_types_and_can_cast_match_torch_on_every_pair() -> None:
    for a in DTYPE_NAMES:
        for b in DTYPE_NAMES:
            ta, tb = getattr(torch, a), getattr(torch, b)
            want = str(torch.promote_types(ta, tb)).removeprefix("torch.")
            assert cr.promote_types(getattr(cr, a), getattr(cr, b)).name == want, (a, b)
            assert cr.can_cast(getattr(cr, a), getattr(cr, b)) == torch.can_cast(ta, tb), (a, b)


RESULT_TYPES = [
    (lambda m: m.tensor([1, 2]), lambda m: 1.0),
    (lambda m: m.tensor([1, 2], dtype=m.int8), lambda m: m.tensor(1000)),
    (lambda m: m.tensor(1.0), lambda m: m.tensor([1], dtype=m.float16)),
    (lambda m: m.tensor([True]), lambda m: 2),
    (lambda m: 2, lambda m: 3.0),
    (lambda m: m.tensor([1], dtype=m.int32), lambda m: m.tensor([1], dtype=m.uint8)),
]


@pytest.mark.parametrize(("left", "right"), RESULT_TYPES)
def test_result_type_matches_torch(left: Callable, right: Callable) -> None:
    got = cr.result_type(left(cr), right(cr))
    assert got.name == str(torch.result_type(left(torch), right(torch))).removeprefix("torch.")


def test_print_options_change_the_repr_as_in_torch() -> None:
    try:
        cr.set_printoptions(precision=2)
        torch.set_printoptions(precision=2)
        assert repr(cr.tensor([1.12345])) == repr(torch.tensor([1.12345])) == "tensor([1.12])"
        cr.set_printoptions(sci_mode=True)
        torch.set_printoptions(sci_mode=True)
        assert repr(cr.tensor([1.5, 2.25])) == repr(torch.tensor([1.5, 2.25]))
        cr.set_printoptions(threshold=5, edgeitems=2)
        text = repr(cr.arange(10))
        assert "..." in text and text.count(",") == 4  # 0, 1, ..., 8, 9
        assert cr.get_printoptions()["threshold"] == 5
        assert cr.get_printoptions()["sci_mode"] is None  # not given: back to automatic
        cr.set_printoptions(profile="full")
        assert "..." not in repr(cr.arange(2000))
        cr.set_printoptions(linewidth=20)
        assert max(len(line) for line in repr(cr.arange(30)).splitlines()) <= 20
        with pytest.raises(ValueError, match="profile"):
            cr.set_printoptions(profile="long")
    finally:
        cr.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
    assert cr.get_printoptions() == torch._tensor_str.get_printoptions()
    assert repr(cr.tensor([1.0, 2.5])) == "tensor([1.0, 2.5])"
